#include "server/daemon.h"

#include <fmt/format.h>
#include <sched.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "api/function_registry.h"
#include "api/lambda_api.h"
#include "artifact/code_store.h"
#include "core/ids.h"
#include "core/strings.h"
#include "core/time.h"
#include "http/aws_error.h"
#include "http/server.h"
#include "http/sigv4.h"
#include "invoke/async_queue.h"
#include "invoke/invoker.h"
#include "runtime/runtimes.h"
#include "runtime/spares.h"
#include "runtime/zygotes.h"
#include "sandbox/sandbox.h"
#include "scheduler/scheduler.h"
#include "server/isolation.h"
#include "services/logs/log_store.h"
#include "services/logs/logs_api.h"
#include "store/database.h"
#include "store/event_repo.h"
#include "store/function_repo.h"

namespace lamina::server {

namespace asio = boost::asio;

namespace {

int die(const std::string& message) {
  std::fprintf(stderr, "lamina: %s\n", message.c_str());
  return 1;
}

bool isLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost" || core::startsWith(host, "127.");
}

// The largest body the edge reads: CreateFunction with a 50 MB zip, base64-encoded (AWS's limit).
constexpr size_t kEdgeBodyLimit = 70167211;

// Runs the I/O loop. With `busyPoll` > 0 the loop keeps polling for that long after the last
// handler ran before it sleeps in epoll_wait: on a VM, waking a halted vCPU costs tens of
// microseconds, several times per invoke (client → edge → runtime → edge → client), so a short spin
// on a tight stream of invokes cuts latency; an idle daemon still sleeps.
void runLoop(asio::io_context& io, std::chrono::microseconds busyPoll) {
  if (busyPoll.count() <= 0) {
    io.run();
    return;
  }
  auto last = std::chrono::steady_clock::now();
  while (!io.stopped()) {
    if (io.poll() > 0) {
      last = std::chrono::steady_clock::now();
      continue;
    }
    if (io.stopped()) break;
    if (std::chrono::steady_clock::now() - last < busyPoll) {
      // Give the core away if anything else wants it (on 2 cores the runtime and the client
      // compete with us); without this the spin shows up in p99.
      sched_yield();
      continue;
    }
    io.run_one();
    last = std::chrono::steady_clock::now();
  }
}

int hostCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

}  // namespace

int runDaemon(const DaemonOptions& opt) {
  size_t colon = opt.listen.rfind(':');
  if (colon == std::string::npos) return die("--listen wants HOST:PORT, got '" + opt.listen + "'");
  std::string host = opt.listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int port = std::atoi(opt.listen.c_str() + colon + 1);
  if (port < 0 || port > 65535) return die("--listen port out of range in '" + opt.listen + "'");
  if (!isLoopback(host) && opt.accessKeyId == "test" && opt.secretAccessKey == "test")
    return die("refusing to listen on " + host +
               " with the default test/test key pair: anyone who can reach the port could run code. Set "
               "--access-key/--secret-key (or LAMINA_ACCESS_KEY_ID / LAMINA_SECRET_ACCESS_KEY).");
  if (opt.accessKeyId.empty() || opt.secretAccessKey.empty())
    return die("the access key and secret key must not be empty");

  std::error_code ec;
  // Normalized: the cgroup instance is a hash of this path, so "./d", "d" and "d/" must agree.
  std::filesystem::path data = std::filesystem::absolute(opt.dataDir, ec).lexically_normal();
  if (!data.has_filename()) data = data.parent_path();
  std::filesystem::create_directories(data, ec);
  if (ec) return die("cannot create the data directory " + data.string() + ": " + ec.message());

  auto db = store::Database::open(data / "lamina.db");
  if (!db) return die(db.error().message());
  store::FunctionRepo repo(**db);
  auto code = artifact::CodeStore::open(data / "code");
  if (!code) return die(code.error().message());
  core::SystemClock clock;
  auto logs = services::logs::LogStore::open(data / "logs", clock);
  if (!logs) return die(logs.error().message());
  auto runtimes = runtime::RuntimeCatalog::open(data / "runtimes");
  if (!runtimes) return die(runtimes.error().message());
  auto isolation = setUpIsolation(opt.sandbox, data);
  if (!isolation) return die(isolation.error().message());
  for (const auto& w : isolation->warnings) std::fprintf(stderr, "lamina: WARNING: %s\n", w.c_str());
  for (const auto& f : isolation->facts) std::fprintf(stderr, "lamina: isolation: %s\n", f.c_str());
  sandbox::Sandbox* sandbox = isolation->sandbox.get();

  asio::io_context io(1);
  asio::thread_pool blocking(2);
  std::string codeUrlSecret = core::randomHex(32);

  std::unique_ptr<http::Server> edge;
  auto edgeHandlerState = std::make_shared<std::function<asio::awaitable<http::Response>(http::Request&)>>();
  auto bound =
      http::Server::listen(io, host, uint16_t(port), http::ServerOptions{kEdgeBodyLimit, std::chrono::seconds(300)},
                           [edgeHandlerState](http::Request& req) { return (*edgeHandlerState)(req); });
  if (!bound) return die(bound.error().message() + " (is another lamina running? choose another --listen port)");
  edge = std::move(*bound);
  std::string edgeAddress = edge->address();

  runtime::Isolation envIsolation;
  envIsolation.namespaces = isolation->namespaces;
  envIsolation.cgroups = isolation->cgroups.get();
  envIsolation.hostCpus = hostCpus();
  // Inside an environment the edge answers on the daemon's port, except where that is the
  // Runtime API's 9001 (the default --listen): there it is 9000. AWS_ENDPOINT_URL says which.
  envIsolation.edgePort = edge->port() == 9001 ? 9000 : edge->port();
  envIsolation.edgeOptions = http::ServerOptions{kEdgeBodyLimit, std::chrono::seconds(300)};
  envIsolation.edgeHandler = [edgeHandlerState](http::Request& req) { return (*edgeHandlerState)(req); };
  envIsolation.freezeAfter = opt.freezeAfter;
  envIsolation.shutdownGrace = opt.shutdownGrace;
  std::unique_ptr<runtime::SparePool> spares;
  // Spares need root: a shell's code tree is passed as a mount fd, which only a privileged daemon
  // can make. In user namespace mode every environment is built from scratch.
  std::unique_ptr<runtime::ZygotePool> zygotes;
  if (isolation->namespaces && !isolation->userNamespaces && opt.spares > 0) {
    runtime::SpareOptions spareOptions{sandbox,    isolation->cgroups.get(), (*runtimes)->dir(), envIsolation.edgePort,
                                       opt.spares, envIsolation.hostCpus};
    if (opt.zygotes) {
      zygotes = std::make_unique<runtime::ZygotePool>(blocking, *sandbox, **runtimes);
      envIsolation.zygotes = zygotes.get();
      spareOptions.keeperSource = [z = zygotes.get()](const std::vector<std::string>& covered) {
        return z->forSpares(covered);
      };
    }
    spares = std::make_unique<runtime::SparePool>(io, blocking, std::move(spareOptions));
    envIsolation.spares = spares.get();
  }
  runtime::EnvironmentDeps envDeps{io,
                                   blocking,
                                   *sandbox,
                                   **runtimes,
                                   **logs,
                                   clock,
                                   "http://" + edgeAddress,
                                   opt.accessKeyId,
                                   opt.secretAccessKey,
                                   std::move(envIsolation)};
  scheduler::Scheduler scheduler(
      envDeps, scheduler::Options{opt.keepAlive, opt.accountConcurrency, opt.scaleUpPer10s, opt.adaptiveKeepAlive,
                                  opt.keepAliveBin, opt.memoryBudgetMb});
  invoke::Invoker invoker(scheduler, clock);
  api::FunctionRegistry registry(api::RegistryDeps{
      blocking, repo, *code, clock, [&](const std::string& r) { return (*runtimes)->check(r); },
      [&](const std::string& name, const std::string& version, const std::string& revision) {
        scheduler.retire(name, version, revision);
      },
      [&](const std::string& name, int reserved) { scheduler.setReservation(name, reserved); }, opt.accountConcurrency,
      [&](const std::string& qualifier, const std::shared_ptr<const runtime::FunctionImage>& image, int count) {
        scheduler.setProvisioned(image, qualifier, count);
      }});
  if (auto loaded = registry.load(); !loaded) return die(loaded.error().message());
  store::EventRepo eventRepo(**db);
  invoke::AsyncQueue asyncQueue(
      io, blocking, eventRepo, invoker, clock,
      [&registry](const std::string& fn, const std::string& qualifier) { return registry.asyncTarget(fn, qualifier); },
      invoke::AsyncOptions{opt.asyncRetryDelays, opt.asyncConcurrency});
  auto queued = asyncQueue.load();
  if (!queued) return die(queued.error().message());
  if (*queued > 0) std::fprintf(stderr, "lamina: resuming %zu queued asynchronous event(s)\n", *queued);
  api::LambdaApi lambda(registry, invoker, asyncQueue, clock, api::ApiOptions{opt.accountConcurrency, codeUrlSecret});
  http::sigv4::Credentials creds{opt.accessKeyId, opt.secretAccessKey};
  services::logs::LogStore& logStore = **logs;

  *edgeHandlerState = [&](http::Request& req) -> asio::awaitable<http::Response> {
    std::string requestId = core::newUuid();
    std::string_view path = req.path();
    if (core::startsWith(path, "/_lamina/code/")) co_return co_await lambda.downloadCode(req, requestId);
    if (path == "/metrics" && req.method == "GET") {  // Prometheus scrapes unsigned, like the health check
      http::Response r;
      r.set("Content-Type", "text/plain; version=0.0.4");
      r.body = invoker.metrics().render([&](const std::string& fn) { return scheduler.concurrentExecutions(fn); },
                                        opt.accountConcurrency,
                                        [&](const std::string& fn, const std::string& version) {
                                          auto st = scheduler.provisionedStatus(fn, version);
                                          return std::pair<int, int>{st.allocated, st.allocated - st.available};
                                        }) +
               asyncQueue.renderMetrics();
      if (zygotes) {
        r.body +=
            "# HELP lamina_zygotes_running Pre-started interpreters that cold starts fork from.\n"
            "# TYPE lamina_zygotes_running gauge\nlamina_zygotes_running " +
            std::to_string(zygotes->ready()) + "\n";
      }
      co_return r;
    }
    if (path == "/_lamina/health") {
      http::Response r;
      r.set("Content-Type", "application/json");
      r.body = R"({"status":"ok"})";
      co_return r;
    }
    if (req.bodyTooLarge)  // the body was not read, so its signature cannot be checked either
      co_return http::awsError(
          Error(Code::kRequestTooLarge,
                "Request must be smaller than " + std::to_string(kEdgeBodyLimit) + " bytes for the operation"),
          requestId);
    auto caller = http::sigv4::verify(req, creds, clock.nowMs() / 1000);
    if (!caller) co_return http::awsError(caller.error(), requestId);
    if (caller->service == "lambda") co_return co_await lambda.handle(req, caller->region, requestId);
    std::string_view target = req.header("x-amz-target");
    if (caller->service == "logs" && core::startsWith(target, "Logs_20140328.")) {
      co_return services::logs::handleLogsRequest(logStore, req, target.substr(14), clock.nowMs());
    }
    co_return http::awsError(Error(Code::kUnknownOperation, "lamina does not serve the '" + caller->service +
                                                                "' service (yet); it serves lambda and logs"),
                             requestId);
  };
  // A batch that finishes async events first puts their log lines on disk.
  asyncQueue.setBeforeCommit([&logStore]() { logStore.flush(); });
  edge->start();
  if (spares) spares->start();
  asyncQueue.start();

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code sigEc, int sig) {
    if (sigEc) return;
    std::fprintf(stderr, "lamina: %s received, finishing %d in-flight invocation(s)\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", invoker.inFlight());
    edge->drain();
    asyncQueue.stopDispatching();  // queued events wait for the next start
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await invoker.drain(opt.drainLimit);
          co_await asyncQueue.finish(std::chrono::seconds(5));
          asio::steady_timer wait(io);
          for (int i = 0; i < 250 && edge->busyConnections() > 0; ++i) {  // let responses reach clients
            wait.expires_after(std::chrono::milliseconds(20));
            co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
          }
          // Idle environments get SIGTERM and their grace period, as on an idle expiry.
          if (scheduler.stopIdle() > 0) {
            wait.expires_after(envDeps.isolation.shutdownGrace + std::chrono::milliseconds(50));
            co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
          }
          edge->stop();
          if (spares) spares->stop();
          if (zygotes) zygotes->stop();
          scheduler.shutdownAll();
          logStore.flush();
          io.stop();
        },
        asio::detached);
  });
  std::signal(SIGPIPE, SIG_IGN);

  std::printf("lamina: listening on http://%s (data in %s, sandbox: %s)\n", edgeAddress.c_str(), data.c_str(),
              std::string(sandbox->name()).c_str());
  std::fflush(stdout);
  runLoop(io, opt.busyPoll);
  scheduler.shutdownAll();
  logStore.flush();
  blocking.join();
  std::fprintf(stderr, "lamina: stopped\n");
  return 0;
}

}  // namespace lamina::server
