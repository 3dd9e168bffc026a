#include "runtime/environment.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <mutex>

#include "core/ids.h"
#include "core/json.h"
#include "core/offload.h"
#include "core/strings.h"
#include "http/server.h"
#include "runtime/notifier.h"
#include "runtime/spares.h"
#include "runtime/zygotes.h"

namespace lamina::runtime {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Bytes a runtime may post as a response: 6 MiB plus the 100 bytes of slack AWS's RIE allows.
constexpr size_t kMaxResponseBytes = 6 * 1024 * 1024 + 100;
constexpr auto kInitLimit = std::chrono::seconds(10);
constexpr size_t kTailKeep = 8 * 1024;

// What the blocking pool works on: cleanup and freezing happen there, after the environment
// itself may be gone. `mu` serializes the cgroup steps (the Cgroup is one-thread-at-a-time).
struct Resources {
  std::mutex mu;
  std::unique_ptr<sandbox::Cgroup> cgroup;
  std::unique_ptr<sandbox::Process> process;
};

// Kills and reaps everything of an environment, then removes its cgroup. Blocking.
struct CleanupJob {
  std::shared_ptr<Resources> res;
  void operator()() const {
    std::lock_guard lock(res->mu);
    if (res->cgroup) static_cast<void>(res->cgroup->killAll());  // thaws a frozen group too
    if (res->process) res->process->kill();
    res->process.reset();  // reaps
    if (res->cgroup) static_cast<void>(res->cgroup->remove());
    res->cgroup.reset();
  }
};

struct FreezeJob {
  std::shared_ptr<Resources> res;
  bool freeze;
  Result<void> operator()() const {
    std::lock_guard lock(res->mu);
    if (!res->cgroup) return fail(Code::kInternal, "no cgroup");
    return freeze ? res->cgroup->freeze() : res->cgroup->thaw();
  }
};

// Starts an isolated environment, blocking: its cgroup (before the clone on v2, which clones
// straight into it; on v1 while the child sets up its mounts); the child makes the Runtime API
// and edge listeners in its new network namespace and passes them back.
struct IsolatedSpawnJob {
  sandbox::Sandbox* sb;
  sandbox::ProcessSpec spec;
  sandbox::CgroupManager* cgroups;
  std::string cgroupName;
  sandbox::CgroupLimits limits;
  uint16_t edgePort;

  struct Started {
    std::unique_ptr<sandbox::Process> process;
    std::unique_ptr<sandbox::Cgroup> cgroup;
    core::UniqueFd api, edge;
  };
  Result<Started> operator()() {
    Started out;
    bool early = cgroups && cgroups->version() == "v2";
    if (early) {
      auto cg = cgroups->create(cgroupName, limits);
      if (!cg) return std::unexpected(cg.error());
      out.cgroup = std::move(*cg);
      spec.cgroup = out.cgroup.get();
    }
    // The child makes the listeners inside its own network namespace and hands them over.
    spec.listenPorts = {9001, edgePort};
    if (cgroups && !early) {  // v1: join while the child sets itself up
      spec.beforeStart = [&](pid_t pid) -> Result<void> {
        auto cg = cgroups->create(cgroupName, limits);
        if (!cg) return std::unexpected(cg.error());
        out.cgroup = std::move(*cg);
        return out.cgroup->addProcess(pid);
      };
    }
    auto process = sb->spawn(spec);
    if (!process) return std::unexpected(process.error());
    out.process = std::move(*process);
    auto listeners = out.process->takeListeners();
    if (listeners.size() != 2) return fail(Code::kInternal, "sandbox: no Runtime API listener");
    out.api = std::move(listeners[0]);
    out.edge = std::move(listeners[1]);
    return out;
  }
};

// Starts the function in a prewarmed spare: its limits, then the shell's start. Blocking.
struct StartSpareJob {
  Spare spare;
  sandbox::ProcessSpec spec;
  sandbox::CgroupLimits limits;
  Result<IsolatedSpawnJob::Started> operator()() {
    spare.keeper.reset();  // a zygote's keeper waiting inside exits
    if (spare.cgroup) {
      if (auto r = spare.cgroup->setLimits(limits); !r) return std::unexpected(r.error());
    }
    auto process = spare.shell->start(spec);
    if (!process) return std::unexpected(process.error());
    return IsolatedSpawnJob::Started{std::move(*process), std::move(spare.cgroup), std::move(spare.api),
                                     std::move(spare.edge)};
  }
};

// Starts the function with its runtime process forked from a zygote, in a spare (one is built if
// the pool has none). If that fails (the zygote or the spare's waiting process is gone), the
// environment is built the usual way (`fallback`, an exec). Blocking.
struct ZygoteStartJob {
  std::optional<Spare> spare;
  SpareOptions spareOptions;
  std::shared_ptr<sandbox::Zygote> zygote;
  std::string runtime;
  std::vector<std::string> zygoteArgv;
  IsolatedSpawnJob fallback;  // its spec is the exec's; its limits are the Init limits
  Result<IsolatedSpawnJob::Started> operator()() {
    if (!spare) {
      auto built = buildSpare(spareOptions);
      if (!built) return std::unexpected(built.error());
      spare = std::move(*built);
    }
    if (!spare->keeper || spare->keeperRuntime != runtime) {  // joining a v1 cgroup now costs ms
      spare->keeper.reset();
      auto keeper = zygote->prepare(spare->shell->pidfd(), spare->cgroup.get());
      if (!keeper) {
        if (zygote->alive()) return std::unexpected(keeper.error());
        std::fprintf(stderr, "lamina: the zygote died (%s); exec'ing instead\n", keeper.error().message().c_str());
        return fallback();
      }
      spare->keeper = std::move(*keeper);
    }
    if (spare->cgroup) {
      if (auto r = spare->cgroup->setLimits(fallback.limits); !r) return std::unexpected(r.error());
    }
    // The spec is the exec's but for argv; it goes back if this start falls back to an exec.
    std::swap(fallback.spec.argv, zygoteArgv);
    auto process = spare->shell->adopt(fallback.spec, *spare->keeper);
    if (!process) {  // e.g. the waiting process was killed: this cold start execs instead
      std::fprintf(stderr, "lamina: a zygote-born start failed (%s); exec'ing instead\n",
                   process.error().message().c_str());
      std::swap(fallback.spec.argv, zygoteArgv);
      return fallback();
    }
    return IsolatedSpawnJob::Started{std::move(*process), std::move(spare->cgroup), std::move(spare->api),
                                     std::move(spare->edge)};
  }
};

struct Environment::Impl {
  explicit Impl(asio::io_context& io) : exitWatch(io), output(io), freezeTimer(io) {}

  std::unique_ptr<http::Server> api;
  std::unique_ptr<http::Server> edge;  // isolated: the edge API inside the namespace
  std::shared_ptr<Resources> res = std::make_shared<Resources>();
  sandbox::Process* process = nullptr;  // res->process, for the I/O thread
  sandbox::Cgroup* cgroup = nullptr;    // res->cgroup; reads only here (peak, OOM, CPU quota)
  sandbox::CgroupLimits limits;
  asio::posix::stream_descriptor exitWatch;
  asio::posix::stream_descriptor output;
  Notifier initDone, nextReady, invokeDone;
  bool initCompleted = false;
  std::optional<InitFailure> initError;  // posted to /init/error
  std::optional<std::string> exitReason;
  Invocation* current = nullptr;
  bool delivered = false;
  std::string partialLine;
  Clock::time_point spawnedAt;
  Clock::time_point peakSampledAt;
  uint64_t peakBytes = 0;
  bool outOfMemory = false;
  // Freezing (I/O thread's view): armed timer, a freeze or thaw running on the pool, frozen.
  asio::steady_timer freezeTimer;
  bool freezeArmed = false, freezeBusy = false, frozen = false, freezeBroken = false;
  bool inPool = false;  // idle in the scheduler's pool (idle() .. wake())
  Clock::time_point idleSince;
  Notifier freezeDone, exited;
  bool stopping = false;
  std::array<char, 16384> buf{};
};

namespace {

http::Response jsonResponse(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.set("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

http::Response apiError(int status, std::string_view type, std::string_view message) {
  boost::json::object o{{"errorMessage", message}, {"errorType", type}};
  return jsonResponse(status, boost::json::serialize(o));
}

http::Response accepted() { return jsonResponse(202, R"({"status":"OK"})"); }

}  // namespace

Environment::Environment(const EnvironmentDeps& deps, std::shared_ptr<const FunctionImage> image)
    : impl_(std::make_unique<Impl>(deps.io)), deps_(deps), image_(std::move(image)) {
  int64_t now = deps_.clock.nowMs();
  logGroup_ = "/aws/lambda/" + image_->name;
  logStream_ = core::logStreamDate(now) + "/[" + image_->version + "]" + core::randomHex(16);
}

Environment::~Environment() {
  // Normally shut down long before (cleanup then ran on the pool). Destroyed alive only at daemon
  // teardown, when the pool may be gone: clean up here.
  bool alive = state_ != State::kDead;
  shutdown(/*cleanupInline=*/alive);
}

std::shared_ptr<Environment> Environment::create(const EnvironmentDeps& deps,
                                                 std::shared_ptr<const FunctionImage> image) {
  return std::shared_ptr<Environment>(new Environment(deps, std::move(image)));
}

std::string Environment::runtimeApiAddress() const { return impl_->api ? impl_->api->address() : std::string(); }

uint64_t Environment::peakMemoryMb() const {
  // Reading the peak costs a /proc (later cgroup) file read: sample at most every 100 ms, so a
  // tight stream of invokes does not pay it each time. The peak only grows, so a sample is a
  // lower bound that is at most 100 ms stale.
  Impl& impl = *impl_;
  auto now = Clock::now();
  if (impl.process &&
      (impl.peakSampledAt == Clock::time_point() || now - impl.peakSampledAt > std::chrono::milliseconds(100))) {
    uint64_t bytes = 0;
    if (impl.cgroup) {
      if (auto peak = impl.cgroup->peakMemoryBytes()) bytes = *peak;
    } else {
      bytes = impl.process->peakMemoryBytes();
    }
    if (bytes > 0) impl.peakBytes = std::max(impl.peakBytes, bytes);
    impl.peakSampledAt = now;
  }
  return (impl.peakBytes + (1 << 20) - 1) >> 20;
}

void Environment::platformLog(std::string_view line) {
  deps_.logs.append(logGroup_, logStream_, deps_.clock.nowMs(), line);
  if (Invocation* inv = impl_->current) {
    inv->logTail.append(line);
    inv->logTail.push_back('\n');
  }
}

namespace {

// Splits `data` into lines, logging each complete one; keeps the rest in `partial`.
void emitOutput(Environment& env, std::string& partial, std::string_view data) {
  size_t start = 0;
  while (true) {
    size_t nl = data.find('\n', start);
    if (nl == std::string_view::npos) break;
    std::string_view piece = data.substr(start, nl - start);
    if (partial.empty()) {
      env.platformLog(piece);
    } else {
      partial.append(piece);
      env.platformLog(partial);
      partial.clear();
    }
    start = nl + 1;
  }
  partial.append(data.substr(start));
  if (partial.size() > 256 * 1024) {  // a runtime that never writes a newline
    env.platformLog(partial);
    partial.clear();
  }
}

}  // namespace

// Reads whatever the runtime has written so far without waiting, so that a response's log lines
// land before END/REPORT. `flushPartial` also emits a trailing line without its newline.
static void drainOutput(Environment& env, Environment::Impl& impl, bool flushPartial) {
  if (impl.output.is_open()) {
    for (;;) {
      ssize_t n = ::read(impl.output.native_handle(), impl.buf.data(), impl.buf.size());
      if (n <= 0) break;
      emitOutput(env, impl.partialLine, std::string_view(impl.buf.data(), size_t(n)));
    }
  }
  if (flushPartial && !impl.partialLine.empty()) {
    std::string line = std::move(impl.partialLine);
    impl.partialLine.clear();
    env.platformLog(line);
  }
}

static asio::awaitable<void> readOutput(std::shared_ptr<Environment> self, Environment::Impl& impl) {
  for (;;) {
    auto [ec, n] = co_await impl.output.async_read_some(asio::buffer(impl.buf), kTuple);
    if (ec) break;
    emitOutput(*self, impl.partialLine, std::string_view(impl.buf.data(), n));
  }
}

static asio::awaitable<void> watchExit(std::shared_ptr<Environment> self, Environment::Impl& impl) {
  co_await impl.exitWatch.async_wait(asio::posix::stream_descriptor::wait_read, kTuple);
  impl.exited.notify();
  if (self->state() == Environment::State::kDead) co_return;  // shut down by us: nothing to report
  std::optional<int> status = impl.process ? impl.process->tryReap() : std::nullopt;
  impl.exitReason = status ? sandbox::describeWaitStatus(*status) : std::string("signal: killed");
  if (impl.cgroup) {
    auto oom = impl.cgroup->oomKilled();
    impl.outOfMemory = oom && *oom;
  }
  drainOutput(*self, impl, true);
  self->shutdown();
}

asio::awaitable<http::Response> handleRuntimeApi(std::shared_ptr<Environment> self, Environment::Impl& impl,
                                                 Environment::State& state, http::Request& req);

asio::awaitable<std::expected<void, InitFailure>> Environment::start(const std::string& firstRequestId) {
  LAMINA_ASSERT(state_ == State::kCreating);
  state_ = State::kInitializing;
  Impl& impl = *impl_;
  auto self = shared_from_this();
  auto failWith = [&](std::string type, std::string message) {
    shutdown();
    return std::unexpected(
        InitFailure{type, core::errorDocument(type, "RequestId: " + firstRequestId + " Error: " + message)});
  };

  std::weak_ptr<Environment> weak = self;
  http::Handler runtimeApi = [weak](http::Request& req) -> asio::awaitable<http::Response> {
    auto env = weak.lock();
    if (!env) co_return apiError(500, "InternalServerError", "environment is gone");
    co_return co_await handleRuntimeApi(env, *env->impl_, env->state_, req);
  };
  const http::ServerOptions runtimeApiOptions{kMaxResponseBytes, std::chrono::seconds(0)};
  const Isolation& iso = deps_.isolation;
  const FunctionImage& img = *image_;
  std::string runtimeApiAddress, edgeEndpoint = deps_.edgeEndpoint;
  if (iso.namespaces) {  // the listeners are made with the process (IsolatedSpawnJob)
    impl.limits = sandbox::limitsForMemory(img.memoryMb, iso.hostCpus);
    runtimeApiAddress = "127.0.0.1:9001";
    edgeEndpoint = "http://127.0.0.1:" + std::to_string(iso.edgePort);
  } else {
    auto api = http::Server::listen(deps_.io, "127.0.0.1", 0, runtimeApiOptions, runtimeApi);
    if (!api) co_return failWith("Runtime.Unknown", api.error().message());
    impl.api = std::move(*api);
    impl.api->start();
    runtimeApiAddress = impl.api->address();
  }

  std::string task = iso.namespaces ? std::string("/var/task") : img.codeDir.string();
  std::string runtimeDir = iso.namespaces ? std::string("/var/runtime") : deps_.runtimes.dir().string();
  auto launch = deps_.runtimes.launch(img, task, runtimeDir);
  if (!launch) co_return failWith("Runtime.InvalidEntrypoint", launch.error().message());

  sandbox::ProcessSpec spec;
  spec.executable = launch->executable;
  spec.argv = launch->argv;
  spec.cwd = task;
  spec.memoryMb = img.memoryMb;
  if (iso.namespaces) {
    spec.taskDir = img.codeDir;
    spec.runtimeDir = deps_.runtimes.dir();
    spec.tmpSizeMb = img.ephemeralStorageMb;
  }
  spec.env = baseEnvironment(task);
  // Customer variables may override the defaults above, never the reserved ones below.
  for (const auto& [k, v] : img.variables) {
    std::string prefix = k + "=";
    std::erase_if(spec.env, [&](const std::string& e) { return core::startsWith(e, prefix); });
    spec.env.push_back(prefix + v);
  }
  for (auto& e : launch->env) spec.env.push_back(std::move(e));
  std::vector<std::string> reserved = {
      "AWS_LAMBDA_RUNTIME_API=" + runtimeApiAddress,
      "_HANDLER=" + img.handler,
      "LAMBDA_TASK_ROOT=" + task,
      "LAMBDA_RUNTIME_DIR=/var/runtime",
      "AWS_REGION=" + img.region,
      "AWS_DEFAULT_REGION=" + img.region,
      "AWS_LAMBDA_FUNCTION_NAME=" + img.name,
      "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + std::to_string(img.memoryMb),
      "AWS_LAMBDA_FUNCTION_VERSION=" + img.version,
      std::string("AWS_LAMBDA_INITIALIZATION_TYPE=") + (provisioned_ ? "provisioned-concurrency" : "on-demand"),
      "AWS_LAMBDA_LOG_GROUP_NAME=" + logGroup_,
      "AWS_LAMBDA_LOG_STREAM_NAME=" + logStream_,
      "AWS_ACCESS_KEY_ID=" + deps_.accessKeyId,
      "AWS_ACCESS_KEY=" + deps_.accessKeyId,
      "AWS_SECRET_ACCESS_KEY=" + deps_.secretAccessKey,
      "AWS_SESSION_TOKEN=",
      "AWS_ENDPOINT_URL=" + edgeEndpoint,
  };
  for (auto& e : reserved) spec.env.push_back(std::move(e));

  platformLog("INIT_START Runtime Version: " + img.runtime);
  impl.spawnedAt = Clock::now();
  auto spawnFailed = [&](const Error& e) {
    // exec's EACCES/ENOENT: a bootstrap the sandbox user may not run (AWS says the same).
    bool entry = e.message().find("exec:") != std::string::npos;
    return failWith(entry ? "Runtime.InvalidEntrypoint" : "Runtime.Unknown",
                    "could not start the runtime: " + e.message());
  };
  if (iso.namespaces) {
    // Init runs at full speed (Lambda's init boost); the MemorySize share applies once it ends.
    sandbox::CgroupLimits boot = sandbox::limitsForInit(img.memoryMb, iso.hostCpus);
    // A zygote when the runtime has one running and nothing in the function's variables needs a
    // fresh interpreter (zygoteCompatible).
    std::shared_ptr<const ZygotePool::Ready> zygote;
    if (iso.zygotes && iso.spares && !launch->zygote.empty()) {
      zygote = iso.zygotes->get(launch->zygote);
      if (zygote && !zygoteCompatible(zygote->env, spec.env)) zygote = nullptr;
    }
    std::optional<Spare> spare = iso.spares ? iso.spares->take(zygote ? launch->zygote : "") : std::nullopt;
    Result<IsolatedSpawnJob::Started> started = fail(Code::kInternal, "not started");
    if (zygote) {
      ZygoteStartJob job{
          std::move(spare),
          iso.spares->options(),
          zygote->zygote,
          launch->zygote,
          launch->zygoteArgv,
          {&deps_.sandbox, std::move(spec), iso.cgroups, "env-" + core::randomHex(12), boot, iso.edgePort}};
      started = co_await core::offload(deps_.blocking, std::move(job));
    } else if (spare) {
      StartSpareJob job{std::move(*spare), std::move(spec), boot};
      started = co_await core::offload(deps_.blocking, std::move(job));
    } else {
      IsolatedSpawnJob job{&deps_.sandbox, std::move(spec), iso.cgroups, "env-" + core::randomHex(12),
                           boot,           iso.edgePort};
      started = co_await core::offload(deps_.blocking, std::move(job));
    }
    if (!started) co_return spawnFailed(started.error());
    impl.res->process = std::move(started->process);
    impl.res->cgroup = std::move(started->cgroup);
    impl.process = impl.res->process.get();
    impl.cgroup = impl.res->cgroup.get();
    auto api = http::Server::adopt(deps_.io, started->api.release(), runtimeApiOptions, std::move(runtimeApi));
    if (!api) co_return failWith("Runtime.Unknown", api.error().message());
    impl.api = std::move(*api);
    impl.api->start();
    auto edge = http::Server::adopt(deps_.io, started->edge.release(), iso.edgeOptions, iso.edgeHandler);
    if (!edge) co_return failWith("Runtime.Unknown", edge.error().message());
    impl.edge = std::move(*edge);
    impl.edge->start();
  } else {
    sandbox::Sandbox& sb = deps_.sandbox;
    auto spawnJob = [&sb, spec = std::move(spec)]() { return sb.spawn(spec); };
    auto proc = co_await core::offload(deps_.blocking, std::move(spawnJob));
    if (!proc) co_return spawnFailed(proc.error());
    impl.res->process = std::move(*proc);
    impl.process = impl.res->process.get();
  }
  impl.exitWatch.assign(::dup(impl.process->exitFd()));
  impl.output.assign(::dup(impl.process->outputFd()));
  asio::co_spawn(deps_.io, watchExit(self, impl), asio::detached);
  asio::co_spawn(deps_.io, readOutput(self, impl), asio::detached);

  auto deadline = impl.spawnedAt + kInitLimit;
  while (!impl.initCompleted && !impl.initError && state_ != State::kDead && Clock::now() < deadline)
    co_await impl.initDone.waitUntil(deadline);
  initDurationMs_ = std::chrono::duration<double, std::milli>(Clock::now() - impl.spawnedAt).count();
  if (impl.initCompleted) {
    if (impl.cgroup) {  // the end of the init boost: the MemorySize share from now on
      if (auto r = impl.cgroup->setCpuQuota(impl.limits.cpuQuotaUs, impl.limits.cpuPeriodUs); !r)
        co_return failWith("Runtime.Unknown", r.error().message());
    }
    co_return std::expected<void, InitFailure>();
  }

  std::string type, body;
  std::string status = "error";
  if (impl.initError) {
    type = impl.initError->errorType;
    body = impl.initError->body;
  } else if (state_ == State::kDead) {
    type = impl.outOfMemory ? "Runtime.OutOfMemory" : "Runtime.ExitError";
    body = core::errorDocument(type, "RequestId: " + firstRequestId + " Error: Runtime exited with error: " +
                                         impl.exitReason.value_or("signal: killed"));
  } else {
    status = "timeout";
    type = "Sandbox.Timedout";
    body = core::errorDocument(type, "RequestId: " + firstRequestId + " Error: Task timed out after 10.00 seconds");
  }
  drainOutput(*this, impl, true);
  platformLog(fmt::format("INIT_REPORT Init Duration: {:.2f} ms\tPhase: init\tStatus: {}\tError Type: {}",
                          initDurationMs_, status, type));
  shutdown();
  co_return std::unexpected(InitFailure{type, body});
}

asio::awaitable<void> Environment::invoke(Invocation& inv) {
  LAMINA_ASSERT(state_ == State::kReady);
  Impl& impl = *impl_;
  auto self = shared_from_this();
  state_ = State::kBusy;
  impl.current = &inv;
  impl.delivered = false;
  impl.nextReady.notify();

  auto deadline = Clock::now() + std::chrono::milliseconds(std::max<int64_t>(0, inv.deadlineMs - deps_.clock.nowMs()));
  while (inv.outcome == Invocation::Outcome::kPending && state_ != State::kDead && Clock::now() < deadline)
    co_await impl.invokeDone.waitUntil(deadline);

  if (inv.outcome == Invocation::Outcome::kPending) {
    if (state_ == State::kDead) {
      inv.outcome = Invocation::Outcome::kExited;
      inv.exitReason = impl.exitReason.value_or("signal: killed");
      inv.outOfMemory = impl.outOfMemory;
    } else {
      inv.outcome = Invocation::Outcome::kTimeout;
    }
  }
  drainOutput(*this, impl, true);
  if (inv.outcome == Invocation::Outcome::kTimeout) shutdown();
  impl.current = nullptr;
  impl.delivered = false;
  if (state_ == State::kBusy) state_ = State::kReady;
}

void Environment::shutdown() { shutdown(false); }

void Environment::shutdown(bool cleanupInline) {
  Impl& impl = *impl_;
  if (state_ == State::kDead) return;
  state_ = State::kDead;
  if (impl.process) impl.process->kill();
  if (impl.api) impl.api->stop();
  if (impl.edge) impl.edge->stop();
  boost::system::error_code ec;
  impl.output.cancel(ec);
  impl.exitWatch.cancel(ec);
  impl.freezeTimer.cancel();
  impl.initDone.notify();
  impl.nextReady.notify();
  impl.invokeDone.notify();
  impl.exited.notify();
  impl.peakSampledAt = {};  // a last look at the peak (an OOM kill's REPORT shows it) while it exists
  static_cast<void>(peakMemoryMb());
  impl.process = nullptr;
  impl.cgroup = nullptr;
  // Reaping, killing a frozen group and removing it block: the pool does it, after any freeze
  // still running there (Resources::mu).
  if (cleanupInline) {
    CleanupJob{impl.res}();
  } else {
    asio::post(deps_.blocking, CleanupJob{impl.res});
  }
}

static asio::awaitable<void> gracefulStop(std::shared_ptr<Environment> self, Environment::Impl& impl,
                                          std::chrono::milliseconds grace) {
  if (!co_await self->wake()) co_return;
  if (self->state() == Environment::State::kDead) co_return;
  impl.process->terminate();
  auto deadline = Clock::now() + grace;
  while (self->state() != Environment::State::kDead && Clock::now() < deadline)
    co_await impl.exited.waitUntil(deadline);
  self->shutdown();
}

void Environment::stop() {
  Impl& impl = *impl_;
  if (state_ == State::kDead || impl.stopping) return;
  impl.stopping = true;
  if (!impl.process || deps_.isolation.shutdownGrace.count() <= 0) {
    shutdown();
    return;
  }
  asio::co_spawn(deps_.io, gracefulStop(shared_from_this(), impl, deps_.isolation.shutdownGrace), asio::detached);
}

static asio::awaitable<void> freezeNow(std::shared_ptr<Environment> self, Environment::Impl& impl) {
  impl.freezeBusy = true;
  FreezeJob job{impl.res, true};  // named: GCC 12 destroys temporaries in co_await twice
  auto frozen = co_await core::offload(self->deps().blocking, std::move(job));
  impl.freezeBusy = false;
  if (frozen) {
    impl.frozen = true;
  } else {
    impl.freezeBroken = true;  // e.g. no freezer: never try again for this environment
    std::fprintf(stderr, "lamina: cannot freeze an idle environment of %s: %s\n", self->image().name.c_str(),
                 frozen.error().message().c_str());
  }
  impl.freezeDone.notify();
}

static void armFreeze(const std::shared_ptr<Environment>& self, Environment::Impl& impl,
                      std::chrono::steady_clock::duration after) {
  impl.freezeArmed = true;
  impl.freezeTimer.expires_after(after);
  std::weak_ptr<Environment> weak = self;
  impl.freezeTimer.async_wait([weak, &impl](boost::system::error_code ec) {
    auto env = weak.lock();
    if (!env) return;
    impl.freezeArmed = false;
    if (ec || env->state() != Environment::State::kReady || !impl.inPool || impl.stopping) return;
    auto idleFor = Clock::now() - impl.idleSince;
    auto wanted = env->deps().isolation.freezeAfter;
    if (idleFor < wanted) {  // used and released again since the timer was armed
      armFreeze(env, impl, wanted - idleFor);
      return;
    }
    asio::co_spawn(env->deps().io, freezeNow(env, impl), asio::detached);
  });
}

void Environment::idle() {
  Impl& impl = *impl_;
  impl.inPool = true;
  impl.idleSince = Clock::now();
  if (!impl.cgroup || impl.freezeBroken || deps_.isolation.freezeAfter.count() <= 0) return;
  if (impl.freezeArmed || impl.frozen || impl.freezeBusy || state_ != State::kReady) return;
  armFreeze(shared_from_this(), impl, deps_.isolation.freezeAfter);
}

asio::awaitable<bool> Environment::wake() {
  Impl& impl = *impl_;
  impl.inPool = false;
  while (impl.freezeBusy) co_await impl.freezeDone.wait();
  if (state_ == State::kDead) co_return false;
  if (!impl.frozen) co_return true;
  auto self = shared_from_this();
  impl.freezeBusy = true;
  FreezeJob job{impl.res, false};
  auto thawed = co_await core::offload(deps_.blocking, std::move(job));
  impl.freezeBusy = false;
  impl.freezeDone.notify();
  if (!thawed) {
    shutdown();
    co_return false;
  }
  impl.frozen = false;
  co_return state_ != State::kDead;
}

// `self` keeps the environment alive while a request (a long-polling /next) waits in here.
asio::awaitable<http::Response> handleRuntimeApi([[maybe_unused]] std::shared_ptr<Environment> self,
                                                 Environment::Impl& impl, Environment::State& state,
                                                 http::Request& req) {
  using State = Environment::State;
  using Outcome = Invocation::Outcome;
  std::string_view path = req.path();
  constexpr std::string_view kPrefix = "/2018-06-01/runtime/";
  if (path == "/2018-06-01/ping") co_return jsonResponse(200, "pong");
  if (!core::startsWith(path, kPrefix)) co_return apiError(404, "InvalidRequest", "unknown path");
  path.remove_prefix(kPrefix.size());

  if (path == "invocation/next" && req.method == "GET") {
    if (state == State::kInitializing) {
      impl.initCompleted = true;
      state = State::kReady;
      impl.initDone.notify();
    } else if (impl.current && impl.delivered && impl.current->outcome == Outcome::kPending) {
      co_return apiError(403, "InvalidStateTransition", "State transition from Running to Ready failed");
    }
    while (!(impl.current && !impl.delivered) && state != State::kDead) co_await impl.nextReady.wait();
    if (state == State::kDead) {
      http::Response r = apiError(500, "InternalServerError", "environment is shutting down");
      r.closeConnection = true;
      co_return r;
    }
    Invocation& inv = *impl.current;
    impl.delivered = true;
    http::Response r;
    r.status = 200;
    r.set("Content-Type", "application/json");
    r.set("Lambda-Runtime-Aws-Request-Id", inv.requestId);
    r.set("Lambda-Runtime-Deadline-Ms", std::to_string(inv.deadlineMs));
    r.set("Lambda-Runtime-Invoked-Function-Arn", inv.invokedArn);
    r.set("Lambda-Runtime-Trace-Id", inv.traceId);
    if (!inv.clientContext.empty()) r.set("Lambda-Runtime-Client-Context", inv.clientContext);
    r.body = std::move(inv.payload);
    co_return r;
  }

  if (path == "init/error" && req.method == "POST") {
    if (state != State::kInitializing || impl.initError)
      co_return apiError(403, "InvalidStateTransition", "State transition from Ready to InitError failed");
    std::string type(req.header("lambda-runtime-function-error-type"));
    impl.initError =
        InitFailure{type.empty() ? "Runtime.Unknown" : type,
                    req.body.empty() ? core::errorDocument(type.empty() ? "Runtime.Unknown" : type, "") : req.body};
    impl.initDone.notify();
    co_return accepted();
  }

  if (core::startsWith(path, "invocation/") && req.method == "POST") {
    std::string_view rest = path.substr(std::string_view("invocation/").size());
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) co_return apiError(404, "InvalidRequest", "unknown path");
    auto id = core::uriDecode(rest.substr(0, slash));
    std::string_view verb = rest.substr(slash + 1);
    if (verb != "response" && verb != "error") co_return apiError(404, "InvalidRequest", "unknown path");
    Invocation* inv = impl.current;
    if (!id || !inv || !impl.delivered || inv->requestId != *id || inv->outcome != Outcome::kPending)
      co_return apiError(400, "InvalidRequestID", "Invalid request ID");
    if (req.bodyTooLarge) {
      inv->outcome = Outcome::kResponseTooLarge;
      inv->errorType = "Function.ResponseSizeTooLarge";
      std::string_view len = req.header("content-length");
      inv->result = core::errorDocument(
          "Function.ResponseSizeTooLarge",
          fmt::format("Response payload size ({} bytes) exceeded maximum allowed payload size ({} bytes).",
                      len.empty() ? std::string("unknown") : std::string(len), kMaxResponseBytes));
      impl.invokeDone.notify();
      http::Response r = apiError(413, "RequestEntityTooLarge",
                                  fmt::format("Exceeded maximum allowed payload size ({} bytes).", kMaxResponseBytes));
      r.closeConnection = true;
      co_return r;
    }
    if (verb == "response") {
      std::string_view mode = req.header("lambda-runtime-function-response-mode");
      if (!mode.empty() && mode != "streaming")
        co_return apiError(400, "InvalidFunctionResponseMode", "Invalid function response mode");
      inv->outcome = Outcome::kSuccess;
      inv->contentType = std::string(req.header("content-type"));
    } else {
      inv->outcome = Outcome::kFunctionError;
      inv->errorType = std::string(req.header("lambda-runtime-function-error-type"));
    }
    inv->result = std::move(req.body);
    impl.invokeDone.notify();
    co_return accepted();
  }
  co_return apiError(404, "InvalidRequest", "unknown path");
}

}  // namespace lamina::runtime
