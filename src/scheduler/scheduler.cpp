#include "scheduler/scheduler.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/ids.h"

namespace lamina::scheduler {

namespace asio = boost::asio;
using runtime::Environment;

Scheduler::Scheduler(const runtime::EnvironmentDeps& deps, Options options)
    : deps_(deps),
      options_(options),
      reaper_(deps.io),
      policy_(KeepAliveOptions{options.adaptiveKeepAlive, options.keepAlive, options.keepAliveBin,
                               options.keepAliveBin * 240}) {
  startReaper();
}

Scheduler::~Scheduler() { shutdownAll(); }

void Scheduler::startReaper() {
  auto period = std::min<std::chrono::milliseconds>(options_.keepAlive / 2 + std::chrono::milliseconds(1),
                                                    std::chrono::seconds(1));
  reaper_.expires_after(period);
  reaper_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    auto now = std::chrono::steady_clock::now();
    for (auto& [key, pool] : pools_) {
      if (pool.idle.empty()) continue;
      auto cutoff = now - policy_.keepAlive(key.substr(0, key.rfind(':')));
      std::erase_if(pool.idle, [&](Idle& i) {
        if (i.since > cutoff && i.env->state() == Environment::State::kReady) return false;
        i.env->stop();
        --live_;
        return true;
      });
    }
    startReaper();
  });
}

bool Scheduler::evictLeastValuable() {
  auto now = std::chrono::steady_clock::now();
  Pool* best = nullptr;
  size_t bestIndex = 0;
  double bestScore = -1;
  for (auto& [key, pool] : pools_) {
    if (pool.idle.empty()) continue;
    double window = double(policy_.keepAlive(key.substr(0, key.rfind(':'))).count()) + 1;
    for (size_t i = 0; i < pool.idle.size(); ++i) {
      double score =
          double(std::chrono::duration_cast<std::chrono::milliseconds>(now - pool.idle[i].since).count()) / window;
      if (score > bestScore) {
        best = &pool;
        bestIndex = i;
        bestScore = score;
      }
    }
  }
  if (!best) return false;
  best->idle[bestIndex].env->stop();
  best->idle.erase(best->idle.begin() + std::ptrdiff_t(bestIndex));
  --live_;
  return true;
}

int64_t Scheduler::memoryInUseMb() const {
  int64_t mb = busyMemoryMb_ + startingMemoryMb_;
  for (const auto& [key, pool] : pools_) {
    for (const auto& i : pool.idle) mb += i.env->image().memoryMb;
    for (const auto& env : pool.provisionedIdle) mb += env->image().memoryMb;
  }
  return mb;
}

void Scheduler::setReservation(const std::string& functionName, int reserved) {
  auto it = reserved_.find(functionName);
  if (it != reserved_.end()) {
    reservedSum_ -= it->second;
    reserved_.erase(it);
  }
  if (reserved >= 0) {
    reserved_[functionName] = reserved;
    reservedSum_ += reserved;
  }
}

bool Scheduler::takeScaleUpToken(const std::string& functionName) {
  const double capacity = std::max(1, options_.scaleUpPer10s);
  auto now = std::chrono::steady_clock::now();
  auto [it, fresh] = scaleUp_.try_emplace(functionName, Bucket{capacity, now});
  Bucket& b = it->second;
  if (!fresh) {
    double seconds = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min(capacity, b.tokens + seconds * capacity / 10.0);
    b.at = now;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

int Scheduler::concurrentExecutions(const std::string& functionName) const {
  auto it = runningBy_.find(functionName);
  return it == runningBy_.end() ? 0 : it->second;
}

asio::awaitable<std::expected<Lease, AcquireError>> Scheduler::acquire(
    std::shared_ptr<const runtime::FunctionImage> image, const std::string& requestId) {
  // Concurrency, as AWS counts it: invocations running at once. A reservation caps its function;
  // the rest of the account's limit is shared by the functions without one.
  const std::string& fn = image->name;
  auto reservation = reserved_.find(fn);
  bool unreserved = reservation == reserved_.end();
  if (!unreserved && concurrentExecutions(fn) >= reservation->second)
    co_return std::unexpected(
        AcquireError{AcquireError::Kind::kThrottled, "ReservedFunctionConcurrentInvocationLimitExceeded", {}, nullptr});
  if (unreserved && runningUnreserved_ >= options_.accountConcurrency - reservedSum_)
    co_return std::unexpected(
        AcquireError{AcquireError::Kind::kThrottled, "ConcurrentInvocationLimitExceeded", {}, nullptr});
  // Counted from here, so that invocations waiting for a cold start count too.
  ++runningBy_[fn];
  ++running_;
  if (unreserved) ++runningUnreserved_;
  policy_.arrived(
      fn, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()));
  auto lease = co_await acquireEnvironment(std::move(image), requestId);
  if (!lease) {
    uncount(fn, unreserved);
    co_return lease;
  }
  lease->unreserved = unreserved;
  busyMemoryMb_ += lease->env->image().memoryMb;
  co_return lease;
}

void Scheduler::uncount(const std::string& functionName, bool unreserved) {
  auto it = runningBy_.find(functionName);
  if (it != runningBy_.end() && --it->second <= 0) runningBy_.erase(it);
  --running_;
  if (unreserved) --runningUnreserved_;
}

void Scheduler::setProvisioned(const std::shared_ptr<const runtime::FunctionImage>& image, const std::string& configKey,
                               int count) {
  std::string key = image->name + ":" + image->version;
  Pool& pool = pools_[key];
  if (count > 0) {
    pool.provisionedConfigs[configKey] = count;
  } else {
    pool.provisionedConfigs.erase(configKey);
  }
  pool.image = image;
  pool.provisionedTarget = 0;
  for (const auto& [k, n] : pool.provisionedConfigs) pool.provisionedTarget += n;
  // Too many: stop idle ones now; busy ones are dropped when released.
  while (int(pool.provisionedIdle.size()) + pool.provisionedBusy > pool.provisionedTarget &&
         !pool.provisionedIdle.empty()) {
    pool.provisionedIdle.back()->stop();
    pool.provisionedIdle.pop_back();
    --live_;
  }
  fillProvisioned(key);
}

void Scheduler::fillProvisioned(const std::string& key) {
  if (stopped_) return;
  Pool& pool = pools_[key];
  while (pool.image &&
         int(pool.provisionedIdle.size()) + pool.provisionedBusy + pool.provisionedStarting < pool.provisionedTarget) {
    ++pool.provisionedStarting;
    ++live_;
    asio::co_spawn(deps_.io, startProvisioned(key, pool.image), asio::detached);
  }
}

asio::awaitable<void> Scheduler::startProvisioned(std::string key,
                                                  std::shared_ptr<const runtime::FunctionImage> image) {
  auto env = Environment::create(deps_, image);
  env->setProvisioned();
  auto started = co_await env->start(core::newUuid());
  Pool& pool = pools_[key];
  --pool.provisionedStarting;
  bool wanted = !stopped_ && int(pool.provisionedIdle.size()) + pool.provisionedBusy < pool.provisionedTarget &&
                pool.image == image;
  if (!started || !wanted) {
    if (started) env->stop();
    --live_;
    if (!started && wanted) {  // Init failed: try again later rather than in a tight loop
      asio::steady_timer pause(deps_.io, std::chrono::seconds(1));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      fillProvisioned(key);
    }
    co_return;
  }
  pool.provisionedIdle.push_back(std::move(env));
  pool.provisionedIdle.back()->idle();
}

ProvisionedStatus Scheduler::provisionedStatus(const std::string& functionName, const std::string& version) const {
  auto it = pools_.find(functionName + ":" + version);
  if (it == pools_.end()) return {};
  const Pool& p = it->second;
  return ProvisionedStatus{p.provisionedTarget, int(p.provisionedIdle.size()) + p.provisionedBusy,
                           int(p.provisionedIdle.size())};
}

asio::awaitable<std::expected<Lease, AcquireError>> Scheduler::acquireEnvironment(
    std::shared_ptr<const runtime::FunctionImage> image, const std::string& requestId) {
  std::string key = image->name + ":" + image->version;
  Pool& pool = pools_[key];  // stays valid across suspensions: unordered_map nodes do not move
  // Provisioned environments first: they are initialized already.
  while (!pool.provisionedIdle.empty()) {
    auto env = std::move(pool.provisionedIdle.back());
    pool.provisionedIdle.pop_back();
    if (env->state() == Environment::State::kReady && env->image().revision == image->revision &&
        co_await env->wake()) {
      ++pool.provisionedBusy;
      co_return Lease{std::move(env), false, false, true};
    }
    --live_;  // died while idle: replace it
    env->stop();
    fillProvisioned(key);
  }
  if (pool.revision != image->revision) {
    for (auto& i : pool.idle) {
      i.env->stop();
      --live_;
    }
    pool.idle.clear();
    pool.revision = image->revision;
  }
  while (!pool.idle.empty()) {
    Idle i = std::move(pool.idle.back());
    pool.idle.pop_back();
    if (i.env->state() == Environment::State::kReady && co_await i.env->wake())
      co_return Lease{std::move(i.env), false};
    --live_;  // died while idle, or could not be thawed
  }
  if (live_ >= options_.accountConcurrency && !evictLeastValuable())
    co_return std::unexpected(
        AcquireError{AcquireError::Kind::kThrottled, "ConcurrentInvocationLimitExceeded", {}, nullptr});
  if (!takeScaleUpToken(image->name))
    co_return std::unexpected(
        AcquireError{AcquireError::Kind::kThrottled, "FunctionInvocationRateLimitExceeded", {}, nullptr});
  if (options_.memoryBudgetMb > 0) {  // make room by stopping idle environments
    while (memoryInUseMb() + image->memoryMb > options_.memoryBudgetMb && evictLeastValuable()) {
    }
  }
  ++live_;
  auto env = Environment::create(deps_, image);
  startingMemoryMb_ += image->memoryMb;
  auto started = co_await env->start(requestId);
  startingMemoryMb_ -= image->memoryMb;
  if (!started) {
    --live_;
    co_return std::unexpected(AcquireError{AcquireError::Kind::kInitFailed, {}, std::move(started.error()), env});
  }
  co_return Lease{std::move(env), true};
}

void Scheduler::release(Lease lease) {
  auto& env = lease.env;
  uncount(env->image().name, lease.unreserved);
  busyMemoryMb_ -= env->image().memoryMb;
  if (lease.provisioned) {
    std::string key = env->image().name + ":" + env->image().version;
    Pool& pool = pools_[key];
    --pool.provisionedBusy;
    bool keep = !stopped_ && env->state() == Environment::State::kReady && pool.image &&
                pool.image->revision == env->image().revision &&
                int(pool.provisionedIdle.size()) + pool.provisionedBusy < pool.provisionedTarget;
    if (keep) {
      env->idle();
      pool.provisionedIdle.push_back(std::move(env));
    } else {
      env->stop();
      --live_;
      fillProvisioned(key);  // a dead one is replaced
    }
    return;
  }
  auto it = pools_.find(env->image().name + ":" + env->image().version);
  bool keep = !stopped_ && env->state() == Environment::State::kReady && it != pools_.end() &&
              it->second.revision == env->image().revision;
  if (!keep) {
    env->stop();  // graceful if it is still alive (an older revision); nothing to do if dead
    --live_;
    return;
  }
  // Adaptive policy with a long head gap: unload now, pre-warm a fresh environment later — unless
  // another one is idle already (a burst in progress).
  auto windows = policy_.windows(env->image().name);
  if (windows.prewarm.count() > 0 && it->second.idle.empty()) {
    auto image = env->imagePtr();
    env->stop();
    --live_;
    asio::co_spawn(deps_.io, prewarmLater(it->first, std::move(image), windows.prewarm), asio::detached);
    return;
  }
  env->idle();
  it->second.idle.push_back(Idle{std::move(env), std::chrono::steady_clock::now()});
}

asio::awaitable<void> Scheduler::prewarmLater(std::string key, std::shared_ptr<const runtime::FunctionImage> image,
                                              std::chrono::milliseconds after) {
  asio::steady_timer wait(deps_.io, after);
  co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  Pool& pool = pools_[key];
  // Nothing to do if it went away, changed, or an environment is idle already.
  if (stopped_ || pool.revision != image->revision || !pool.idle.empty() || live_ >= options_.accountConcurrency)
    co_return;
  if (options_.memoryBudgetMb > 0 && memoryInUseMb() + image->memoryMb > options_.memoryBudgetMb) co_return;
  ++live_;
  startingMemoryMb_ += image->memoryMb;
  auto env = Environment::create(deps_, image);
  auto started = co_await env->start(core::newUuid());
  startingMemoryMb_ -= image->memoryMb;
  Pool& now = pools_[key];
  if (!started || stopped_ || now.revision != image->revision) {
    if (started) env->stop();
    --live_;
    co_return;
  }
  env->idle();
  now.idle.push_back(Idle{std::move(env), std::chrono::steady_clock::now()});
}

void Scheduler::retire(const std::string& functionName, const std::string& version,
                       const std::string& currentRevision) {
  for (auto& [key, pool] : pools_) {
    size_t colon = key.rfind(':');
    if (key.substr(0, colon) != functionName) continue;
    if (!version.empty() && key.substr(colon + 1) != version) continue;
    for (auto& i : pool.idle) {
      i.env->stop();
      --live_;
    }
    pool.idle.clear();
    pool.revision = currentRevision;
    if (currentRevision.empty() && version.empty()) {  // the function is gone: so is its history
      scaleUp_.erase(functionName);
      policy_.forget(functionName);
    }
    if (currentRevision.empty()) {  // deleted: its provisioned concurrency goes with it
      for (auto& env : pool.provisionedIdle) env->stop();
      live_ -= int(pool.provisionedIdle.size());
      pool.provisionedIdle.clear();
      pool.provisionedConfigs.clear();
      pool.provisionedTarget = 0;
      pool.image = nullptr;
    }
  }
}

int Scheduler::stopIdle() {
  int stopped = 0;
  for (auto& [key, pool] : pools_) {
    pool.provisionedTarget = 0;  // shutting down: nothing is replaced any more
    for (auto& env : pool.provisionedIdle) env->stop();
    stopped += int(pool.provisionedIdle.size());
    live_ -= int(pool.provisionedIdle.size());
    pool.provisionedIdle.clear();
    for (auto& i : pool.idle) {
      i.env->stop();
      --live_;
      ++stopped;
    }
    pool.idle.clear();
  }
  return stopped;
}

void Scheduler::shutdownAll() {
  if (stopped_) return;
  stopped_ = true;
  reaper_.cancel();
  for (auto& [key, pool] : pools_) {
    for (auto& env : pool.provisionedIdle) env->shutdown();
    live_ -= int(pool.provisionedIdle.size());
    pool.provisionedIdle.clear();
    for (auto& i : pool.idle) i.env->shutdown();
    live_ -= int(pool.idle.size());
    pool.idle.clear();
  }
}

}  // namespace lamina::scheduler
