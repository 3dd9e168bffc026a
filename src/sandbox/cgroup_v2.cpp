// cgroup v2 backend: one unified tree. Groups live at <root>/lamina/<instance>/<name>; the cpu,
// memory and pids controllers are enabled down that path through cgroup.subtree_control. Freezing
// is core (cgroup.freeze, no controller), killing is one write (cgroup.kill).
#include <fcntl.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>

#include "core/strings.h"
#include "sandbox/cgroup.h"

namespace lamina::sandbox::cgroup_detail {

namespace {

// Immutable after open(); shared by the manager and every group it made, so a group can still
// remove itself after the manager is gone.
struct V2Shared {
  CgroupOptions options;
  UniqueFd instance;
  bool memory = false, cpu = false, pids = false;
  bool swapMax = false;  // memory.swap.max (swap accounting compiled in and enabled)
  bool peak = false;     // memory.peak, kernel >= 5.19
  bool kill = false;     // cgroup.kill, kernel >= 5.14
  bool freeze = false;   // cgroup.freeze, kernel >= 5.2
};

class V2Cgroup final : public Cgroup {
 public:
  V2Cgroup(std::shared_ptr<const V2Shared> shared, std::string name, UniqueFd dir)
      : shared_(std::move(shared)), name_(std::move(name)), dir_(std::move(dir)) {}
  // A failed explicit remove() is not repeated here: its timeout has been paid once already.
  ~V2Cgroup() override {
    if (!removeTried_) static_cast<void>(remove());
  }

  Result<void> apply(const CgroupLimits& limits) {
    const int d = dir_.get();
    Result<void> r;
    if (shared_->memory) {
      r = writeFile(d, "memory.max", std::to_string(limits.memoryBytes));
      if (r && shared_->swapMax) r = writeFile(d, "memory.swap.max", "0");
    }
    if (r && shared_->cpu)
      r = writeFile(d, "cpu.max", std::to_string(limits.cpuQuotaUs) + " " + std::to_string(limits.cpuPeriodUs));
    if (r && shared_->pids) r = writeFile(d, "pids.max", std::to_string(limits.pidsMax));
    return r;
  }

  Result<void> addProcess(pid_t pid) override { return writeFile(dir_.get(), "cgroup.procs", std::to_string(pid)); }
  Result<void> setLimits(const CgroupLimits& limits) override { return apply(limits); }
  int dirFd() const override { return dir_.get(); }
  Result<std::vector<UniqueFd>> openProcsFiles() override {
    UniqueFd fd(::openat(dir_.get(), "cgroup.procs", O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) return failErrno("cgroup: opening cgroup.procs", errno);
    std::vector<UniqueFd> out;
    out.push_back(std::move(fd));
    return out;
  }
  Result<void> setCpuQuota(int64_t quotaUs, int64_t periodUs) override {
    if (!shared_->cpu) return {};
    return writeFile(dir_.get(), "cpu.max", std::to_string(quotaUs) + " " + std::to_string(periodUs));
  }

  Result<void> freeze() override {
    if (!shared_->freeze) return fail(Code::kInternal, "cgroup.freeze not available (kernel before 5.2)");
    if (auto r = writeFile(dir_.get(), "cgroup.freeze", "1"); !r) return r;
    // The write only asks; the group is frozen once every task has reached the freezer trap, which
    // cgroup.events reports as "frozen 1".
    auto r = pollUntil(shared_->options, "freezing cgroup " + name_, [this]() -> Result<bool> {
      auto frozen = readKeyed(dir_.get(), "cgroup.events", "frozen");
      if (!frozen) return std::unexpected(frozen.error());
      return *frozen == 1;
    });
    if (!r) static_cast<void>(writeFile(dir_.get(), "cgroup.freeze", "0"));
    return r;
  }

  Result<void> thaw() override {
    if (!shared_->freeze) return fail(Code::kInternal, "cgroup.freeze not available (kernel before 5.2)");
    return writeFile(dir_.get(), "cgroup.freeze", "0");
  }

  Result<uint64_t> peakMemoryBytes() override {
    if (!shared_->memory) return fail(Code::kInternal, "memory controller not available");
    if (shared_->peak) {
      auto v = readInt(dir_.get(), "memory.peak");
      if (!v) return std::unexpected(v.error());
      return uint64_t(*v);
    }
    auto v = readInt(dir_.get(), "memory.current");
    if (!v) return std::unexpected(v.error());
    peakSeen_ = std::max(peakSeen_, uint64_t(*v));
    return peakSeen_;
  }

  Result<bool> oomKilled() override {
    if (!shared_->memory) return fail(Code::kInternal, "memory controller not available");
    auto kills = readKeyed(dir_.get(), "memory.events", "oom_kill");
    if (!kills) return std::unexpected(kills.error());
    return *kills > 0;
  }

  Result<void> killAll() override {
    if (!dir_.valid()) return {};
    return pollUntil(shared_->options, "killing cgroup " + name_, [this]() -> Result<bool> {
      // "populated" counts live tasks only: zombies waiting for their parent's wait() do not keep
      // it at 1, nor do they block rmdir.
      auto populated = readKeyed(dir_.get(), "cgroup.events", "populated");
      if (!populated) return std::unexpected(populated.error());
      if (*populated == 0) return true;
      if (auto r = killRound(); !r) return std::unexpected(r.error());
      return false;
    });
  }

  Result<std::vector<pid_t>> pids() override { return readPids(dir_.get()); }

  Result<void> remove() override {
    if (!dir_.valid()) return {};
    removeTried_ = true;
    if (auto r = killAll(); !r) return r;
    auto r = pollUntil(shared_->options, "removing cgroup " + name_, [this]() -> Result<bool> {
      int err = removeGroupDir(shared_->instance.get(), name_, "v2", shared_->options);
      if (err == 0 || err == ENOENT) return true;
      // EBUSY: a task got in after killAll (a racing addProcess); kill again and retry.
      if (err != EBUSY) return failErrno("removing cgroup " + name_, err);
      if (auto k = killRound(); !k) return std::unexpected(k.error());
      return false;
    });
    if (r) dir_.reset();
    return r;
  }

 private:
  Result<void> killRound() {
    // cgroup.kill signals every task, and blocks forks while doing so, in one write.
    if (shared_->kill) return writeFile(dir_.get(), "cgroup.kill", "1");
    // Older kernels: signal one by one. A frozen v2 task still dies: SIGKILL wakes it from the
    // freezer trap (unlike v1).
    auto pids = readPids(dir_.get());
    if (!pids) return std::unexpected(pids.error());
    for (pid_t p : *pids) ::kill(p, SIGKILL);
    return {};
  }

  std::shared_ptr<const V2Shared> shared_;
  std::string name_;
  UniqueFd dir_;  // invalid once removed
  uint64_t peakSeen_ = 0;
  bool removeTried_ = false;
};

class V2Manager final : public CgroupManager {
 public:
  V2Manager(std::shared_ptr<const V2Shared> shared, UniqueFd lamina, std::string instanceName,
            std::vector<std::string> warnings, int reaped)
      : shared_(std::move(shared)),
        lamina_(std::move(lamina)),
        instanceName_(std::move(instanceName)),
        warnings_(std::move(warnings)),
        reaped_(reaped) {}

  // Removes the instance group when no group is left in it; a busy one stays for the next start.
  ~V2Manager() override {
    auto left = subdirectories(shared_->instance.get());
    if (left && left->empty()) removeGroupDir(lamina_.get(), instanceName_, "v2", shared_->options);
  }

  Result<std::unique_ptr<Cgroup>> create(std::string_view name, const CgroupLimits& limits) override {
    if (!validName(name)) return fail(Code::kValidation, "invalid cgroup name");
    auto dir = makeGroupDir(shared_->instance.get(), std::string(name), false, "v2", shared_->options);
    if (!dir) return std::unexpected(dir.error());
    // From here the group's destructor removes the directory if a limit cannot be set.
    auto group = std::make_unique<V2Cgroup>(shared_, std::string(name), std::move(*dir));
    if (auto r = group->apply(limits); !r) return std::unexpected(r.error().context("cgroup " + std::string(name)));
    return std::unique_ptr<Cgroup>(std::move(group));
  }
  std::string_view version() const override { return "v2"; }
  std::vector<std::string> warnings() const override { return warnings_; }
  int staleGroupsReaped() const override { return reaped_; }

 private:
  std::shared_ptr<const V2Shared> shared_;
  UniqueFd lamina_;
  std::string instanceName_;
  std::vector<std::string> warnings_;
  int reaped_;
};

// Enables `wanted` controllers for the children of `dir`; drops from `wanted` what fails.
void enableControllers(int dir, std::string_view where, std::vector<std::string>& wanted,
                       std::vector<std::string>& warnings) {
  if (wanted.empty()) return;
  std::string all;
  for (const auto& c : wanted) all += (all.empty() ? "+" : " +") + c;
  if (writeFile(dir, "cgroup.subtree_control", all)) return;
  // One at a time to find the culprit. EBUSY at the root means the root we were given is not the
  // real root but a delegated group that has processes in it (a container's cgroup namespace): the
  // no-internal-process rule forbids enabling controllers there until they move to a leaf. EINVAL
  // for cpu means a realtime thread outside the root cgroup.
  std::erase_if(wanted, [&](const std::string& c) {
    auto r = writeFile(dir, "cgroup.subtree_control", "+" + c);
    if (!r)
      warnings.push_back(c + " controller could not be enabled in " + std::string(where) + ": " + r.error().message());
    return !r;
  });
}

}  // namespace

Result<std::unique_ptr<CgroupManager>> openV2(UniqueFd root, std::string_view instanceName, CgroupOptions options) {
  auto shared = std::make_shared<V2Shared>();
  shared->options = std::move(options);
  std::vector<std::string> warnings;

  auto available = readFile(root.get(), "cgroup.controllers");
  if (!available) return std::unexpected(available.error().context("cgroup v2"));
  std::vector<std::string> wanted;
  for (const char* c : {"cpu", "memory", "pids"}) {
    bool has = false;
    for (auto word : core::split(core::trim(*available), ' ')) has = has || word == c;
    if (has)
      wanted.emplace_back(c);
    else
      warnings.push_back(std::string(c) + " controller not available (cgroup v2 root lacks it)");
  }

  enableControllers(root.get(), "the cgroup root", wanted, warnings);
  auto lamina = makeGroupDir(root.get(), "lamina", true, "v2", shared->options);
  if (!lamina) return std::unexpected(lamina.error());
  enableControllers(lamina->get(), "lamina", wanted, warnings);
  auto instance = makeGroupDir(lamina->get(), std::string(instanceName), true, "v2", shared->options);
  if (!instance) return std::unexpected(instance.error());
  enableControllers(instance->get(), "lamina/" + std::string(instanceName), wanted, warnings);
  shared->instance = std::move(*instance);

  auto enabled = [&](std::string_view c) { return std::find(wanted.begin(), wanted.end(), c) != wanted.end(); };
  shared->memory = enabled("memory");
  shared->cpu = enabled("cpu");
  shared->pids = enabled("pids");
  // The instance group's own files show what its children will have.
  const int inst = shared->instance.get();
  shared->swapMax = hasFile(inst, "memory.swap.max");
  shared->peak = hasFile(inst, "memory.peak");
  shared->kill = hasFile(inst, "cgroup.kill");
  shared->freeze = hasFile(inst, "cgroup.freeze");
  if (shared->memory && !shared->swapMax)
    warnings.push_back("memory.swap.max not available (no swap accounting): swap is not limited");
  if (shared->memory && !shared->peak)
    warnings.push_back("memory.peak not available (kernel before 5.19): peak memory is sampled from memory.current");
  if (!shared->kill) warnings.push_back("cgroup.kill not available (kernel before 5.14): killing process by process");
  if (!shared->freeze) warnings.push_back("cgroup.freeze not available (kernel before 5.2): cannot freeze");

  int reaped = 0;
  std::shared_ptr<const V2Shared> frozenShared = shared;
  auto stale = subdirectories(inst);
  if (!stale) return std::unexpected(stale.error());
  for (const auto& name : *stale) {
    auto dir = openDir(inst, name);
    if (!dir) continue;
    V2Cgroup group(frozenShared, name, std::move(*dir));
    if (auto r = group.remove(); r)
      ++reaped;
    else
      warnings.push_back("stale cgroup " + name + " not removed: " + r.error().message());
  }
  return std::unique_ptr<CgroupManager>(std::make_unique<V2Manager>(
      std::move(frozenShared), std::move(*lamina), std::string(instanceName), std::move(warnings), reaped));
}

}  // namespace lamina::sandbox::cgroup_detail
