// Cgroups of execution environments (DESIGN.md "Execution environments"): memory = MemorySize with
// no swap, a CPU quota proportional to memory, a pids limit, freeze/thaw, kill, peak memory and OOM
// reporting. One interface, two backends chosen once at start: cgroup v2 (one unified tree) or v1
// (one tree per controller: cpu, memory, pids, freezer).
//
// Ownership: CgroupManager owns lamina's parent group "<root>/lamina/<instance>" (per hierarchy on
// v1); each Cgroup owns one environment's group below it and removes it, after killing everything
// in it, on destruction. A Cgroup may outlive its manager (they share the parent directory fds).
// Descriptors: a Cgroup holds one directory fd per hierarchy (1 on v2, up to 4 on v1).
//
// Threading: every call is a blocking system call (or a bounded poll of a few ms); call it off the
// I/O threads. CgroupManager::create may be called from several threads at once; one Cgroup is used
// by one thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/unique_fd.h"

namespace lamina::sandbox {

struct CgroupLimits {
  int64_t memoryBytes = 0;  // MemorySize MiB; swap is not allowed on top
  int64_t cpuQuotaUs = 0;   // CPU time per cpuPeriodUs
  int64_t cpuPeriodUs = 100000;
  int64_t pidsMax = 1024;
};

// MemorySize that buys one vCPU on Lambda.
constexpr int kMbPerVcpu = 1769;

// Lambda's sizing for a function's MemorySize on a host with `hostCpus` cores: 1,769 MB = one vCPU,
// quota = period * memoryMb / 1769 (rounded down), capped at the host's cores and at 6 vCPUs, and
// at least the kernel's 1 ms minimum. Pure.
CgroupLimits limitsForMemory(int memoryMb, int hostCpus);
// The limits during Init: MemorySize's memory, but the CPU of every host core (up to 6), as
// Lambda's init boost. The MemorySize share (limitsForMemory) applies once Init ends.
CgroupLimits limitsForInit(int memoryMb, int hostCpus);

class Cgroup {
 public:
  virtual ~Cgroup() = default;
  Cgroup() = default;
  Cgroup(const Cgroup&) = delete;
  Cgroup& operator=(const Cgroup&) = delete;

  // Moves `pid` (its whole thread group) into this group, in every hierarchy. Do it before the
  // process execs untrusted code (e.g. the child waits on a pipe).
  virtual Result<void> addProcess(pid_t pid) = 0;
  // v2: the group's directory, for clone3(CLONE_INTO_CGROUP), which starts a child already inside.
  // v1 has no such thing: -1.
  virtual int dirFd() const = 0;
  // Open (write-only) cgroup.procs files, one per hierarchy: a process given them joins the group
  // by writing "0" to each (a zygote's keeper does, before it forks the runtime process).
  virtual Result<std::vector<core::UniqueFd>> openProcsFiles() = 0;
  // Changes the CPU quota (e.g. full speed during Init, then the MemorySize share). One write per
  // hierarchy: cheap enough for the I/O thread. A no-op without the cpu controller.
  virtual Result<void> setCpuQuota(int64_t quotaUs, int64_t periodUs) = 0;
  // Rewrites every limit (a prewarmed environment's group gets its function's limits this way).
  virtual Result<void> setLimits(const CgroupLimits& limits) = 0;
  // Stops every task and returns once the kernel reports the group frozen; on a timeout it thaws
  // again and fails. Frozen tasks still count as present (pids(), not dead).
  virtual Result<void> freeze() = 0;
  virtual Result<void> thaw() = 0;
  // The largest memory use the group has seen. v2 kernels before 5.19 have no memory.peak: then it
  // is the largest memory.current seen by calls to this method.
  virtual Result<uint64_t> peakMemoryBytes() = 0;
  // Whether the kernel's OOM killer has killed a task in this group.
  virtual Result<bool> oomKilled() = 0;
  // SIGKILL to every task, repeated until the group is empty (bounded; fails if tasks remain).
  // Works whether or not the group is frozen; leaves it thawed.
  virtual Result<void> killAll() = 0;
  // The processes (thread-group ids) in the group, in every hierarchy.
  virtual Result<std::vector<pid_t>> pids() = 0;
  // killAll, then removes the group's directories. Idempotent; the destructor calls it and drops
  // its error (a leftover is reaped by the next daemon start).
  virtual Result<void> remove() = 0;
};

// Test seams and tuning. Production leaves the hooks empty.
struct CgroupOptions {
  // How long freeze, killAll and removal may poll the kernel before failing.
  std::chrono::microseconds pollTimeout{std::chrono::seconds(2)};
  // Replaces the sleeps between polls (fake trees cannot acknowledge a freeze by themselves).
  std::function<void(std::chrono::microseconds)> sleep;
  // After lamina created a group directory: a fake tree writes the files the kernel would create.
  // `hierarchy` is "v2", or the v1 controller directory ("cpu", "memory", "pids", "freezer").
  std::function<void(int dirFd, std::string_view hierarchy)> afterMkdir;
  // Before lamina removes a group directory: a fake tree deletes those files (the kernel does that
  // itself, so rmdir of a real cgroup needs no emptying).
  std::function<void(int dirFd, std::string_view hierarchy)> beforeRmdir;
};

class CgroupManager {
 public:
  virtual ~CgroupManager() = default;

  // Detects the cgroup version under `root` (normally /sys/fs/cgroup; tests pass a fake tree):
  // v2 when `root` is a cgroup2 mount, or when a hybrid system's `root/unified` offers the memory
  // controller; otherwise v1 when any of the cpu, memory, pids, freezer hierarchies exists. Creates
  // `lamina/<instanceName>`, enables controllers (v2), and kills and removes every group a previous
  // run left below it (staleGroupsReaped). Fails only when there is no cgroup tree at all or the
  // parent cannot be created; missing controllers become warnings().
  static Result<std::unique_ptr<CgroupManager>> open(const std::filesystem::path& root, std::string_view instanceName,
                                                     CgroupOptions options = {});

  // Creates the group `name` (one path component, not existing yet) with `limits`. Limits of a
  // missing controller are skipped (see warnings()).
  virtual Result<std::unique_ptr<Cgroup>> create(std::string_view name, const CgroupLimits& limits) = 0;
  virtual std::string_view version() const = 0;  // "v1" or "v2"
  // What is missing, e.g. "memory controller not available: ...", for `lamina server --check` and
  // the start-up log. Fixed after open().
  virtual std::vector<std::string> warnings() const = 0;
  // How many groups of a previous run open() killed and removed.
  virtual int staleGroupsReaped() const = 0;
};

// Shared by the two backends (cgroup.cpp); not for use outside src/sandbox/cgroup*.cpp.
namespace cgroup_detail {

using core::UniqueFd;

bool validName(std::string_view name);
Result<UniqueFd> openDir(int dirFd, const std::string& name);
bool hasFile(int dirFd, const char* name);
// Opens with O_TRUNC (what `echo v > file` does, fine on cgroupfs) so fake files hold the last value.
Result<void> writeFile(int dirFd, const char* name, std::string_view value);
Result<std::string> readFile(int dirFd, const char* name);
Result<int64_t> readInt(int dirFd, const char* name);
// The value of `key` in a "key value" per line file (cgroup.events, memory.events, ...).
Result<int64_t> readKeyed(int dirFd, const char* name, std::string_view key);
Result<std::vector<pid_t>> readPids(int dirFd);
Result<std::vector<std::string>> subdirectories(int dirFd);
// mkdirat + afterMkdir hook; `mayExist` accepts an existing directory (parents, not groups).
Result<UniqueFd> makeGroupDir(int parentFd, const std::string& name, bool mayExist, std::string_view hierarchy,
                              const CgroupOptions& options);
// beforeRmdir hook + unlinkat(AT_REMOVEDIR). Returns the errno (0, or ENOENT when already gone).
int removeGroupDir(int parentFd, const std::string& name, std::string_view hierarchy, const CgroupOptions& options);
// Calls `step` until it returns true, sleeping with a growing backoff (50 us .. 5 ms) between
// calls, for at most options.pollTimeout of total sleep; then fails with "<what>: timed out".
Result<void> pollUntil(const CgroupOptions& options, std::string_view what, const std::function<Result<bool>()>& step);

Result<std::unique_ptr<CgroupManager>> openV2(UniqueFd root, std::string_view instanceName, CgroupOptions options);
Result<std::unique_ptr<CgroupManager>> openV1(UniqueFd root, std::string_view instanceName, CgroupOptions options);

}  // namespace cgroup_detail

}  // namespace lamina::sandbox
