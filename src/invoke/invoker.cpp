#include "invoke/invoker.h"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>

#include "core/crypto.h"
#include "core/ids.h"
#include "core/json.h"

namespace lamina::invoke {

namespace asio = boost::asio;
using Outcome = runtime::Invocation::Outcome;

namespace {

std::string tailOf(const std::string& log) {
  std::string_view v = log;
  if (v.size() > kLogTailBytes) v = v.substr(v.size() - kLogTailBytes);
  return core::base64Encode(v);
}

struct InFlightGuard {
  int& n;
  explicit InFlightGuard(int& c) : n(c) { ++n; }
  ~InFlightGuard() { --n; }
};

}  // namespace

asio::awaitable<Result<SyncResult>> Invoker::invoke(SyncRequest req) {
  if (stopping_)
    co_return fail(Code::kServiceUnavailable, "lamina is shutting down; retry against the restarted server");
  InFlightGuard guard(inFlight_);
  const runtime::FunctionImage& image = *req.image;
  SyncResult out;
  out.executedVersion = image.version;
  std::string startLine = "START RequestId: " + req.requestId + " Version: " + image.version;
  std::string endLine = "END RequestId: " + req.requestId;

  auto lease = co_await scheduler_.acquire(req.image, req.requestId);
  if (!lease) {
    if (lease.error().kind == scheduler::AcquireError::Kind::kThrottled) {
      Error throttled(Code::kTooManyRequests, "Rate Exceeded.");
      throttled.withReason(lease.error().reason);
      metrics_.throttled(image.name, image.version);
      co_return std::unexpected(std::move(throttled));
    }
    auto& env = *lease.error().env;
    const auto& init = lease.error().init;
    std::string report = fmt::format(
        "REPORT RequestId: {}\tDuration: {:.2f} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} "
        "MB\tStatus: error\tError Type: {}",
        req.requestId, env.initDurationMs(), int64_t(std::ceil(env.initDurationMs())), image.memoryMb,
        env.peakMemoryMb(), init.errorType);
    env.platformLog(startLine);
    env.platformLog(endLine);
    env.platformLog(report);
    out.body = init.body;
    out.functionError = true;
    metrics_.invoked(image.name, image.version, env.initDurationMs(), true, true, env.initDurationMs());
    if (req.wantLogTail) out.logResult = tailOf(startLine + "\n" + endLine + "\n" + report + "\n");
    co_return out;
  }
  auto env = lease->env;

  runtime::Invocation inv;
  inv.requestId = req.requestId;
  inv.payload = std::move(req.payload);
  inv.invokedArn = std::move(req.invokedArn);
  inv.clientContext = std::move(req.clientContext);
  inv.traceId = "Root=1-" + fmt::format("{:08x}", uint64_t(clock_.nowMs() / 1000)) + "-" + core::randomHexForTrace() +
                ";Parent=" + core::randomHexForTrace().substr(0, 16) + ";Sampled=0";
  int64_t startMs = clock_.nowMs();
  inv.deadlineMs = startMs + int64_t(image.timeoutSec) * 1000;
  env->platformLog(startLine);
  inv.logTail = startLine + "\n";
  auto t0 = std::chrono::steady_clock::now();
  co_await env->invoke(inv);
  double durationMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  std::string status;
  switch (inv.outcome) {
    case Outcome::kSuccess:
      out.body = std::move(inv.result);
      out.contentType = std::move(inv.contentType);
      break;
    case Outcome::kFunctionError:
      out.body = inv.result.empty() ? core::errorDocument(inv.errorType.empty() ? "Unhandled" : inv.errorType, "")
                                    : std::move(inv.result);
      out.functionError = true;
      break;
    case Outcome::kResponseTooLarge:
      out.body = std::move(inv.result);
      out.functionError = true;
      status = "\tStatus: error\tError Type: Function.ResponseSizeTooLarge";
      break;
    case Outcome::kTimeout: {
      std::string msg = fmt::format("Task timed out after {:.2f} seconds", double(image.timeoutSec));
      std::string line = core::isoTimestamp(clock_.nowMs()) + " " + req.requestId + " " + msg;
      env->platformLog(line);
      inv.logTail += line + "\n";
      out.body = core::errorDocument("Sandbox.Timedout", "RequestId: " + req.requestId + " Error: " + msg);
      out.functionError = true;
      status = "\tStatus: timeout";
      break;
    }
    case Outcome::kExited:
    case Outcome::kPending: {
      // AWS names an out-of-memory kill Runtime.OutOfMemory, with the same message.
      const char* type = inv.outOfMemory ? "Runtime.OutOfMemory" : "Runtime.ExitError";
      std::string msg = "RequestId: " + req.requestId + " Error: Runtime exited with error: " + inv.exitReason;
      env->platformLog(msg);
      env->platformLog(type);
      inv.logTail += msg + "\n" + type + "\n";
      out.body = core::errorDocument(type, msg);
      out.functionError = true;
      status = std::string("\tStatus: error\tError Type: ") + type;
      break;
    }
  }

  std::string report = fmt::format(
      "REPORT RequestId: {}\tDuration: {:.2f} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
      req.requestId, durationMs, std::max<int64_t>(1, int64_t(std::ceil(durationMs))), image.memoryMb,
      std::max<uint64_t>(1, env->peakMemoryMb()));
  if (lease->cold) report += fmt::format("\tInit Duration: {:.2f} ms", env->initDurationMs());
  report += status;
  env->platformLog(endLine);
  env->platformLog(report);
  inv.logTail += endLine + "\n" + report + "\n";
  if (req.wantLogTail) out.logResult = tailOf(inv.logTail);
  metrics_.invoked(image.name, image.version, durationMs, out.functionError, lease->cold, env->initDurationMs());
  scheduler_.release(std::move(*lease));
  co_return out;
}

asio::awaitable<void> Invoker::drain(std::chrono::milliseconds limit) {
  stopping_ = true;
  auto deadline = std::chrono::steady_clock::now() + limit;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (inFlight_ > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace lamina::invoke
