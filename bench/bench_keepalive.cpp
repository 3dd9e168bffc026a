// bench_keepalive: replays a synthetic, bursty multi-function day on a virtual clock through the
// scheduler's KeepAlivePolicy (the same code the daemon runs) and reports, per policy, the
// cold-start rate and the memory-time idle environments cost: the fixed 10-minute keep-alive, the
// adaptive hybrid-histogram policy, and the fixed policy at the adaptive one's memory-time.
//
// The trace (seeded, so every run replays the same day): 60 functions over 24 h —
//   timers:  every 1, 2, 5, 15, 30 or 60 minutes, a few seconds of jitter;
//   bursty:  bursts arriving ~hourly (exponential), each 5-40 calls seconds apart;
//   rare:    exponential gaps with a 3-hour mean.
// Each call runs 200 ms in one environment per function (128 MB); an environment lives from its
// cold start until keep-alive after its last call ends.
#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "scheduler/keep_alive.h"

using lamina::scheduler::KeepAliveOptions;
using lamina::scheduler::KeepAlivePolicy;
using ms = std::chrono::milliseconds;

namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;
constexpr int64_t kRunMs = 200;
constexpr double kMemoryGb = 0.125;

struct Function {
  std::string name;
  std::vector<int64_t> calls;  // arrival times, ms
};

std::vector<Function> makeTrace() {
  std::mt19937_64 rng(20201);
  std::vector<Function> fns;
  const int periodsMin[] = {1, 2, 5, 15, 30, 60};
  for (int i = 0; i < 24; ++i) {
    Function f{"timer-" + std::to_string(i), {}};
    int64_t period = int64_t(periodsMin[i % 6]) * 60000;
    std::uniform_int_distribution<int64_t> jitter(0, 3000);
    for (int64_t t = jitter(rng); t < kDayMs; t += period) f.calls.push_back(t + jitter(rng));
    fns.push_back(std::move(f));
  }
  for (int i = 0; i < 24; ++i) {
    Function f{"bursty-" + std::to_string(i), {}};
    std::exponential_distribution<double> between(1.0 / (3600.0 * 1000 * (0.5 + i % 4 * 0.5)));
    std::uniform_int_distribution<int> size(5, 40);
    std::uniform_int_distribution<int64_t> spacing(500, 8000);
    for (double t = between(rng); t < kDayMs; t += between(rng)) {
      int64_t at = int64_t(t);
      for (int k = size(rng); k > 0 && at < kDayMs; --k, at += spacing(rng)) f.calls.push_back(at);
    }
    fns.push_back(std::move(f));
  }
  for (int i = 0; i < 12; ++i) {
    Function f{"rare-" + std::to_string(i), {}};
    std::exponential_distribution<double> gap(1.0 / (3.0 * 3600 * 1000));
    for (double t = gap(rng); t < kDayMs; t += gap(rng)) f.calls.push_back(int64_t(t));
    fns.push_back(std::move(f));
  }
  for (auto& f : fns) std::sort(f.calls.begin(), f.calls.end());
  return fns;
}

struct Outcome {
  int64_t calls = 0, cold = 0;
  double gbSeconds = 0;  // memory-time of environments alive (busy or idle)
};

Outcome replay(const std::vector<Function>& fns, KeepAliveOptions options) {
  KeepAlivePolicy policy(options);
  Outcome out;
  auto gb = [&](int64_t from, int64_t to) {
    from = std::min(from, kDayMs), to = std::min(to, kDayMs);
    if (to > from) out.gbSeconds += double(to - from) / 1000 * kMemoryGb;
  };
  for (const auto& f : fns) {
    // After each call: the environment is warm over [warmFrom, warmTo] (right after the call, or
    // after a pre-warm), unloaded outside it.
    int64_t busyUntil = -1, warmFrom = -1, warmTo = -1;
    for (int64_t t : f.calls) {
      policy.arrived(f.name, ms(t));
      ++out.calls;
      if (t < busyUntil) {  // still running the previous call: it queues behind (one environment)
        busyUntil += kRunMs;
        gb(busyUntil - kRunMs, busyUntil);
      } else {
        if (warmFrom >= 0 && t >= warmFrom && t <= warmTo) {
          gb(warmFrom, t);  // idle until this call
        } else {
          ++out.cold;
          if (warmFrom >= 0 && t > warmTo) gb(warmFrom, warmTo);  // a whole window spent idle
        }
        busyUntil = t + kRunMs;
        gb(t, busyUntil);
      }
      auto w = policy.windows(f.name);
      warmFrom = busyUntil + w.prewarm.count();
      warmTo = warmFrom + w.keepAlive.count();
    }
    if (warmFrom >= 0) gb(warmFrom, warmTo);
  }
  return out;
}

KeepAliveOptions fixedFor(ms keepAlive) { return KeepAliveOptions{false, keepAlive}; }

}  // namespace

int main() {
  auto fns = makeTrace();
  Outcome fixed10 = replay(fns, fixedFor(std::chrono::minutes(10)));
  KeepAliveOptions adaptiveOptions{true, std::chrono::minutes(10), std::chrono::minutes(1), std::chrono::hours(4)};
  Outcome adaptive = replay(fns, adaptiveOptions);
  // The fixed keep-alive that spends the adaptive policy's memory-time (binary search).
  int64_t lo = 0, hi = 4LL * 3600 * 1000;
  for (int i = 0; i < 40; ++i) {
    int64_t mid = (lo + hi) / 2;
    (replay(fns, fixedFor(ms(mid))).gbSeconds < adaptive.gbSeconds ? lo : hi) = mid;
  }
  Outcome equal = replay(fns, fixedFor(ms(lo)));
  auto rate = [](const Outcome& o) { return 100.0 * double(o.cold) / double(std::max<int64_t>(1, o.calls)); };
  std::printf(
      "\n| keep-alive policy (60 functions, 24 h synthetic trace, %lld calls) | cold starts | memory-time | "
      "ratio of cold starts to fixed 10 min |\n|---|---|---|---|\n",
      static_cast<long long>(fixed10.calls));
  std::printf("| fixed 10 min (baseline) | %.2f %% | %.0f GB-s | 1.00 |\n", rate(fixed10), fixed10.gbSeconds);
  std::printf("| adaptive (hybrid histogram) | %.2f %% | %.0f GB-s (%.2fx) | %.2fx |\n", rate(adaptive),
              adaptive.gbSeconds, adaptive.gbSeconds / fixed10.gbSeconds, rate(adaptive) / rate(fixed10));
  std::printf("| fixed %.1f min (the adaptive policy's memory-time) | %.2f %% | %.0f GB-s | %.2fx |\n",
              double(lo) / 60000, rate(equal), equal.gbSeconds, rate(equal) / rate(fixed10));
  return 0;
}
