#include "runtime/zygotes.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cstdio>

namespace lamina::runtime {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct ZygotePool::State {
  State(asio::thread_pool& b, sandbox::Sandbox& s, RuntimeCatalog& c) : blocking(b), sandbox(s), catalog(c) {}
  asio::thread_pool& blocking;
  sandbox::Sandbox& sandbox;
  RuntimeCatalog& catalog;

  struct Entry {
    std::shared_ptr<const Ready> ready;
    bool starting = false;
    bool failedBefore = false;
    Clock::time_point retryAfter{};
  };
  mutable std::mutex mu;
  std::map<std::string, Entry> entries;            // by runtime; guarded by mu
  bool stopped = false;                            // guarded by mu
  std::map<std::string, Clock::time_point> asked;  // runtime → when last asked for; guarded by mu
};

namespace {

constexpr auto kRetryAfterFailure = std::chrono::seconds(30);
constexpr auto kRecent = std::chrono::minutes(1);  // runtimes asked for since then get spares' keepers

struct StartZygoteJob {
  std::shared_ptr<ZygotePool::State> state;
  std::string runtime;
  void operator()() const {
    auto began = Clock::now();
    Result<std::shared_ptr<const ZygotePool::Ready>> started = fail(Code::kInternal, "not started");
    auto launch = state->catalog.zygoteLaunch(runtime);
    if (!launch) {
      started = std::unexpected(launch.error());
    } else {
      sandbox::ProcessSpec spec;
      spec.executable = launch->executable;
      spec.argv = launch->argv;
      spec.env = launch->env;
      spec.runtimeDir = state->catalog.dir();
      spec.tmpSizeMb = 16;
      auto zygote = state->sandbox.startZygote(spec);
      if (!zygote) {
        started = std::unexpected(zygote.error());
      } else {
        started = std::make_shared<const ZygotePool::Ready>(
            ZygotePool::Ready{std::shared_ptr<sandbox::Zygote>(std::move(*zygote)), std::move(launch->env)});
      }
    }
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - began).count();
    std::shared_ptr<const ZygotePool::Ready> discard;  // destroyed outside the lock
    std::lock_guard lock(state->mu);
    auto& e = state->entries[runtime];
    e.starting = false;
    if (!started) {
      if (!e.failedBefore)
        std::fprintf(stderr, "lamina: no %s zygote (cold starts exec the interpreter; retrying in 30 s): %s\n",
                     runtime.c_str(), started.error().message().c_str());
      e.failedBefore = true;
      e.retryAfter = Clock::now() + kRetryAfterFailure;
      return;
    }
    if (state->stopped) {
      discard = std::move(*started);
      return;
    }
    std::fprintf(stderr, "lamina: %s zygote ready in %.0f ms (pid %d)\n", runtime.c_str(), ms,
                 static_cast<int>((*started)->zygote->pid()));
    e.failedBefore = false;
    e.ready = std::move(*started);
  }
};

}  // namespace

ZygotePool::ZygotePool(asio::thread_pool& blocking, sandbox::Sandbox& sandbox, RuntimeCatalog& catalog)
    : state_(std::make_shared<State>(blocking, sandbox, catalog)) {}

ZygotePool::~ZygotePool() { stop(); }

std::shared_ptr<const ZygotePool::Ready> ZygotePool::get(const std::string& runtime) {
  std::shared_ptr<const Ready> gone;  // destroyed (killed, reaped) outside the lock
  std::lock_guard lock(state_->mu);
  if (state_->stopped) return nullptr;
  state_->asked[runtime] = Clock::now();
  auto& e = state_->entries[runtime];
  if (e.ready && e.ready->zygote->alive()) return e.ready;
  if (e.ready) {
    std::fprintf(stderr, "lamina: the %s zygote exited; starting a new one\n", runtime.c_str());
    gone = std::move(e.ready);
  }
  if (!e.starting && Clock::now() >= e.retryAfter) {
    e.starting = true;
    asio::post(state_->blocking, StartZygoteJob{state_, runtime});
  }
  return nullptr;
}

std::pair<std::string, std::shared_ptr<sandbox::Zygote>> ZygotePool::forSpares(
    const std::vector<std::string>& covered) const {
  std::lock_guard lock(state_->mu);
  if (state_->stopped) return {};
  // Recent runtimes with a running zygote, most recently asked first.
  std::vector<std::pair<Clock::time_point, std::string>> recent;
  auto now = Clock::now();
  for (const auto& [runtime, at] : state_->asked) {
    auto it = state_->entries.find(runtime);
    if (now - at < kRecent && it != state_->entries.end() && it->second.ready) recent.emplace_back(at, runtime);
  }
  if (recent.empty()) return {};
  std::sort(recent.rbegin(), recent.rend());
  auto uncovered = std::find_if(recent.begin(), recent.end(), [&](const auto& r) {
    return std::find(covered.begin(), covered.end(), r.second) == covered.end();
  });
  const std::string& runtime = (uncovered != recent.end() ? *uncovered : recent.front()).second;
  return {runtime, state_->entries.at(runtime).ready->zygote};
}

size_t ZygotePool::ready() const {
  std::lock_guard lock(state_->mu);
  size_t n = 0;
  for (const auto& [_, e] : state_->entries) n += e.ready ? 1 : 0;
  return n;
}

void ZygotePool::stop() {
  std::map<std::string, State::Entry> entries;
  {
    std::lock_guard lock(state_->mu);
    state_->stopped = true;
    entries.swap(state_->entries);
  }
}

}  // namespace lamina::runtime
