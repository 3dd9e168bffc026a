// Invoker: synchronous (RequestResponse) invocation end to end — lease an environment from the
// scheduler, run the event through it, turn the outcome into Lambda's answer (function errors,
// timeouts, crashes, oversize responses), and write START/END/REPORT with Lambda's billing
// figures. Nothing here touches SQLite: the hot path stays in memory.
//
// Threading: the daemon's I/O thread only. The scheduler and clock must outlive the Invoker.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>

#include "core/result.h"
#include "core/time.h"
#include "invoke/metrics.h"
#include "runtime/function_image.h"
#include "scheduler/scheduler.h"

namespace lamina::invoke {

// Limits from AWS's quotas page.
constexpr size_t kMaxSyncPayloadBytes = 6291456;  // 6 MB request
constexpr size_t kLogTailBytes = 4096;

struct SyncRequest {
  std::shared_ptr<const runtime::FunctionImage> image;
  std::string requestId;
  std::string payload;
  std::string invokedArn;
  std::string clientContext;  // decoded JSON, or empty
  bool wantLogTail = false;
};

struct SyncResult {
  std::string body;
  bool functionError = false;  // → X-Amz-Function-Error: Unhandled
  std::string logResult;       // base64 of the last 4 KB of the log, when asked for
  std::string executedVersion;
  std::string contentType;
};

class Invoker {
 public:
  Invoker(scheduler::Scheduler& scheduler, const core::Clock& clock) : scheduler_(scheduler), clock_(clock) {}

  // Errors: kTooManyRequests when no environment can be had; kServiceUnavailable while stopping.
  boost::asio::awaitable<Result<SyncResult>> invoke(SyncRequest request);

  // Graceful shutdown: refuse new invocations, then wait (up to `limit`) for those in flight.
  boost::asio::awaitable<void> drain(std::chrono::milliseconds limit);
  int inFlight() const { return inFlight_; }
  const Metrics& metrics() const { return metrics_; }
  const scheduler::Scheduler& scheduler() const { return scheduler_; }

 private:
  scheduler::Scheduler& scheduler_;
  const core::Clock& clock_;
  int inFlight_ = 0;
  Metrics metrics_;
  bool stopping_ = false;
};

}  // namespace lamina::invoke
