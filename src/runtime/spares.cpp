#include "runtime/spares.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <deque>
#include <string>

#include "core/ids.h"
#include "core/offload.h"

namespace lamina::runtime {

namespace asio = boost::asio;

struct SparePool::State {
  State(asio::io_context& io, asio::thread_pool& blocking, SpareOptions options)
      : io(io), blocking(blocking), options(std::move(options)) {}
  asio::io_context& io;
  asio::thread_pool& blocking;
  SpareOptions options;
  std::deque<Spare> ready;
  int inFlight = 0;
  bool stopped = false;
  bool failing = false;  // the last prewarm failed: retry after a pause, say it once
};

Result<Spare> buildSpare(const SpareOptions& options, const std::vector<std::string>& covered) {
  Spare spare;
  // Generic limits: the most a function may have; taking the spare lowers them.
  sandbox::CgroupLimits limits = sandbox::limitsForInit(10240, options.hostCpus);
  std::string name = "env-" + core::randomHex(12);
  sandbox::CgroupManager* cgroups = options.cgroups;
  bool early = cgroups && cgroups->version() == "v2";  // v2 clones straight into the group
  sandbox::ProcessSpec generic;
  generic.runtimeDir = options.runtimeDir;
  generic.listenPorts = {9001, options.edgePort};
  if (early) {
    auto cg = cgroups->create(name, limits);
    if (!cg) return std::unexpected(cg.error());
    spare.cgroup = std::move(*cg);
    generic.cgroup = spare.cgroup.get();
  }
  auto shell = options.sandbox->prewarm(generic);
  if (!shell) return std::unexpected(shell.error());
  spare.shell = std::move(*shell);
  pid_t pid = spare.shell->pid();
  if (cgroups && !early) {
    auto cg = cgroups->create(name, limits);
    if (!cg) return std::unexpected(cg.error());
    spare.cgroup = std::move(*cg);
    if (auto r = spare.cgroup->addProcess(pid); !r) return std::unexpected(r.error());
  }
  auto listeners = spare.shell->takeListeners();
  if (listeners.size() != 2) return fail(Code::kInternal, "sandbox: a spare came without its listeners");
  spare.api = std::move(listeners[0]);
  spare.edge = std::move(listeners[1]);
  if (options.keeperSource) {  // best effort: without a keeper the cold start prepares its own
    auto [runtime, zygote] = options.keeperSource(covered);
    if (zygote) {
      auto keeper = zygote->prepare(spare.shell->pidfd(), spare.cgroup.get());
      if (keeper) {
        spare.keeper = std::move(*keeper);
        spare.keeperRuntime = std::move(runtime);
      }
    }
  }
  return spare;
}

namespace {

struct PrewarmJob {
  SpareOptions options;
  std::vector<std::string> covered;  // the ready spares' keeper runtimes when the build began
  Result<Spare> operator()() const { return buildSpare(options, covered); }
};

// Destroys spares off the I/O thread (killing and reaping init, removing the cgroup block).
struct DiscardJob {
  std::shared_ptr<std::deque<Spare>> spares;
  void operator()() const { spares->clear(); }
};

void refill(const std::shared_ptr<SparePool::State>& state, std::chrono::milliseconds delay = {});

asio::awaitable<void> prewarmOne(std::shared_ptr<SparePool::State> state) {
  PrewarmJob job{state->options, {}};
  for (const auto& s : state->ready)
    if (s.keeper) job.covered.push_back(s.keeperRuntime);
  auto spare = co_await core::offload(state->blocking, std::move(job));
  --state->inFlight;
  if (!spare) {
    if (!state->failing)
      std::fprintf(stderr, "lamina: cannot prewarm an environment (cold starts build their own): %s\n",
                   spare.error().message().c_str());
    state->failing = true;
    asio::steady_timer pause(state->io, std::chrono::seconds(2));
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  } else {
    state->failing = false;
    if (state->stopped) {
      auto leftover = std::make_shared<std::deque<Spare>>();
      leftover->push_back(std::move(*spare));
      asio::post(state->blocking, DiscardJob{leftover});
      co_return;
    }
    state->ready.push_back(std::move(*spare));
  }
  refill(state);
}

asio::awaitable<void> prewarmLater(std::shared_ptr<SparePool::State> state, std::chrono::milliseconds delay) {
  asio::steady_timer wait(state->io, delay);
  co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  co_await prewarmOne(state);
}

// One prewarm at a time: the blocking pool has two threads, and cold starts need them too. After a
// take, the refill waits a little: building a spare costs CPU the cold start that took one needs.
void refill(const std::shared_ptr<SparePool::State>& state, std::chrono::milliseconds delay) {
  if (state->stopped || state->inFlight > 0 || int(state->ready.size()) >= state->options.target) return;
  ++state->inFlight;
  if (delay.count() > 0) {
    asio::co_spawn(state->io, prewarmLater(state, delay), asio::detached);
  } else {
    asio::co_spawn(state->io, prewarmOne(state), asio::detached);
  }
}

}  // namespace

SparePool::SparePool(asio::io_context& io, asio::thread_pool& blocking, SpareOptions options)
    : state_(std::make_shared<State>(io, blocking, std::move(options))) {}

SparePool::~SparePool() {
  state_->stopped = true;
  state_->ready.clear();  // daemon teardown: blocking here is fine
}

void SparePool::start() { refill(state_); }

std::optional<Spare> SparePool::take(const std::string& runtime) {
  auto& ready = state_->ready;
  if (ready.empty()) {
    refill(state_);
    return std::nullopt;
  }
  auto it =
      std::find_if(ready.begin(), ready.end(), [&](const Spare& s) { return s.keeper && s.keeperRuntime == runtime; });
  if (it == ready.end()) it = std::find_if(ready.begin(), ready.end(), [](const Spare& s) { return !s.keeper; });
  if (it == ready.end()) it = ready.begin();
  Spare spare = std::move(*it);
  ready.erase(it);
  refill(state_, std::chrono::milliseconds(30));
  return spare;
}

void SparePool::stop() {
  state_->stopped = true;
  auto spares = std::make_shared<std::deque<Spare>>(std::move(state_->ready));
  state_->ready.clear();
  asio::post(state_->blocking, DiscardJob{spares});
}

size_t SparePool::ready() const { return state_->ready.size(); }

const SpareOptions& SparePool::options() const { return state_->options; }

}  // namespace lamina::runtime
