// Environment: one execution environment — its process (through the sandbox), its own Runtime API
// endpoint, its log stream, and the Lambda state machine:
//   Creating → Initializing → Ready ⇄ Busy → Dead
// Init ends at the runtime's first GET /next. One invocation at a time.
//
// Isolated (Isolation::namespaces): the environment also owns a network namespace holding its
// Runtime API (127.0.0.1:9001) and an edge listener, and a cgroup (memory = MemorySize, CPU share,
// pids). Init runs at full CPU (as Lambda's init boost), then the quota drops to the MemorySize
// share. An idle environment is frozen after Isolation::freezeAfter and thawed when handed out.
// Every blocking cgroup step (create, freeze, kill, remove) runs on the blocking pool.
//
// Threading: lives on the daemon's I/O io_context; every method must be called from that thread.
// Lifetime: shared_ptr, because Runtime API connections and the exit watcher hold a reference while
// they wait; shutdown() wakes them all so the object can go away.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/log_sink.h"
#include "core/result.h"
#include "core/time.h"
#include "http/server.h"
#include "runtime/function_image.h"
#include "runtime/runtimes.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"

namespace boost::asio {
class io_context;
}

namespace lamina::runtime {

// One request travelling through an environment. Owned by the caller of invoke().
struct Invocation {
  enum class Outcome { kPending, kSuccess, kFunctionError, kTimeout, kExited, kResponseTooLarge };

  std::string requestId;
  std::string payload;  // moved into the /next response when delivered
  std::string invokedArn;
  std::string clientContext;  // decoded JSON, or empty
  std::string traceId;
  int64_t deadlineMs = 0;  // epoch ms, sent as Lambda-Runtime-Deadline-Ms

  Outcome outcome = Outcome::kPending;
  std::string result;        // response body, or the error document
  std::string errorType;     // Lambda-Runtime-Function-Error-Type, or the platform's error type
  std::string contentType;   // of a successful response
  std::string exitReason;    // "exit status 1" when the runtime died
  bool outOfMemory = false;  // ... killed by the cgroup's OOM killer (Runtime.OutOfMemory)
  std::string logTail;       // every log line of this invocation (the caller trims to 4 KB)
};

// Why Init failed, for the caller of the first invocation.
struct InitFailure {
  std::string errorType;  // "Runtime.ExitError", the type posted to /init/error, ...
  std::string body;       // the error document to return to the caller
};

// How environments are isolated; all off for the plain process sandbox.
struct Isolation {
  bool namespaces = false;                    // the sandbox is the namespace backend
  sandbox::CgroupManager* cgroups = nullptr;  // null: no cgroups (not root, or none usable)
  int hostCpus = 1;
  http::Handler edgeHandler;  // serves lamina's AWS APIs inside each environment's namespace
  http::ServerOptions edgeOptions;
  uint16_t edgePort = 0;                         // the port the edge listens on inside (the daemon's own port)
  class SparePool* spares = nullptr;             // prewarmed environments to start from (null: always build)
  class ZygotePool* zygotes = nullptr;           // interpreters to fork runtime processes from (null: always exec)
  std::chrono::milliseconds freezeAfter{100};    // idle time before an environment is frozen
  std::chrono::milliseconds shutdownGrace{500};  // SIGTERM → SIGKILL on a graceful stop
};

struct EnvironmentDeps {
  boost::asio::io_context& io;
  boost::asio::thread_pool& blocking;  // for spawn (fork/exec)
  sandbox::Sandbox& sandbox;
  RuntimeCatalog& runtimes;
  core::LogSink& logs;
  const core::Clock& clock;
  std::string edgeEndpoint;  // "http://127.0.0.1:9001": AWS_ENDPOINT_URL for function code
  std::string accessKeyId, secretAccessKey;
  Isolation isolation;
};

class Environment : public std::enable_shared_from_this<Environment> {
 public:
  enum class State { kCreating, kInitializing, kReady, kBusy, kDead };

  // `deps` must outlive the environment.
  static std::shared_ptr<Environment> create(const EnvironmentDeps& deps, std::shared_ptr<const FunctionImage> image);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  // Starts the runtime and waits for Init (up to 10 s). Precondition: Creating. On success the
  // environment is Ready; on failure it is Dead and the InitFailure says why.
  boost::asio::awaitable<std::expected<void, InitFailure>> start(const std::string& firstRequestId);

  // Runs one invocation to completion, timeout or crash. Precondition: Ready. Afterwards the
  // environment is Ready again, or Dead (timeout, crash, oversize response).
  boost::asio::awaitable<void> invoke(Invocation& inv);

  // Kills the process and wakes every waiter; the environment is Dead. Idempotent. Cleanup of
  // the process, cgroup and namespace finishes on the blocking pool.
  void shutdown();
  // Graceful: thaws, SIGTERM to the runtime, then shutdown() once it exits or after the grace
  // period. For idle environments (keep-alive expiry, retirement, eviction).
  void stop();

  // Called when the environment goes back to its pool: arms the idle freeze.
  void idle();
  // Before handing an idle environment out: waits for a freeze in progress and thaws. False if
  // the environment could not be thawed (it is then Dead).
  boost::asio::awaitable<bool> wake();

  // Writes a platform line (START/END/REPORT) to the log stream and the current invocation's tail.
  void platformLog(std::string_view line);

  // Before start(): this environment is provisioned concurrency (AWS_LAMBDA_INITIALIZATION_TYPE).
  void setProvisioned() { provisioned_ = true; }
  bool provisioned() const { return provisioned_; }
  State state() const { return state_; }
  const EnvironmentDeps& deps() const { return deps_; }
  const FunctionImage& image() const { return *image_; }
  const std::shared_ptr<const FunctionImage>& imagePtr() const { return image_; }
  double initDurationMs() const { return initDurationMs_; }
  uint64_t peakMemoryMb() const;
  const std::string& logStream() const { return logStream_; }
  std::string runtimeApiAddress() const;

  struct Impl;

 private:
  Environment(const EnvironmentDeps& deps, std::shared_ptr<const FunctionImage> image);
  void shutdown(bool cleanupInline);
  std::unique_ptr<Impl> impl_;
  const EnvironmentDeps& deps_;
  std::shared_ptr<const FunctionImage> image_;
  State state_ = State::kCreating;
  double initDurationMs_ = 0;
  bool provisioned_ = false;
  std::string logGroup_;  // "/aws/lambda/<name>", built once: every log line names it
  std::string logStream_;
  friend struct Impl;
};

}  // namespace lamina::runtime
