// cgroup v1 backend: one tree per controller (<root>/cpu, memory, pids, freezer), each holding
// lamina/<instance>/<name>. A group is one directory per tree; a process joins each separately.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "core/strings.h"
#include "sandbox/cgroup.h"

namespace lamina::sandbox::cgroup_detail {

namespace {

enum Controller { kCpu, kMemory, kPids, kFreezer, kControllers };
constexpr std::array<const char*, kControllers> kNames = {"cpu", "memory", "pids", "freezer"};
constexpr std::array<const char*, kControllers> kProbeFile = {"cpu.cfs_quota_us", "memory.limit_in_bytes", "pids.max",
                                                              "freezer.state"};
constexpr std::array<const char*, kControllers> kWithout = {
    "CPU is not limited", "memory is not limited, Max Memory Used and OOM kills are not reported",
    "the number of processes is not limited", "environments cannot be frozen"};

struct Hierarchy {
  std::string name;  // the directory under root it was found at
  UniqueFd instance;
};

// Immutable after open(); shared by the manager and every group it made, so a group can still
// remove itself after the manager is gone.
struct V1Shared {
  CgroupOptions options;
  std::vector<Hierarchy> hierarchies;                   // distinct mounts only
  std::array<int, kControllers> at = {-1, -1, -1, -1};  // index into hierarchies, -1 if missing
  bool memsw = false;                                   // memory.memsw.* (swap accounting)
};

class V1Cgroup final : public Cgroup {
 public:
  V1Cgroup(std::shared_ptr<const V1Shared> shared, std::string name)
      : shared_(std::move(shared)), name_(std::move(name)), dirs_(shared_->hierarchies.size()) {}
  // A failed explicit remove() is not repeated here: its timeout has been paid once already.
  ~V1Cgroup() override {
    if (!removeTried_) static_cast<void>(remove());
  }

  // Where this group's directory in hierarchy `i` is (created or adopted by the manager).
  void setDir(size_t i, UniqueFd dir) { dirs_[i] = std::move(dir); }

  Result<void> apply(const CgroupLimits& limits) {
    Result<void> r;
    if (int d = dirOf(kMemory); d >= 0) {
      // memory+swap may never be below memory alone: lowering sets memory first, raising memsw
      // first (the first write fails with EINVAL when it would cross the other).
      std::string bytes = std::to_string(limits.memoryBytes);
      r = writeFile(d, "memory.limit_in_bytes", bytes);
      if (shared_->memsw) {
        if (r) {
          r = writeFile(d, "memory.memsw.limit_in_bytes", bytes);
        } else {
          r = writeFile(d, "memory.memsw.limit_in_bytes", bytes);
          if (r) r = writeFile(d, "memory.limit_in_bytes", bytes);
        }
      }
    }
    if (int d = dirOf(kCpu); r && d >= 0) {
      r = writeFile(d, "cpu.cfs_period_us", std::to_string(limits.cpuPeriodUs));
      if (r) r = writeFile(d, "cpu.cfs_quota_us", std::to_string(limits.cpuQuotaUs));
    }
    if (int d = dirOf(kPids); r && d >= 0) r = writeFile(d, "pids.max", std::to_string(limits.pidsMax));
    return r;
  }

  Result<void> addProcess(pid_t pid) override {
    for (size_t i = 0; i < dirs_.size(); ++i) {
      if (!dirs_[i].valid()) continue;
      auto r = writeFile(dirs_[i].get(), "cgroup.procs", std::to_string(pid));
      if (!r) return std::unexpected(r.error().context(shared_->hierarchies[i].name));
    }
    return {};
  }
  Result<void> setLimits(const CgroupLimits& limits) override { return apply(limits); }
  int dirFd() const override { return -1; }
  Result<std::vector<UniqueFd>> openProcsFiles() override {
    std::vector<UniqueFd> out;
    for (size_t i = 0; i < dirs_.size(); ++i) {
      if (!dirs_[i].valid()) continue;
      UniqueFd fd(::openat(dirs_[i].get(), "cgroup.procs", O_WRONLY | O_CLOEXEC));
      if (!fd.valid()) return failErrno("cgroup: opening cgroup.procs of " + shared_->hierarchies[i].name, errno);
      out.push_back(std::move(fd));
    }
    return out;
  }
  Result<void> setCpuQuota(int64_t quotaUs, int64_t periodUs) override {
    int d = dirOf(kCpu);
    if (d < 0) return {};
    auto r = writeFile(d, "cpu.cfs_period_us", std::to_string(periodUs));
    if (r) r = writeFile(d, "cpu.cfs_quota_us", std::to_string(quotaUs));
    return r;
  }

  Result<void> freeze() override {
    int d = dirOf(kFreezer);
    if (d < 0) return fail(Code::kInternal, "freezer controller not available");
    if (auto r = writeFile(d, "freezer.state", "FROZEN"); !r) return r;
    // The state reads FREEZING until every task is in the refrigerator. A task in uninterruptible
    // sleep (NFS, a vfork parent) can keep it there indefinitely, hence the bound and the thaw.
    auto r = pollUntil(shared_->options, "freezing cgroup " + name_, [d]() -> Result<bool> {
      auto state = readFile(d, "freezer.state");
      if (!state) return std::unexpected(state.error());
      return core::trim(*state) == "FROZEN";
    });
    if (!r) static_cast<void>(writeFile(d, "freezer.state", "THAWED"));
    return r;
  }

  Result<void> thaw() override {
    int d = dirOf(kFreezer);
    if (d < 0) return fail(Code::kInternal, "freezer controller not available");
    return writeFile(d, "freezer.state", "THAWED");
  }

  Result<uint64_t> peakMemoryBytes() override {
    int d = dirOf(kMemory);
    if (d < 0) return fail(Code::kInternal, "memory controller not available");
    auto v = readInt(d, "memory.max_usage_in_bytes");
    if (!v) return std::unexpected(v.error());
    return uint64_t(*v);
  }

  Result<bool> oomKilled() override {
    int d = dirOf(kMemory);
    if (d < 0) return fail(Code::kInternal, "memory controller not available");
    auto kills = readKeyed(d, "memory.oom_control", "oom_kill");
    if (kills) return *kills > 0;
    if (kills.error().code() != Code::kNotFound) return std::unexpected(kills.error());
    // Kernels before 4.13 have no oom_kill counter. Fall back to "the limit was hit": a failed
    // charge of memory, or of memory+swap (with memsw the plain failcnt can stay 0 on an OOM kill).
    for (const char* file : {"memory.failcnt", "memory.memsw.failcnt"}) {
      if (!hasFile(d, file)) continue;
      auto n = readInt(d, file);
      if (!n) return std::unexpected(n.error());
      if (*n > 0) return true;
    }
    return false;
  }

  Result<void> killAll() override {
    return pollUntil(shared_->options, "killing cgroup " + name_, [this]() -> Result<bool> {
      auto live = pids();
      if (!live) return std::unexpected(live.error());
      if (live->empty()) return true;
      if (auto r = killRound(*live); !r) return std::unexpected(r.error());
      return false;
    });
  }

  // Union over the hierarchies: a task may be in some of them only (an addProcess that failed
  // half-way). Zombies are not listed: they left their cgroups when they exited.
  Result<std::vector<pid_t>> pids() override {
    std::vector<pid_t> all;
    for (const auto& dir : dirs_) {
      if (!dir.valid()) continue;
      auto some = readPids(dir.get());
      if (!some) return std::unexpected(some.error());
      all.insert(all.end(), some->begin(), some->end());
    }
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    return all;
  }

  Result<void> remove() override {
    removeTried_ = true;
    if (auto r = killAll(); !r) return r;
    // Only now, with the tasks gone from every tree, can each tree's directory go.
    for (size_t i = 0; i < dirs_.size(); ++i) {
      if (!dirs_[i].valid()) continue;
      const Hierarchy& h = shared_->hierarchies[i];
      auto r = pollUntil(shared_->options, "removing cgroup " + name_, [&]() -> Result<bool> {
        int err = removeGroupDir(h.instance.get(), name_, h.name, shared_->options);
        if (err == 0 || err == ENOENT) return true;
        // EBUSY: a task got in after killAll (a racing addProcess); kill again and retry.
        if (err != EBUSY) return failErrno("removing cgroup " + name_ + " in " + h.name, err);
        auto live = pids();
        if (!live) return std::unexpected(live.error());
        if (auto k = killRound(*live); !k) return std::unexpected(k.error());
        return false;
      });
      if (!r) return r;
      dirs_[i].reset();
    }
    return {};
  }

 private:
  int dirOf(Controller c) const {
    int i = shared_->at[c];
    return i < 0 ? -1 : dirs_[size_t(i)].get();
  }

  Result<void> killRound(const std::vector<pid_t>& live) {
    // A task frozen by the v1 freezer does not die of SIGKILL: the signal stays pending until the
    // group is thawed. So: freeze (which also stops forks racing this loop), signal, thaw.
    int freezer = dirOf(kFreezer);
    if (freezer >= 0) static_cast<void>(writeFile(freezer, "freezer.state", "FROZEN"));
    for (pid_t p : live) ::kill(p, SIGKILL);
    if (freezer >= 0) return writeFile(freezer, "freezer.state", "THAWED");
    return {};
  }

  std::shared_ptr<const V1Shared> shared_;
  std::string name_;
  std::vector<UniqueFd> dirs_;  // parallel to shared_->hierarchies; invalid where absent or removed
  bool removeTried_ = false;
};

class V1Manager final : public CgroupManager {
 public:
  V1Manager(std::shared_ptr<const V1Shared> shared, std::vector<UniqueFd> laminaDirs, std::string instanceName,
            std::vector<std::string> warnings, int reaped)
      : shared_(std::move(shared)),
        laminaDirs_(std::move(laminaDirs)),
        instanceName_(std::move(instanceName)),
        warnings_(std::move(warnings)),
        reaped_(reaped) {}

  // Removes the instance group when no group is left in it; a busy one stays for the next start.
  ~V1Manager() override {
    for (size_t i = 0; i < laminaDirs_.size(); ++i) {
      const Hierarchy& h = shared_->hierarchies[i];
      auto left = subdirectories(h.instance.get());
      if (left && left->empty()) removeGroupDir(laminaDirs_[i].get(), instanceName_, h.name, shared_->options);
    }
  }

  Result<std::unique_ptr<Cgroup>> create(std::string_view name, const CgroupLimits& limits) override {
    if (!validName(name)) return fail(Code::kValidation, "invalid cgroup name");
    // Each directory made is owned by `group` at once, so its destructor undoes a failure half-way.
    auto group = std::make_unique<V1Cgroup>(shared_, std::string(name));
    for (size_t i = 0; i < shared_->hierarchies.size(); ++i) {
      const Hierarchy& h = shared_->hierarchies[i];
      auto dir = makeGroupDir(h.instance.get(), std::string(name), false, h.name, shared_->options);
      if (!dir) return std::unexpected(dir.error().context(h.name));
      group->setDir(i, std::move(*dir));
    }
    if (auto r = group->apply(limits); !r) return std::unexpected(r.error().context("cgroup " + std::string(name)));
    return std::unique_ptr<Cgroup>(std::move(group));
  }
  std::string_view version() const override { return "v1"; }
  std::vector<std::string> warnings() const override { return warnings_; }
  int staleGroupsReaped() const override { return reaped_; }

 private:
  std::shared_ptr<const V1Shared> shared_;
  std::vector<UniqueFd> laminaDirs_;  // parallel to shared_->hierarchies
  std::string instanceName_;
  std::vector<std::string> warnings_;
  int reaped_;
};

}  // namespace

Result<std::unique_ptr<CgroupManager>> openV1(UniqueFd root, std::string_view instanceName, CgroupOptions options) {
  auto shared = std::make_shared<V1Shared>();
  shared->options = std::move(options);
  std::vector<std::string> warnings;
  std::vector<UniqueFd> laminaDirs;
  std::vector<std::pair<dev_t, ino_t>> seen;  // parallel to shared->hierarchies

  for (int c = 0; c < kControllers; ++c) {
    auto top = openDir(root.get(), kNames[c]);
    if (!top || !hasFile(top->get(), "cgroup.procs")) {
      warnings.push_back(std::string(kNames[c]) + " controller not available (no cgroup v1 hierarchy): " + kWithout[c]);
      continue;
    }
    // Co-mounted controllers ("cpu,cpuacct", with cpu and cpuacct as symlinks to it) are one tree:
    // create each group there once.
    struct stat st;
    if (::fstat(top->get(), &st) != 0) return failErrno(std::string("stat ") + kNames[c], errno);
    auto same = std::find(seen.begin(), seen.end(), std::make_pair(st.st_dev, st.st_ino));
    if (same != seen.end()) {
      shared->at[c] = int(same - seen.begin());
      continue;
    }
    auto lamina = makeGroupDir(top->get(), "lamina", true, kNames[c], shared->options);
    if (!lamina) return std::unexpected(lamina.error().context(kNames[c]));
    auto instance = makeGroupDir(lamina->get(), std::string(instanceName), true, kNames[c], shared->options);
    if (!instance) return std::unexpected(instance.error().context(kNames[c]));
    shared->at[c] = int(shared->hierarchies.size());
    shared->hierarchies.push_back({kNames[c], std::move(*instance)});
    laminaDirs.push_back(std::move(*lamina));
    seen.emplace_back(st.st_dev, st.st_ino);
  }

  // A tree can exist without the feature lamina needs from it (e.g. no CONFIG_CFS_BANDWIDTH: no
  // cpu.cfs_quota_us). The instance group's own files show what its children will have.
  for (int c = 0; c < kControllers; ++c) {
    int i = shared->at[c];
    if (i < 0 || hasFile(shared->hierarchies[size_t(i)].instance.get(), kProbeFile[c])) continue;
    warnings.push_back(std::string(kNames[c]) + " controller lacks " + kProbeFile[c] + ": " + kWithout[c]);
    shared->at[c] = -1;
  }
  if (int i = shared->at[kMemory]; i >= 0) {
    shared->memsw = hasFile(shared->hierarchies[size_t(i)].instance.get(), "memory.memsw.limit_in_bytes");
    if (!shared->memsw) warnings.push_back("memory.memsw.* not available (no swap accounting): swap is not limited");
  }

  std::shared_ptr<const V1Shared> frozenShared = shared;
  std::vector<std::string> stale;
  for (const auto& h : frozenShared->hierarchies) {
    auto names = subdirectories(h.instance.get());
    if (!names) return std::unexpected(names.error().context(h.name));
    stale.insert(stale.end(), names->begin(), names->end());
  }
  std::sort(stale.begin(), stale.end());
  stale.erase(std::unique(stale.begin(), stale.end()), stale.end());
  int reaped = 0;
  for (const auto& name : stale) {
    V1Cgroup group(frozenShared, name);
    for (size_t i = 0; i < frozenShared->hierarchies.size(); ++i) {
      if (auto dir = openDir(frozenShared->hierarchies[i].instance.get(), name)) group.setDir(i, std::move(*dir));
    }
    if (auto r = group.remove(); r)
      ++reaped;
    else
      warnings.push_back("stale cgroup " + name + " not removed: " + r.error().message());
  }
  return std::unique_ptr<CgroupManager>(std::make_unique<V1Manager>(
      std::move(frozenShared), std::move(laminaDirs), std::string(instanceName), std::move(warnings), reaped));
}

}  // namespace lamina::sandbox::cgroup_detail
