// AsyncQueue: asynchronous invocation (InvocationType Event) — a durable event queue with AWS's
// promise: an accepted event runs, is retried on function errors (MaximumRetryAttempts, with
// delays), waits out throttles, and in the end either succeeded or reached its failure
// destination, within MaximumEventAgeInSeconds.
//
// Durability: enqueue() answers only once the event's row is committed (EventRepo). Commits are
// grouped: while one transaction is being written, everything that arrives joins the next one, so
// thousands of events per second cost a handful of fsyncs. Every later change (a retry's attempt
// count, the final delete, a destination's new event) goes through the same batches; a batch that
// deletes events first flushes the function logs (`beforeCommit`), so a finished event's log lines
// are on disk before its row is gone. After `kill -9`, load() brings back every event not yet
// finished; only a run cut by the crash can run twice.
//
// Dispatch: per function, up to `maxConcurrentPerFunction` events run at once through the Invoker
// (the same path, logs and metrics as a synchronous invoke; retries keep the event's request id).
// A throttled event goes back to the head of its function's queue and the function pauses until
// one of its runs ends or a short backoff passes; throttles do not count as attempts.
//
// Threading: the daemon's I/O thread only, except EventRepo work on the blocking pool. The
// io_context, pool, repo, invoker and clock must outlive the queue.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "invoke/async_target.h"
#include "invoke/invoker.h"
#include "runtime/notifier.h"
#include "store/event_repo.h"

namespace lamina::invoke {

struct AsyncOptions {
  // Delay before retry 1, 2, ... (the last one repeats). AWS waits about 1 then 2 minutes.
  std::vector<std::chrono::milliseconds> retryDelays{std::chrono::minutes(1), std::chrono::minutes(2)};
  int maxConcurrentPerFunction = 32;
};

class AsyncQueue {
 public:
  // The target of (function, qualifier) now; kResourceNotFound once it is gone.
  using Resolver = std::function<Result<AsyncTarget>(const std::string& function, const std::string& qualifier)>;

  AsyncQueue(boost::asio::io_context& io, boost::asio::thread_pool& blocking, store::EventRepo& repo, Invoker& invoker,
             const core::Clock& clock, Resolver resolver, AsyncOptions options);
  ~AsyncQueue();
  AsyncQueue(const AsyncQueue&) = delete;
  AsyncQueue& operator=(const AsyncQueue&) = delete;

  // Reads the queue left by the previous run (blocking; before start()). Returns how many.
  Result<size_t> load();
  // Called on the blocking pool before a batch that finishes events is committed.
  void setBeforeCommit(std::function<void()> fn) { beforeCommit_ = std::move(fn); }
  // Starts the committer and dispatcher.
  void start();

  // Queues one event; returns once it is durable (then the caller answers 202). `payload` is
  // JSON. Errors: kServiceUnavailable while stopping, kInternal if SQLite failed.
  boost::asio::awaitable<Result<void>> enqueue(std::string function, std::string qualifier, std::string requestId,
                                               std::string payload);

  // Shutdown, first half: start no new runs (queued events stay queued for the next start).
  void stopDispatching();
  // Second half, after the invoker drained: wait for running events to settle, then commit
  // what is pending and stop.
  boost::asio::awaitable<void> finish(std::chrono::milliseconds limit);

  size_t depth() const { return depth_; }
  // Prometheus text for the async metrics (appended to GET /metrics).
  std::string renderMetrics() const;

 private:
  using EventPtr = std::unique_ptr<store::StoredEvent>;
  struct FunctionQueue {
    std::deque<EventPtr> ready;
    int running = 0;
    int64_t pausedUntilMs = 0;  // throttled: start nothing before this (clock ms)
    int throttleStreak = 0;
  };
  struct BatchAck {
    Result<void> result;
    bool done = false;
    runtime::Notifier notifier;
  };
  struct FunctionStats;

  boost::asio::awaitable<void> commitLoop();
  boost::asio::awaitable<void> dispatchLoop();
  boost::asio::awaitable<void> run(EventPtr event);
  // Makes a committed event runnable (now or at its nextMs).
  void admit(EventPtr event);
  void pump(const std::string& function);
  void wakeCommitter() { commitWake_.notify(); }
  // Ends an event: its row is deleted, plus `record` sent to the destination ARN if any.
  void finishEvent(EventPtr event, const AsyncTarget* target, bool success, const std::string& condition);
  bool deliverToFunction(const std::string& arn, std::string body, const std::string& source);
  FunctionStats& stats(const std::string& function);

  boost::asio::io_context& io_;
  boost::asio::thread_pool& blocking_;
  store::EventRepo& repo_;
  Invoker& invoker_;
  const core::Clock& clock_;
  Resolver resolver_;
  AsyncOptions options_;
  std::function<void()> beforeCommit_;

  int64_t nextId_ = 1;
  size_t depth_ = 0;  // events accepted and not finished
  // The batch being gathered, who waits for it, and what becomes runnable once it is committed.
  store::EventBatch batch_;
  std::shared_ptr<BatchAck> ack_;
  std::vector<EventPtr> afterCommit_;
  runtime::Notifier commitWake_;
  bool committing_ = false;

  std::map<std::string, FunctionQueue> functions_;
  std::multimap<int64_t, EventPtr> delayed_;  // by nextMs
  runtime::Notifier dispatchWake_;
  int running_ = 0;
  bool started_ = false;
  bool dispatching_ = true;
  bool stopped_ = false;
  std::unique_ptr<std::map<std::string, FunctionStats>> stats_;
};

}  // namespace lamina::invoke
