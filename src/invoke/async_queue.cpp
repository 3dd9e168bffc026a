#include "invoke/async_queue.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>

#include "core/ids.h"
#include "core/json.h"
#include "core/offload.h"
#include "core/strings.h"

namespace lamina::invoke {

namespace asio = boost::asio;
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Upper bounds (ms) of the event-age histogram: from "ran at once" to AWS's 6 h maximum.
constexpr std::array<double, 10> kAgeBucketsMs = {10,     100,    1000,    10000,    60000,
                                                  300000, 900000, 3600000, 10800000, 21600000};
// A throttled function's queue pauses this long, doubling per throttle in a row, up to the cap
// (unless one of its runs ends first). AWS backs off from 1 s up to 5 min; a local platform
// retries sooner because waiting gains nothing here.
constexpr int64_t kThrottleBackoffMs = 20;
constexpr int64_t kThrottleBackoffCapMs = 1000;

std::string labelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    out.push_back(c == '\n' ? 'n' : c);
  }
  return out;
}

// The function's output as the record embeds it: JSON as is, anything else as a JSON string.
std::string embedded(const std::string& body) {
  if (body.empty()) return "null";
  if (core::parseJson(body)) return body;
  return json::serialize(json::value(body));
}

// "arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]" → {NAME, QUALIFIER}.
bool lambdaArn(std::string_view arn, std::string& name, std::string& qualifier) {
  auto parts = core::split(arn, ':');
  if (parts.size() < 7 || parts.size() > 8 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "function")
    return false;
  name = std::string(parts[6]);
  qualifier = parts.size() == 8 ? std::string(parts[7]) : std::string();
  return !name.empty();
}

}  // namespace

struct AsyncQueue::FunctionStats {
  uint64_t received = 0;
  std::map<std::string, uint64_t> dropped;  // by reason
  uint64_t destinationFailures = 0;
  uint64_t deadLetterErrors = 0;
  std::array<uint64_t, kAgeBucketsMs.size() + 1> ageBuckets{};
  double ageSumMs = 0;
  uint64_t ageCount = 0;
};

AsyncQueue::AsyncQueue(asio::io_context& io, asio::thread_pool& blocking, store::EventRepo& repo, Invoker& invoker,
                       const core::Clock& clock, Resolver resolver, AsyncOptions options)
    : io_(io),
      blocking_(blocking),
      repo_(repo),
      invoker_(invoker),
      clock_(clock),
      resolver_(std::move(resolver)),
      options_(std::move(options)),
      ack_(std::make_shared<BatchAck>()),
      stats_(std::make_unique<std::map<std::string, FunctionStats>>()) {
  if (options_.retryDelays.empty()) options_.retryDelays.push_back(std::chrono::minutes(1));
  if (options_.maxConcurrentPerFunction < 1) options_.maxConcurrentPerFunction = 1;
}

AsyncQueue::~AsyncQueue() = default;

AsyncQueue::FunctionStats& AsyncQueue::stats(const std::string& function) { return (*stats_)[function]; }

Result<size_t> AsyncQueue::load() {
  auto rows = repo_.loadAll();
  if (!rows) return std::unexpected(rows.error().context("loading the async event queue"));
  size_t n = rows->size();
  for (auto& row : *rows) {
    nextId_ = std::max(nextId_, row.id + 1);
    ++depth_;
    afterCommit_.push_back(std::make_unique<store::StoredEvent>(std::move(row)));
  }
  return n;
}

void AsyncQueue::start() {
  started_ = true;
  // What load() found is durable already: runnable at once.
  auto loaded = std::move(afterCommit_);
  afterCommit_.clear();
  for (auto& e : loaded) admit(std::move(e));
  asio::co_spawn(io_, commitLoop(), asio::detached);
  asio::co_spawn(io_, dispatchLoop(), asio::detached);
}

asio::awaitable<Result<void>> AsyncQueue::enqueue(std::string function, std::string qualifier, std::string requestId,
                                                  std::string payload) {
  if (stopped_ || !started_)
    co_return fail(Code::kServiceUnavailable, "lamina is shutting down; retry against the restarted server");
  auto event = std::make_unique<store::StoredEvent>();
  event->id = nextId_++;
  event->function = std::move(function);
  event->qualifier = std::move(qualifier);
  event->requestId = std::move(requestId);
  event->payload = std::move(payload);
  event->receivedMs = clock_.nowMs();
  event->nextMs = event->receivedMs;
  ++stats(event->function).received;
  ++depth_;
  batch_.inserts.push_back(event.get());  // owned by afterCommit_ until the commit is done
  afterCommit_.push_back(std::move(event));
  std::shared_ptr<BatchAck> ack = ack_;
  wakeCommitter();
  while (!ack->done) co_await ack->notifier.wait();
  co_return ack->result;
}

asio::awaitable<void> AsyncQueue::commitLoop() {
  while (true) {
    if (batch_.empty()) {
      if (stopped_) break;
      co_await commitWake_.wait();
      continue;
    }
    store::EventBatch batch = std::move(batch_);
    batch_ = {};
    std::shared_ptr<BatchAck> ack = std::exchange(ack_, std::make_shared<BatchAck>());
    std::vector<EventPtr> runnable = std::move(afterCommit_);
    afterCommit_.clear();
    committing_ = true;
    bool flushLogs = !batch.deletes.empty() && beforeCommit_ != nullptr;
    store::EventRepo& repo = repo_;
    std::function<void()>& before = beforeCommit_;
    auto job = [&repo, &batch, &before, flushLogs]() {
      if (flushLogs) before();
      return repo.apply(batch);
    };
    Result<void> written = co_await core::offload(blocking_, std::move(job));
    committing_ = false;
    if (!written) {
      std::fprintf(stderr, "lamina: async queue: %s\n", written.error().message().c_str());
      // New events were never acknowledged: their callers get the error and they are forgotten.
      // Changes to acknowledged events are tried again with the next batch.
      depth_ -= batch.inserts.size();
      std::erase_if(runnable, [&](const EventPtr& e) {
        return std::find(batch.inserts.begin(), batch.inserts.end(), e.get()) != batch.inserts.end();
      });
      for (auto& u : batch.updates) batch_.updates.push_back(std::move(u));
      for (int64_t id : batch.deletes) batch_.deletes.push_back(id);
      ack->result = fail(Code::kInternal, "the event could not be queued durably: " + written.error().message());
    }
    ack->done = true;
    ack->notifier.notify();
    for (auto& e : runnable) admit(std::move(e));
  }
}

void AsyncQueue::admit(EventPtr event) {
  if (event->nextMs > clock_.nowMs()) {
    delayed_.emplace(event->nextMs, std::move(event));
    dispatchWake_.notify();
    return;
  }
  std::string fn = event->function;
  functions_[fn].ready.push_back(std::move(event));
  pump(fn);
}

void AsyncQueue::pump(const std::string& function) {
  if (!dispatching_ || !started_) return;
  FunctionQueue& q = functions_[function];
  // co_spawn may run a new run() inline up to its first suspension, so a throttle can pause the
  // queue during this loop: check before every start.
  while (q.running < options_.maxConcurrentPerFunction && !q.ready.empty() && q.pausedUntilMs <= clock_.nowMs()) {
    EventPtr e = std::move(q.ready.front());
    q.ready.pop_front();
    ++q.running;
    ++running_;
    asio::co_spawn(io_, run(std::move(e)), asio::detached);
  }
}

asio::awaitable<void> AsyncQueue::dispatchLoop() {
  while (dispatching_) {
    int64_t now = clock_.nowMs();
    while (!delayed_.empty() && delayed_.begin()->first <= now) {
      EventPtr e = std::move(delayed_.begin()->second);
      delayed_.erase(delayed_.begin());
      std::string fn = e->function;
      functions_[fn].ready.push_back(std::move(e));
    }
    int64_t next = delayed_.empty() ? INT64_MAX : delayed_.begin()->first;
    for (auto& [fn, q] : functions_) {
      if (q.ready.empty()) continue;
      if (q.pausedUntilMs > now) {
        next = std::min(next, q.pausedUntilMs);
        continue;
      }
      pump(fn);
    }
    auto deadline =
        next == INT64_MAX ? SteadyClock::time_point::max() : SteadyClock::now() + std::chrono::milliseconds(next - now);
    co_await dispatchWake_.waitUntil(deadline);
  }
}

asio::awaitable<void> AsyncQueue::run(EventPtr event) {
  const std::string fn = event->function;
  auto settle = [this, &fn]() {
    FunctionQueue& q = functions_[fn];
    --q.running;
    --running_;
    q.pausedUntilMs = 0;  // a run ended: there may be room again
    pump(fn);
  };
  auto target = resolver_(event->function, event->qualifier);
  if (!target) {
    std::fprintf(stderr, "lamina: async event %s for %s dropped: %s\n", event->requestId.c_str(), fn.c_str(),
                 target.error().message().c_str());
    ++stats(fn).dropped["FunctionNotFound"];
    finishEvent(std::move(event), nullptr, false, "");
    settle();
    co_return;
  }
  int64_t now = clock_.nowMs();
  if (target->disabled || now - event->receivedMs > int64_t(target->maxAgeSec) * 1000) {
    finishEvent(std::move(event), &*target, false, target->disabled ? "RetriesExhausted" : "EventAgeExceeded");
    settle();
    co_return;
  }

  FunctionStats& st = stats(fn);
  double ageMs = double(now - event->receivedMs);
  size_t b = 0;
  while (b < kAgeBucketsMs.size() && ageMs > kAgeBucketsMs[b]) ++b;
  ++st.ageBuckets[b];
  st.ageSumMs += ageMs;
  ++st.ageCount;

  SyncRequest req;
  req.image = target->image;
  req.requestId = event->requestId;
  req.payload = event->payload;  // kept for retries and the invocation record
  req.invokedArn = target->invokedArn;
  auto result = co_await invoker_.invoke(std::move(req));
  FunctionQueue& q = functions_[fn];
  if (!result && (result.error().code() == Code::kTooManyRequests || !dispatching_ ||
                  result.error().code() == Code::kServiceUnavailable)) {
    // Throttled (or shutting down): not an attempt. Back to the head of the queue.
    q.ready.push_front(std::move(event));
    --q.running;
    --running_;
    if (result.error().code() == Code::kTooManyRequests) {
      int64_t backoff = std::min(kThrottleBackoffCapMs, kThrottleBackoffMs << std::min(q.throttleStreak, 10));
      ++q.throttleStreak;
      q.pausedUntilMs = clock_.nowMs() + backoff;
      dispatchWake_.notify();
    }
    co_return;
  }
  q.throttleStreak = 0;
  ++event->attempts;
  bool failed = !result || result->functionError;
  std::string response;
  if (result) {
    response = "\"responseContext\":{\"statusCode\":200,\"executedVersion\":" +
               json::serialize(json::value(result->executedVersion)) +
               (result->functionError ? ",\"functionError\":\"Unhandled\"" : "") +
               "},\"responsePayload\":" + embedded(result->body);
  } else {  // lamina could not run it at all (an internal error): a failed attempt, with the reason
    response = "\"responseContext\":{\"statusCode\":500,\"executedVersion\":" +
               json::serialize(json::value(target->image->version)) +
               ",\"functionError\":\"Unhandled\"},\"responsePayload\":" +
               core::errorDocument("ServiceException", result.error().message());
  }
  event->lastResponse = std::move(response);
  if (!failed) {
    finishEvent(std::move(event), &*target, true, "Success");
  } else if (event->attempts <= target->maxRetries) {
    auto delay = options_.retryDelays[std::min(size_t(event->attempts - 1), options_.retryDelays.size() - 1)];
    int64_t at = clock_.nowMs() + delay.count();
    if (at - event->receivedMs > int64_t(target->maxAgeSec) * 1000) {
      // AWS does not wait for a retry that would come too late: the event fails now.
      finishEvent(std::move(event), &*target, false, "EventAgeExceeded");
    } else {
      event->nextMs = at;
      batch_.updates.push_back({event->id, event->attempts, event->nextMs, event->lastResponse});
      wakeCommitter();
      admit(std::move(event));
    }
  } else {
    finishEvent(std::move(event), &*target, false, "RetriesExhausted");
  }
  settle();
}

void AsyncQueue::finishEvent(EventPtr event, const AsyncTarget* target, bool success, const std::string& condition) {
  --depth_;
  batch_.deletes.push_back(event->id);
  wakeCommitter();
  if (!target) return;
  const std::string& fn = event->function;
  if (!success) ++stats(fn).dropped[condition];
  const std::string& destination = success ? target->onSuccess : target->onFailure;
  if (destination.empty()) {
    if (!success && !target->deadLetter.empty()) {
      // DeadLetterConfig targets are SQS queues or SNS topics, which lamina does not serve yet.
      ++stats(fn).deadLetterErrors;
      std::fprintf(stderr, "lamina: async event %s of %s could not reach its dead-letter queue %s: no SQS/SNS yet\n",
                   event->requestId.c_str(), fn.c_str(), target->deadLetter.c_str());
    }
    return;
  }
  std::string record = "{\"version\":\"1.0\",\"timestamp\":\"" + core::isoTimestamp(clock_.nowMs()) +
                       "\",\"requestContext\":{\"requestId\":" + json::serialize(json::value(event->requestId)) +
                       ",\"functionArn\":" + json::serialize(json::value(target->functionArn)) + ",\"condition\":\"" +
                       condition + "\",\"approximateInvokeCount\":" + std::to_string(event->attempts) +
                       "},\"requestPayload\":" + event->payload;
  if (!event->lastResponse.empty()) record += "," + event->lastResponse;
  record += "}";
  if (!deliverToFunction(destination, std::move(record), fn)) ++stats(fn).destinationFailures;
}

bool AsyncQueue::deliverToFunction(const std::string& arn, std::string body, const std::string& source) {
  std::string name, qualifier;
  if (!lambdaArn(arn, name, qualifier) || !resolver_(name, qualifier)) {
    std::fprintf(stderr, "lamina: async destination %s of %s is not a function that exists; record dropped\n",
                 arn.c_str(), source.c_str());
    return false;
  }
  auto event = std::make_unique<store::StoredEvent>();
  event->id = nextId_++;
  event->function = std::move(name);
  event->qualifier = std::move(qualifier);
  event->requestId = core::newUuid();
  event->payload = std::move(body);
  event->receivedMs = clock_.nowMs();
  event->nextMs = event->receivedMs;
  ++stats(event->function).received;
  ++depth_;
  // Same batch as the source event's delete: the hand-over is atomic.
  batch_.inserts.push_back(event.get());
  afterCommit_.push_back(std::move(event));
  wakeCommitter();
  return true;
}

void AsyncQueue::stopDispatching() {
  dispatching_ = false;
  dispatchWake_.notify();
}

asio::awaitable<void> AsyncQueue::finish(std::chrono::milliseconds limit) {
  stopDispatching();
  asio::steady_timer timer(io_);
  auto deadline = SteadyClock::now() + limit;
  while ((running_ > 0 || committing_ || !batch_.empty()) && SteadyClock::now() < deadline) {
    wakeCommitter();
    timer.expires_after(std::chrono::milliseconds(10));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  stopped_ = true;
  wakeCommitter();
}

std::string AsyncQueue::renderMetrics() const {
  std::string out;
  auto counter = [&](const char* name, const char* help, auto&& each) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", name, help, name);
    for (const auto& [fn, s] : *stats_) each(name, fn, s);
  };
  counter("lamina_async_events_received_total", "Events queued for asynchronous invocation (AsyncEventsReceived).",
          [&](const char* name, const std::string& fn, const FunctionStats& s) {
            out += fmt::format("{}{{function=\"{}\"}} {}\n", name, labelValue(fn), s.received);
          });
  counter("lamina_async_events_dropped_total",
          "Events that ended without a successful run, by reason (AsyncEventsDropped).",
          [&](const char* name, const std::string& fn, const FunctionStats& s) {
            for (const auto& [reason, n] : s.dropped)
              out += fmt::format("{}{{function=\"{}\",reason=\"{}\"}} {}\n", name, labelValue(fn), reason, n);
          });
  counter("lamina_async_destination_delivery_failures_total",
          "Invocation records that could not be delivered to their destination (DestinationDeliveryFailures).",
          [&](const char* name, const std::string& fn, const FunctionStats& s) {
            out += fmt::format("{}{{function=\"{}\"}} {}\n", name, labelValue(fn), s.destinationFailures);
          });
  counter("lamina_async_dead_letter_errors_total", "Events that could not be sent to the dead-letter queue.",
          [&](const char* name, const std::string& fn, const FunctionStats& s) {
            out += fmt::format("{}{{function=\"{}\"}} {}\n", name, labelValue(fn), s.deadLetterErrors);
          });
  const char* hist = "lamina_async_event_age_milliseconds";
  out += fmt::format(
      "# HELP {} Time from queueing to each attempt to run the event (AsyncEventAge).\n# TYPE {} histogram\n", hist,
      hist);
  for (const auto& [fn, s] : *stats_) {
    uint64_t cumulative = 0;
    for (size_t b = 0; b < kAgeBucketsMs.size(); ++b) {
      cumulative += s.ageBuckets[b];
      out += fmt::format("{}_bucket{{function=\"{}\",le=\"{}\"}} {}\n", hist, labelValue(fn), kAgeBucketsMs[b],
                         cumulative);
    }
    cumulative += s.ageBuckets.back();
    out += fmt::format("{}_bucket{{function=\"{}\",le=\"+Inf\"}} {}\n", hist, labelValue(fn), cumulative);
    out += fmt::format("{}_sum{{function=\"{}\"}} {:.0f}\n{}_count{{function=\"{}\"}} {}\n", hist, labelValue(fn),
                       s.ageSumMs, hist, labelValue(fn), s.ageCount);
  }
  out += fmt::format(
      "# HELP lamina_async_queue_depth Events accepted and not yet finished.\n# TYPE lamina_async_queue_depth "
      "gauge\nlamina_async_queue_depth {}\n",
      depth_);
  return out;
}

}  // namespace lamina::invoke
