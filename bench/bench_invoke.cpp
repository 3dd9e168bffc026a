// bench_invoke: measures, in one run, a bare loopback TCP round trip (the baseline) and then warm
// synchronous Invoke latency and throughput against a running lamina, and prints both with their
// ratio; cold starts against the floors of fork+exec and of a clone with the sandbox's namespaces
// + exec; given --python / --python-exec / --node / --node-exec functions, their cold starts against
// a plain start of the same interpreter (--python, --node: forked from lamina's zygote; the -exec
// ones: functions that get a fresh interpreter); and given --cpu functions, the CPU share ratio.
// Usage: bench_invoke HOST:PORT FUNCTION [--requests N] [--seconds S] [--cold N] [--python FN:INTERP]
//                     [--python-exec FN:INTERP] [--node FN:INTERP] [--node-exec FN:INTERP]
//                     [--cpu SMALL_FN,BIG_FN]
#include <linux/sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "http_lite.h"
#include "signed_request.h"

using Clock = std::chrono::steady_clock;

namespace {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, size_t(p / 100.0 * double(v.size())));
  return v[i];
}

// Baseline: one byte-for-byte echo over loopback TCP, 64-byte messages, one connection.
std::vector<double> loopbackRoundTrips(int iterations) {
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::listen(lfd, 1);
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread server([lfd] {
    int c = ::accept(lfd, nullptr, nullptr);
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char buf[64];
    for (;;) {
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      if (!bench::writeAll(c, std::string_view(buf, size_t(n)))) break;
    }
    ::close(c);
  });
  int fd = bench::connectTo("127.0.0.1", ntohs(addr.sin_port));
  std::vector<double> out;
  out.reserve(size_t(iterations));
  char msg[64] = {};
  char buf[64];
  for (int i = 0; i < iterations; ++i) {
    auto t0 = Clock::now();
    bench::writeAll(fd, std::string_view(msg, sizeof msg));
    size_t got = 0;
    while (got < sizeof buf) {
      ssize_t n = ::read(fd, buf + got, sizeof buf - got);
      if (n <= 0) break;
      got += size_t(n);
    }
    out.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  ::close(fd);
  server.join();
  ::close(lfd);
  return out;
}

// The cold-start floor: fork + exec of /bin/true, waited for (the plain sandbox's work).
std::vector<double> forkExecTrue(int iterations) {
  std::vector<double> out;
  for (int i = 0; i < iterations; ++i) {
    auto t0 = Clock::now();
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execl("/bin/true", "true", nullptr);
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    out.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return out;
}

// A plain interpreter start, the baseline of an interpreted runtime's cold start: fork + exec of
// `argv` (e.g. python3.11 -c pass, node -e 0), waited for.
std::vector<double> forkExecCommand(const std::vector<std::string>& argv, int iterations) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<double> out;
  for (int i = 0; i < iterations; ++i) {
    auto t0 = Clock::now();
    pid_t pid = ::fork();
    if (pid == 0) {
      // The environment a function gets, not the shell's (NODE_EXTRA_CA_CERTS alone costs node
      // ~15 ms of certificate parsing at start).
      char path[] = "PATH=/usr/local/bin:/usr/bin:/bin";
      char* env[] = {path, nullptr};
      ::execve(args[0], args.data(), env);
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return {};
    out.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return out;
}

// The isolating sandbox's floor: clone3 into new pid, mount, uts, ipc and network namespaces, exec
// /bin/true, wait. Needs root; empty when the kernel refuses.
std::vector<double> cloneNamespacesExecTrue(int iterations) {
  std::vector<double> out;
  for (int i = 0; i < iterations; ++i) {
    auto t0 = Clock::now();
    clone_args args{};
    args.flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;
    args.exit_signal = SIGCHLD;
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) return {};
    if (pid == 0) {
      ::execl("/bin/true", "true", nullptr);
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid_t(pid), &status, 0);
    out.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_invoke HOST:PORT FUNCTION [--requests N] [--seconds S]\n");
    return 2;
  }
  std::string hostPort = argv[1], function = argv[2];
  int requests = 20000;
  int coldRuns = 20;
  double seconds = 5;
  std::string pythonFunction, pythonExecFunction, nodeFunction, nodeExecFunction,
      cpuFunctions;  // FUNCTION:INTERPRETER for the first two
  for (int i = 3; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--requests")) requests = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--cold")) coldRuns = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--python")) pythonFunction = argv[i + 1];
    if (!std::strcmp(argv[i], "--python-exec")) pythonExecFunction = argv[i + 1];
    if (!std::strcmp(argv[i], "--node-exec")) nodeExecFunction = argv[i + 1];
    if (!std::strcmp(argv[i], "--node")) nodeFunction = argv[i + 1];
    if (!std::strcmp(argv[i], "--cpu")) cpuFunctions = argv[i + 1];
  }
  std::string host = hostPort.substr(0, hostPort.rfind(':'));
  int port = std::atoi(hostPort.c_str() + hostPort.rfind(':') + 1);
  std::string raw = bench::signedInvoke(hostPort, function);

  auto base = loopbackRoundTrips(requests);
  double baseP50 = percentile(base, 50), baseP99 = percentile(base, 99);

  int fd = bench::connectTo(host, port);
  if (fd < 0) {
    std::fprintf(stderr, "bench_invoke: cannot connect to %s\n", hostPort.c_str());
    return 1;
  }
  std::string buf;
  bench::Message m;
  for (int i = 0; i < 500; ++i) {  // warm-up: the first invoke is the cold start
    if (!bench::writeAll(fd, raw) || !bench::readMessage(fd, buf, m) || m.head.find(" 200 ") == std::string::npos ||
        !m.header("x-amz-function-error").empty()) {
      std::fprintf(stderr, "bench_invoke: invoke failed: %s%s\n", m.head.c_str(), m.body.c_str());
      return 1;
    }
  }
  std::vector<double> lat;
  lat.reserve(size_t(requests));
  for (int i = 0; i < requests; ++i) {
    auto t0 = Clock::now();
    bench::writeAll(fd, raw);
    if (!bench::readMessage(fd, buf, m)) return 1;
    lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  ::close(fd);
  double p50 = percentile(lat, 50), p99 = percentile(lat, 99);

  std::printf("| metric | value | ratio to baseline |\n|---|---|---|\n");
  std::printf("| loopback TCP round trip p50 (baseline) | %.1f us | 1.00 |\n", baseP50);
  std::printf("| loopback TCP round trip p99 | %.1f us | |\n", baseP99);
  std::printf("| warm invoke p50 | %.1f us | %.2fx |\n", p50, p50 / baseP50);
  std::printf("| warm invoke p99 | %.1f us | %.2fx (target p99 <= 1000 us) |\n", p99, p99 / baseP50);

  // Cold start: change the configuration (which retires the warm environment), then time the
  // first invoke. The update is not timed.
  auto coldStarts = [&](const std::string& fn, const std::string& invoke) -> std::vector<double> {
    std::vector<double> cold;
    int cfd = bench::connectTo(host, port);
    for (int i = 0; i < coldRuns; ++i) {
      std::string update = bench::signedRequest(hostPort, "PUT", "/2015-03-31/functions/" + fn + "/configuration",
                                                "{\"Description\":\"cold " + std::to_string(i) + "\"}");
      if (!bench::writeAll(cfd, update) || !bench::readMessage(cfd, buf, m)) return {};
      // Let the retired environment's teardown finish: this measures one cold start, not a burst.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      auto t0 = Clock::now();
      if (!bench::writeAll(cfd, invoke) || !bench::readMessage(cfd, buf, m)) return {};
      if (m.head.find(" 200 ") == std::string::npos || !m.header("x-amz-function-error").empty()) {
        std::fprintf(stderr, "bench_invoke: cold invoke of %s failed: %s\n", fn.c_str(), m.body.c_str());
        return {};
      }
      cold.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    ::close(cfd);
    return cold;
  };
  {
    auto cold = coldStarts(function, raw);
    if (cold.empty()) return 1;
    auto floor = forkExecTrue(coldRuns);
    auto nsFloor = cloneNamespacesExecTrue(coldRuns);
    double fp50 = percentile(floor, 50), cp50 = percentile(cold, 50);
    std::printf("| fork+exec of /bin/true p50 (plain floor) | %.1f us | 1.00 |\n", fp50);
    if (!nsFloor.empty()) {
      double np50 = percentile(nsFloor, 50);
      std::printf("| clone with the sandbox's namespaces + exec of /bin/true p50 (sandbox floor) | %.1f us | 1.00 |\n",
                  np50);
      std::printf(
          "| cold start (native bootstrap) p50 | %.1f us | %.2fx of the sandbox floor (target <= 2x), %.2fx "
          "of fork+exec |\n",
          cp50, cp50 / np50, cp50 / fp50);
    } else {
      std::printf("| cold start (native bootstrap) p50 | %.1f us | %.2fx of fork+exec (no namespaces here) |\n", cp50,
                  cp50 / fp50);
    }
    // Interpreted runtimes: FUNCTION:INTERPRETER, against a plain start of that interpreter.
    auto interpreted = [&](const std::string& spec, const char* label, std::vector<std::string> plainArgs) {
      auto colon = spec.find(':');
      if (spec.empty() || colon == std::string::npos) return true;
      std::string fn = spec.substr(0, colon), interp = spec.substr(colon + 1);
      auto cold = coldStarts(fn, bench::signedInvoke(hostPort, fn));
      if (cold.empty()) return false;
      plainArgs.insert(plainArgs.begin(), interp);
      auto plain = forkExecCommand(plainArgs, coldRuns);
      if (plain.empty()) return false;
      double c50 = percentile(cold, 50), p50plain = percentile(plain, 50);
      std::string shown = plainArgs[0].substr(plainArgs[0].rfind('/') + 1);
      for (size_t i = 1; i < plainArgs.size(); ++i) shown += " " + plainArgs[i];
      std::printf("| plain `%s` p50 (baseline) | %.1f us | 1.00 |\n", shown.c_str(), p50plain);
      std::printf(
          "| cold start (%s) p50 | %.1f us | %.2fx of the plain start (target <= 0.3x), %.2fx of the native "
          "cold start |\n",
          label, c50, c50 / p50plain, c50 / cp50);
      return true;
    };
    if (!interpreted(pythonFunction, "python, zygote-born", {"-c", "pass"})) return 1;
    if (!interpreted(pythonExecFunction, "python, interpreter exec'd", {"-c", "pass"})) return 1;
    if (!interpreted(nodeFunction, "node, zygote-born", {"-e", "0"})) return 1;
    if (!interpreted(nodeExecFunction, "node, exec'd", {"-e", "0"})) return 1;
  }

  // CPU share: the same CPU-bound work at two MemorySizes (warm invokes, median of 3).
  if (auto comma = cpuFunctions.find(','); comma != std::string::npos) {
    auto timeWarm = [&](const std::string& fn) -> double {
      int cfd = bench::connectTo(host, port);
      std::string invoke = bench::signedInvoke(hostPort, fn);
      std::vector<double> runs;
      for (int i = 0; i < 4; ++i) {  // the first is the cold start, not counted
        auto t0 = Clock::now();
        if (!bench::writeAll(cfd, invoke) || !bench::readMessage(cfd, buf, m) ||
            !m.header("x-amz-function-error").empty()) {
          std::fprintf(stderr, "bench_invoke: %s failed: %s\n", fn.c_str(), m.body.c_str());
          return 0;
        }
        if (i > 0) runs.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
      ::close(cfd);
      return percentile(runs, 50);
    };
    std::string small = cpuFunctions.substr(0, comma), big = cpuFunctions.substr(comma + 1);
    double smallMs = timeWarm(small), bigMs = timeWarm(big);
    if (smallMs > 0 && bigMs > 0) {
      std::printf("| CPU-bound invoke at %s | %.1f ms | |\n", small.c_str(), smallMs);
      std::printf("| CPU-bound invoke at %s | %.1f ms | %.2fx faster |\n", big.c_str(), bigMs, smallMs / bigMs);
    }
  }

  for (int conns : {1, 4, 16}) {
    std::atomic<long> done{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int c = 0; c < conns; ++c) {
      threads.emplace_back([&] {
        int cfd = bench::connectTo(host, port);
        std::string b;
        bench::Message msg;
        while (!stop.load(std::memory_order_relaxed)) {
          if (!bench::writeAll(cfd, raw) || !bench::readMessage(cfd, b, msg)) break;
          done.fetch_add(1, std::memory_order_relaxed);
        }
        ::close(cfd);
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : threads) t.join();
    std::printf("| throughput, %d connection(s) | %.0f invokes/s | |\n", conns, double(done.load()) / seconds);
  }
  return 0;
}
