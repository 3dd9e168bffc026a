// Metrics: per function and version counters of what the invoke path did — invocations, function
// errors, throttles, cold starts, init and invocation durations — kept in memory (nothing on the
// invoke path touches disk) and rendered in Prometheus's text format for `GET /metrics`.
//
// Threading: the daemon's I/O thread only (no locks: the invoke path is single-threaded).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>

namespace lamina::invoke {

class Metrics {
 public:
  // Upper bounds (ms) of the duration histogram's buckets; +Inf is implied.
  static constexpr std::array<double, 12> kBucketsMs = {1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

  struct Series {
    uint64_t invocations = 0;
    uint64_t errors = 0;  // function errors, timeouts, crashes (X-Amz-Function-Error)
    uint64_t throttles = 0;
    uint64_t coldStarts = 0;
    double initMsSum = 0;
    std::array<uint64_t, kBucketsMs.size() + 1> durationBuckets{};  // non-cumulative; last = +Inf
    double durationMsSum = 0;
  };

  // One finished invocation (including one whose Init failed).
  void invoked(const std::string& function, const std::string& version, double durationMs, bool error, bool cold,
               double initMs);
  void throttled(const std::string& function, const std::string& version);

  // Prometheus text exposition. `concurrency(function)` adds the concurrent executions gauge for
  // every function seen, and the account's under function="" is not emitted (use the total).
  // `provisioned(function, version)` gives {allocated, in use} provisioned environments.
  std::string render(
      const std::function<int(const std::string&)>& concurrency, int accountConcurrency,
      const std::function<std::pair<int, int>(const std::string&, const std::string&)>& provisioned) const;

 private:
  std::map<std::pair<std::string, std::string>, Series> series_;
};

}  // namespace lamina::invoke
