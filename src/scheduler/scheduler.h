// Scheduler: pools of execution environments per function version. Hands out a Ready environment
// for each invocation (warm reuse, most recently used first), starts new ones when none is idle
// (cold start), caps the total at the account concurrency, and shuts environments down after the
// keep-alive. Reserved/provisioned concurrency and rate limits build on this (scheduling issue).
//
// Threading: the daemon's I/O thread only. `deps` must outlive the scheduler.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/environment.h"
#include "scheduler/keep_alive.h"

namespace lamina::scheduler {

struct Options {
  std::chrono::milliseconds keepAlive{std::chrono::minutes(5)};
  int accountConcurrency = 1000;
  // How fast one function may add on-demand environments: AWS's 1,000 per 10 seconds, refilled
  // continuously (a token bucket of that size). Above it, 429 FunctionInvocationRateLimitExceeded.
  int scaleUpPer10s = 1000;
  // Idle environments: the fixed keepAlive, or per function from its own history (keep_alive.h).
  bool adaptiveKeepAlive = false;
  std::chrono::milliseconds keepAliveBin{std::chrono::minutes(1)};
  // Memory (MB of MemorySize) the environments may hold; before a cold start would exceed it, idle
  // environments are stopped, least valuable first. 0 = no budget. Busy ones are never stopped.
  int64_t memoryBudgetMb = 0;
};

struct Lease {
  std::shared_ptr<runtime::Environment> env;
  bool cold = false;
  bool unreserved = false;   // counted in the unreserved pool (else in its function's reservation)
  bool provisioned = false;  // one of the version's provisioned environments
};

// Provisioned concurrency of one version, as PutProvisionedConcurrencyConfig reports it.
struct ProvisionedStatus {
  int requested = 0;
  int allocated = 0;  // environments that finished Init (idle or busy)
  int available = 0;  // of those, idle now
};

struct AcquireError {
  enum class Kind { kThrottled, kInitFailed } kind;
  std::string reason;         // kThrottled: AWS's Reason (ReservedFunctionConcurrentInvocationLimitExceeded, ...)
  runtime::InitFailure init;  // kInitFailed
  std::shared_ptr<runtime::Environment> env;  // kInitFailed: the dead environment (for its log stream)
};

class Scheduler {
 public:
  Scheduler(const runtime::EnvironmentDeps& deps, Options options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // A Ready environment for `image`; the caller must release() it.
  boost::asio::awaitable<std::expected<Lease, AcquireError>> acquire(
      std::shared_ptr<const runtime::FunctionImage> image, const std::string& requestId);
  // Returns an environment after an invocation: kept warm if still Ready and current, else stopped.
  void release(Lease lease);
  // Stops the idle environments of `functionName` (after an update or delete); busy ones stop when
  // released because their revision is no longer current.
  // `version` "" = every version of the function (it was deleted).
  void retire(const std::string& functionName, const std::string& version, const std::string& currentRevision);
  // Gracefully stops every idle environment (SIGTERM, grace, SIGKILL); returns how many. Busy ones
  // stop when released. For a daemon shutdown, before shutdownAll().
  int stopIdle();
  // Stops every environment now (daemon shutdown).
  void shutdownAll();

  // A function's reserved concurrency (-1 = none): it may run at most that many invocations at once
  // (0 throttles every one), and the other functions share what the reservations leave.
  void setReservation(const std::string& functionName, int reserved);
  // Invocations running now (leased environments), for a function or for the account.
  int concurrentExecutions(const std::string& functionName) const;
  int concurrentExecutions() const { return running_; }

  // Provisioned concurrency: keep `count` environments of `image` initialized (with
  // AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency) under the config `configKey` (an alias
  // or version; several configs may target one version and add up); 0 removes the config. They
  // serve invocations first, are never reclaimed by keep-alive, and are replaced when they die.
  void setProvisioned(const std::shared_ptr<const runtime::FunctionImage>& image, const std::string& configKey,
                      int count);
  ProvisionedStatus provisionedStatus(const std::string& functionName, const std::string& version) const;

  int liveEnvironments() const { return live_; }

 private:
  struct Idle {
    std::shared_ptr<runtime::Environment> env;
    std::chrono::steady_clock::time_point since;
  };
  struct Pool {
    std::string revision;
    std::vector<Idle> idle;  // back = most recently used
    // Provisioned concurrency.
    std::shared_ptr<const runtime::FunctionImage> image;  // what provisioned environments run
    std::unordered_map<std::string, int> provisionedConfigs;
    int provisionedTarget = 0;
    int provisionedStarting = 0;
    int provisionedBusy = 0;
    std::vector<std::shared_ptr<runtime::Environment>> provisionedIdle;
  };
  void fillProvisioned(const std::string& key);
  boost::asio::awaitable<void> prewarmLater(std::string key, std::shared_ptr<const runtime::FunctionImage> image,
                                            std::chrono::milliseconds after);
  boost::asio::awaitable<void> startProvisioned(std::string key, std::shared_ptr<const runtime::FunctionImage> image);
  void startReaper();
  boost::asio::awaitable<std::expected<Lease, AcquireError>> acquireEnvironment(
      std::shared_ptr<const runtime::FunctionImage> image, const std::string& requestId);
  void uncount(const std::string& functionName, bool unreserved);
  // Stops the idle on-demand environment least likely to be reused soon (the one furthest through
  // its keep-alive window; with the fixed policy, the oldest). False if there is none.
  bool evictLeastValuable();
  // MB of MemorySize held by environments starting, busy or idle.
  int64_t memoryInUseMb() const;

  const runtime::EnvironmentDeps& deps_;
  Options options_;
  std::unordered_map<std::string, Pool> pools_;    // key: function name + ":" + version
  int live_ = 0;                                   // environments starting, idle or busy
  std::unordered_map<std::string, int> reserved_;  // function name -> reservation
  int reservedSum_ = 0;
  std::unordered_map<std::string, int> runningBy_;  // function name -> leased environments
  int running_ = 0;
  int runningUnreserved_ = 0;
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<std::string, Bucket> scaleUp_;  // function name -> new-environment budget
  bool takeScaleUpToken(const std::string& functionName);
  boost::asio::steady_timer reaper_;
  KeepAlivePolicy policy_;
  int64_t busyMemoryMb_ = 0, startingMemoryMb_ = 0;
  bool stopped_ = false;
};

}  // namespace lamina::scheduler
