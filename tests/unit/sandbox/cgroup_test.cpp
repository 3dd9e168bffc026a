// Cgroup layer: Lambda's sizing, both backends against fake trees (exact bytes written, detection,
// warnings, stale reaping, the freeze wait through the sleep seam), then the real kernel (root only).
#include "sandbox/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "core/strings.h"

namespace lamina::sandbox {

namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, std::string_view content) {
  std::ofstream out(p, std::ios::trunc);
  out << content;
}

bool present(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

// A file the kernel would have created, written relative to a directory fd.
void put(int dirFd, const char* name, std::string_view content) {
  int fd = ::openat(dirFd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << name;
  ASSERT_EQ(::write(fd, content.data(), content.size()), ssize_t(content.size()));
  ::close(fd);
}

// What rmdir of a real cgroup does by itself: the control files go with the directory.
void deleteFiles(int dirFd) {
  int fd = ::openat(dirFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* d = ::fdopendir(fd);
  ASSERT_NE(d, nullptr);
  std::vector<std::string> files;
  while (dirent* e = ::readdir(d))
    if (e->d_type == DT_REG) files.emplace_back(e->d_name);
  for (const auto& f : files) ::unlinkat(::dirfd(d), f.c_str(), 0);
  ::closedir(d);
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/lamina-cgroup-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A fake /sys/fs/cgroup. Hooks populate new group directories with the files the kernel would
// create, given which controllers and features this fake "kernel" has.
struct FakeTree {
  TempDir tmp;
  fs::path root = tmp.path();
  std::set<std::string> controllers = {"cpu", "memory", "pids", "freezer"};
  bool memsw = true;          // v1 swap accounting
  bool v2Extras = true;       // memory.peak, memory.swap.max, cgroup.kill
  bool pidsInMemory = false;  // v1: pids co-mounted with memory
  int sleeps = 0;
  std::chrono::microseconds slept{0};
  std::function<void(int)> onSleep;  // called with the sleep's ordinal (1, 2, ...)

  void makeV1() {
    for (const char* dir : {"cpu", "cpuacct", "memory", "pids", "freezer", "systemd"}) {
      if (!controllers.contains(dir) && std::string_view(dir) != "cpuacct" && std::string_view(dir) != "systemd")
        continue;
      if (pidsInMemory && std::string_view(dir) == "pids") {
        fs::create_directory_symlink("memory", root / "pids");
        continue;
      }
      fs::create_directory(root / dir);
      spit(root / dir / "cgroup.procs", "");
    }
    // This machine's hybrid layout: a cgroup2 tree with only hugetlb.
    fs::create_directory(root / "unified");
    spit(root / "unified" / "cgroup.controllers", "hugetlb\n");
  }
  void makeV2(const fs::path& at) {
    std::string list = "cpuset";
    for (const char* c : {"cpu", "memory", "pids"})
      if (controllers.contains(c)) list += std::string(" ") + c;
    spit(at / "cgroup.controllers", list + " hugetlb\n");
    spit(at / "cgroup.subtree_control", "");
    spit(at / "cgroup.procs", "");
  }

  void populate(int d, std::string_view h) {
    put(d, "cgroup.procs", "");
    if (h == "v2") {
      put(d, "cgroup.events", "populated 0\nfrozen 0\n");
      put(d, "cgroup.freeze", "0\n");
      put(d, "cgroup.subtree_control", "");
      if (v2Extras) put(d, "cgroup.kill", "");
      if (controllers.contains("memory")) {
        put(d, "memory.max", "max\n");
        put(d, "memory.current", "0\n");
        put(d, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
        if (v2Extras) put(d, "memory.swap.max", "max\n");
        if (v2Extras) put(d, "memory.peak", "0\n");
      }
      if (controllers.contains("cpu")) put(d, "cpu.max", "max 100000\n");
      if (controllers.contains("pids")) put(d, "pids.max", "max\n");
      return;
    }
    put(d, "tasks", "");
    if (h == "cpu") {
      put(d, "cpu.cfs_quota_us", "-1\n");
      put(d, "cpu.cfs_period_us", "100000\n");
    }
    if (h == "memory") {
      put(d, "memory.limit_in_bytes", "9223372036854771712\n");
      if (memsw) put(d, "memory.memsw.limit_in_bytes", "9223372036854771712\n");
      put(d, "memory.max_usage_in_bytes", "0\n");
      put(d, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
      put(d, "memory.failcnt", "0\n");
    }
    if (h == "pids" || (h == "memory" && pidsInMemory)) put(d, "pids.max", "max\n");
    if (h == "freezer") put(d, "freezer.state", "THAWED\n");
  }

  CgroupOptions options() {
    CgroupOptions o;
    o.pollTimeout = std::chrono::milliseconds(20);
    o.afterMkdir = [this](int d, std::string_view h) { populate(d, h); };
    o.beforeRmdir = [](int d, std::string_view) { deleteFiles(d); };
    o.sleep = [this](std::chrono::microseconds us) {
      slept += us;
      if (onSleep) onSleep(++sleeps);
    };
    return o;
  }

  // Directories a previous run left below `base`, each with its files.
  void makeStale(const fs::path& base, const fs::path& rel, std::string_view hierarchy) {
    fs::path p = base;
    for (const auto& part : rel) {
      p /= part;
      if (present(p)) continue;
      fs::create_directory(p);
      int d = ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      populate(d, hierarchy);
      ::close(d);
    }
  }
};

std::unique_ptr<CgroupManager> mustOpen(const fs::path& root, std::string_view instance, CgroupOptions options) {
  auto m = CgroupManager::open(root, instance, std::move(options));
  EXPECT_TRUE(m.has_value()) << m.error().message();
  return m ? std::move(*m) : nullptr;
}

bool hasWarning(const CgroupManager& m, std::string_view text) {
  for (const auto& w : m.warnings())
    if (w.find(text) != std::string::npos) return true;
  return false;
}

// A pid no process can have (above the kernel's PID_MAX_LIMIT), for fake cgroup.procs files.
constexpr pid_t kNoSuchPid = 0x3fffffff;

}  // namespace

TEST(CgroupLimits, LambdaSizing) {
  struct Case {
    int mb, cpus;
    int64_t quota;
  };
  for (const Case& c : {Case{128, 2, 7235}, Case{256, 2, 14471}, Case{1769, 2, 100000}, Case{3538, 2, 200000},
                        Case{10240, 2, 200000}, Case{128, 8, 7235}, Case{256, 8, 14471}, Case{1769, 8, 100000},
                        Case{3538, 8, 200000}, Case{10240, 8, 578858}}) {
    auto l = limitsForMemory(c.mb, c.cpus);
    EXPECT_EQ(l.cpuQuotaUs, c.quota) << c.mb << " MB on " << c.cpus << " cores";
    EXPECT_EQ(l.memoryBytes, int64_t(c.mb) * 1048576);
    EXPECT_EQ(l.cpuPeriodUs, 100000);
    EXPECT_EQ(l.pidsMax, 1024);
  }
  EXPECT_EQ(limitsForMemory(128, 8).memoryBytes, 134217728);
  EXPECT_EQ(limitsForMemory(20000, 16).cpuQuotaUs, 600000);  // AWS's 6 vCPU ceiling
  EXPECT_EQ(limitsForMemory(1, 8).cpuQuotaUs, 1000);         // the kernel's minimum quota
  EXPECT_EQ(limitsForMemory(3538, 0).cpuQuotaUs, 100000);    // an unknown core count counts as one
}

TEST(CgroupLimits, InitRunsAtFullSpeedWithTheFunctionsMemory) {
  auto init = limitsForInit(128, 2);
  EXPECT_EQ(init.memoryBytes, 128LL << 20);
  EXPECT_EQ(init.cpuQuotaUs, 200000);                    // both cores, not 128/1769 of one
  EXPECT_EQ(limitsForInit(128, 16).cpuQuotaUs, 600000);  // AWS's 6 vCPU ceiling
}

TEST(CgroupDetect, NoTreeIsAnError) {
  TempDir tmp;
  EXPECT_FALSE(CgroupManager::open(tmp.path(), "i", {}).has_value());
  EXPECT_FALSE(CgroupManager::open(tmp.path() / "missing", "i", {}).has_value());
}

TEST(CgroupDetect, RejectsBadNames) {
  FakeTree t;
  t.makeV1();
  EXPECT_FALSE(CgroupManager::open(t.root, "a/b", t.options()).has_value());
  EXPECT_FALSE(CgroupManager::open(t.root, "..", t.options()).has_value());
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->create("../x", limitsForMemory(128, 2)).has_value());
  EXPECT_FALSE(m->create("", limitsForMemory(128, 2)).has_value());
}

TEST(CgroupDetect, HybridWithControllerlessUnifiedIsV1) {
  FakeTree t;
  t.makeV1();
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->version(), "v1");
  EXPECT_TRUE(m->warnings().empty()) << m->warnings().front();
  for (const char* c : {"cpu", "memory", "pids", "freezer"}) EXPECT_TRUE(present(t.root / c / "lamina/inst")) << c;
  EXPECT_FALSE(present(t.root / "unified/lamina"));
}

TEST(CgroupDetect, UnifiedRootIsV2) {
  FakeTree t;
  t.makeV2(t.root);
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->version(), "v2");
  EXPECT_TRUE(m->warnings().empty()) << m->warnings().front();
  // Controllers enabled all the way down to the instance, so its children get them.
  for (const char* dir : {"", "lamina", "lamina/inst"})
    EXPECT_EQ(slurp(t.root / dir / "cgroup.subtree_control"), "+cpu +memory +pids") << dir;
}

TEST(CgroupDetect, HybridWithMemoryOnUnifiedIsV2There) {
  FakeTree t;
  fs::create_directory(t.root / "unified");
  t.makeV2(t.root / "unified");
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->version(), "v2");
  EXPECT_TRUE(present(t.root / "unified/lamina/inst"));
}

TEST(CgroupV1, CreateWritesLimitsAndRemoves) {
  FakeTree t;
  t.makeV1();
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  auto g = m->create("env1", limitsForMemory(128, 2));
  ASSERT_TRUE(g.has_value()) << g.error().message();
  fs::path mem = t.root / "memory/lamina/inst/env1", cpu = t.root / "cpu/lamina/inst/env1";
  EXPECT_EQ(slurp(mem / "memory.limit_in_bytes"), "134217728");
  EXPECT_EQ(slurp(mem / "memory.memsw.limit_in_bytes"), "134217728");
  EXPECT_EQ(slurp(cpu / "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(slurp(cpu / "cpu.cfs_quota_us"), "7235");
  EXPECT_EQ(slurp(t.root / "pids/lamina/inst/env1/pids.max"), "1024");
  EXPECT_EQ((*g)->dirFd(), -1);
  EXPECT_FALSE(m->create("env1", limitsForMemory(128, 2)).has_value());  // exists already
  // The init boost: full speed, then back to the MemorySize share.
  ASSERT_TRUE((*g)->setCpuQuota(200000, 100000).has_value());
  EXPECT_EQ(slurp(cpu / "cpu.cfs_quota_us"), "200000");
  ASSERT_TRUE((*g)->setCpuQuota(7235, 100000).has_value());
  EXPECT_EQ(slurp(cpu / "cpu.cfs_quota_us"), "7235");
  EXPECT_EQ(slurp(cpu / "cpu.cfs_period_us"), "100000");

  ASSERT_TRUE((*g)->addProcess(kNoSuchPid).has_value());
  for (const char* c : {"cpu", "memory", "pids", "freezer"})
    EXPECT_EQ(slurp(t.root / c / "lamina/inst/env1/cgroup.procs"), std::to_string(kNoSuchPid)) << c;
  auto pids = (*g)->pids();
  ASSERT_TRUE(pids.has_value());
  EXPECT_EQ(*pids, std::vector<pid_t>{kNoSuchPid});
  for (const char* c : {"cpu", "memory", "pids", "freezer"}) spit(t.root / c / "lamina/inst/env1/cgroup.procs", "");

  ASSERT_TRUE((*g)->freeze().has_value());
  EXPECT_EQ(slurp(t.root / "freezer/lamina/inst/env1/freezer.state"), "FROZEN");
  ASSERT_TRUE((*g)->thaw().has_value());
  EXPECT_EQ(slurp(t.root / "freezer/lamina/inst/env1/freezer.state"), "THAWED");
  EXPECT_EQ(t.sleeps, 0);

  g->reset();
  for (const char* c : {"cpu", "memory", "pids", "freezer"}) {
    EXPECT_FALSE(present(t.root / c / "lamina/inst/env1")) << c;
    EXPECT_TRUE(present(t.root / c / "lamina/inst")) << c;
  }
  m.reset();
  for (const char* c : {"cpu", "memory", "pids", "freezer"}) EXPECT_FALSE(present(t.root / c / "lamina/inst")) << c;
}

TEST(CgroupV1, MemoryReports) {
  FakeTree t;
  t.makeV1();
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  auto g = m->create("env1", limitsForMemory(128, 2));
  ASSERT_TRUE(g.has_value());
  fs::path mem = t.root / "memory/lamina/inst/env1";
  EXPECT_EQ((*g)->oomKilled().value_or(true), false);
  spit(mem / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  spit(mem / "memory.max_usage_in_bytes", "33554432\n");
  EXPECT_EQ((*g)->oomKilled().value_or(false), true);
  EXPECT_EQ((*g)->peakMemoryBytes().value_or(0), 33554432u);
  // Before 4.13 there is no oom_kill line: a failed memory+swap charge stands in.
  spit(mem / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
  EXPECT_EQ((*g)->oomKilled().value_or(true), false);
  spit(mem / "memory.memsw.failcnt", "3\n");
  EXPECT_EQ((*g)->oomKilled().value_or(false), true);
}

TEST(CgroupV1, MissingControllersAreWarnings) {
  FakeTree t;
  t.controllers = {"cpu", "memory", "freezer"};
  t.memsw = false;
  t.makeV1();
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->warnings().size(), 2u);
  EXPECT_TRUE(hasWarning(*m, "pids controller not available"));
  EXPECT_TRUE(hasWarning(*m, "memory.memsw"));
  auto g = m->create("env1", limitsForMemory(256, 8));
  ASSERT_TRUE(g.has_value()) << g.error().message();
  EXPECT_EQ(slurp(t.root / "memory/lamina/inst/env1/memory.limit_in_bytes"), "268435456");
  EXPECT_FALSE(present(t.root / "memory/lamina/inst/env1/memory.memsw.limit_in_bytes"));
  EXPECT_EQ(slurp(t.root / "cpu/lamina/inst/env1/cpu.cfs_quota_us"), "14471");
  EXPECT_FALSE(present(t.root / "pids"));
}

TEST(CgroupV1, MissingFreezerFailsFreeze) {
  FakeTree t;
  t.controllers = {"cpu", "memory", "pids"};
  t.makeV1();
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  EXPECT_TRUE(hasWarning(*m, "freezer controller not available"));
  auto g = m->create("env1", limitsForMemory(128, 2));
  ASSERT_TRUE(g.has_value());
  EXPECT_FALSE((*g)->freeze().has_value());
}

TEST(CgroupV1, CoMountedControllersShareOneDirectory) {
  FakeTree t;
  t.pidsInMemory = true;
  t.makeV1();
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->warnings().empty()) << m->warnings().front();
  auto g = m->create("env1", limitsForMemory(128, 2));
  ASSERT_TRUE(g.has_value()) << g.error().message();
  EXPECT_EQ(slurp(t.root / "memory/lamina/inst/env1/pids.max"), "1024");
  EXPECT_EQ(slurp(t.root / "memory/lamina/inst/env1/memory.limit_in_bytes"), "134217728");
}

TEST(CgroupV1, ReapsStaleGroups) {
  FakeTree t;
  t.makeV1();
  for (const char* c : {"cpu", "memory", "pids", "freezer"}) t.makeStale(t.root / c, "lamina/inst/old1", c);
  t.makeStale(t.root / "memory", "lamina/inst/old2", "memory");   // half-created before a crash
  t.makeStale(t.root / "memory", "lamina/other/keep", "memory");  // another instance's: not ours
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->staleGroupsReaped(), 2);
  for (const char* c : {"cpu", "memory", "pids", "freezer"}) EXPECT_FALSE(present(t.root / c / "lamina/inst/old1"));
  EXPECT_FALSE(present(t.root / "memory/lamina/inst/old2"));
  EXPECT_TRUE(present(t.root / "memory/lamina/other/keep"));
}

// killAll's loop against a fake tree with a real victim: the fake "kernel" drops the pid from
// cgroup.procs at the first poll, as the real one does when the task exits.
TEST(CgroupV1, KillAllSignalsEveryTaskThawedAndPollsUntilEmpty) {
  FakeTree t;
  t.makeV1();
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  auto g = m->create("env1", limitsForMemory(128, 2));
  ASSERT_TRUE(g.has_value());
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::execl("/bin/sleep", "sleep", "100", nullptr);
    ::_exit(127);
  }
  spit(t.root / "memory/lamina/inst/env1/cgroup.procs", std::to_string(child) + "\n");
  spit(t.root / "pids/lamina/inst/env1/cgroup.procs", std::to_string(child) + "\n");
  t.onSleep = [&](int) {
    for (const char* c : {"memory", "pids"}) spit(t.root / c / "lamina/inst/env1/cgroup.procs", "");
  };
  ASSERT_TRUE((*g)->killAll().has_value());
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(t.sleeps, 1);
  EXPECT_EQ(slurp(t.root / "freezer/lamina/inst/env1/freezer.state"), "THAWED");
}

TEST(CgroupV2, CreateWritesLimitsAndRemoves) {
  FakeTree t;
  t.makeV2(t.root);
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  auto g = m->create("env1", limitsForMemory(128, 2));
  ASSERT_TRUE(g.has_value()) << g.error().message();
  fs::path dir = t.root / "lamina/inst/env1";
  EXPECT_EQ(slurp(dir / "memory.max"), "134217728");
  EXPECT_EQ(slurp(dir / "memory.swap.max"), "0");
  EXPECT_EQ(slurp(dir / "cpu.max"), "7235 100000");
  EXPECT_EQ(slurp(dir / "pids.max"), "1024");
  EXPECT_GE((*g)->dirFd(), 0);
  ASSERT_TRUE((*g)->setCpuQuota(200000, 100000).has_value());
  EXPECT_EQ(slurp(dir / "cpu.max"), "200000 100000");
  ASSERT_TRUE((*g)->setCpuQuota(7235, 100000).has_value());
  EXPECT_EQ(slurp(dir / "cpu.max"), "7235 100000");
  ASSERT_TRUE((*g)->addProcess(kNoSuchPid).has_value());
  EXPECT_EQ(slurp(dir / "cgroup.procs"), std::to_string(kNoSuchPid));
  spit(dir / "cgroup.procs", "");

  auto big = m->create("env2", limitsForMemory(10240, 8));
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(slurp(t.root / "lamina/inst/env2/memory.max"), "10737418240");
  EXPECT_EQ(slurp(t.root / "lamina/inst/env2/cpu.max"), "578858 100000");

  // The fake reports "populated 0": removal needs no kill and no poll.
  g->reset();
  EXPECT_FALSE(present(dir));
  EXPECT_EQ(t.sleeps, 0);
  big->reset();
  m.reset();
  EXPECT_FALSE(present(t.root / "lamina/inst"));
  EXPECT_TRUE(present(t.root / "lamina"));
}

TEST(CgroupV2, FreezeWaitsForTheKernelsAcknowledgement) {
  FakeTree t;
  t.makeV2(t.root);
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  auto g = m->create("env1", limitsForMemory(128, 2));
  ASSERT_TRUE(g.has_value());
  fs::path dir = t.root / "lamina/inst/env1";
  t.onSleep = [&](int n) {
    if (n == 3) spit(dir / "cgroup.events", "populated 1\nfrozen 1\n");
  };
  ASSERT_TRUE((*g)->freeze().has_value());
  EXPECT_EQ(t.sleeps, 3);
  EXPECT_EQ(slurp(dir / "cgroup.freeze"), "1");
  ASSERT_TRUE((*g)->thaw().has_value());
  EXPECT_EQ(slurp(dir / "cgroup.freeze"), "0");
  spit(dir / "cgroup.events", "populated 0\nfrozen 0\n");
}

TEST(CgroupV2, FreezeGivesUpAndThawsAfterTheTimeout) {
  FakeTree t;
  t.makeV2(t.root);
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  auto g = m->create("env1", limitsForMemory(128, 2));
  ASSERT_TRUE(g.has_value());
  auto r = (*g)->freeze();
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("timed out"), std::string::npos) << r.error().message();
  EXPECT_EQ(slurp(t.root / "lamina/inst/env1/cgroup.freeze"), "0");
  EXPECT_GE(t.slept, std::chrono::milliseconds(20));
  EXPECT_LE(t.sleeps, 12);  // backoff 50 us doubling to 5 ms, not a busy loop
}

TEST(CgroupV2, KillAllWritesCgroupKillUntilUnpopulated) {
  FakeTree t;
  t.makeV2(t.root);
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  auto g = m->create("env1", limitsForMemory(128, 2));
  ASSERT_TRUE(g.has_value());
  fs::path dir = t.root / "lamina/inst/env1";
  spit(dir / "cgroup.events", "populated 1\nfrozen 0\n");
  t.onSleep = [&](int) { spit(dir / "cgroup.events", "populated 0\nfrozen 0\n"); };
  ASSERT_TRUE((*g)->killAll().has_value());
  EXPECT_EQ(slurp(dir / "cgroup.kill"), "1");
  EXPECT_EQ(t.sleeps, 1);
}

TEST(CgroupV2, MemoryReports) {
  FakeTree t;
  t.makeV2(t.root);
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  auto g = m->create("env1", limitsForMemory(128, 2));
  ASSERT_TRUE(g.has_value());
  fs::path dir = t.root / "lamina/inst/env1";
  EXPECT_EQ((*g)->oomKilled().value_or(true), false);
  spit(dir / "memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n");
  spit(dir / "memory.peak", "33554432\n");
  EXPECT_EQ((*g)->oomKilled().value_or(false), true);
  EXPECT_EQ((*g)->peakMemoryBytes().value_or(0), 33554432u);
}

TEST(CgroupV2, OldKernelAndMissingMemoryAreWarnings) {
  FakeTree t;
  t.controllers = {"cpu", "pids"};
  t.v2Extras = false;
  t.makeV2(t.root);
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  EXPECT_TRUE(hasWarning(*m, "memory controller not available"));
  EXPECT_TRUE(hasWarning(*m, "cgroup.kill not available"));
  EXPECT_EQ(slurp(t.root / "lamina/inst/cgroup.subtree_control"), "+cpu +pids");
  auto g = m->create("env1", limitsForMemory(128, 2));
  ASSERT_TRUE(g.has_value()) << g.error().message();
  EXPECT_FALSE(present(t.root / "lamina/inst/env1/memory.max"));
  EXPECT_EQ(slurp(t.root / "lamina/inst/env1/cpu.max"), "7235 100000");
  EXPECT_FALSE((*g)->peakMemoryBytes().has_value());
}

TEST(CgroupV2, PeakFallsBackToTheLargestCurrentSeen) {
  FakeTree t;
  t.v2Extras = false;
  t.makeV2(t.root);
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  EXPECT_TRUE(hasWarning(*m, "memory.peak not available"));
  EXPECT_TRUE(hasWarning(*m, "memory.swap.max not available"));
  auto g = m->create("env1", limitsForMemory(128, 2));
  ASSERT_TRUE(g.has_value());
  EXPECT_FALSE(present(t.root / "lamina/inst/env1/memory.swap.max"));
  spit(t.root / "lamina/inst/env1/memory.current", "1000\n");
  EXPECT_EQ((*g)->peakMemoryBytes().value_or(0), 1000u);
  spit(t.root / "lamina/inst/env1/memory.current", "500\n");
  EXPECT_EQ((*g)->peakMemoryBytes().value_or(0), 1000u);
}

TEST(CgroupV2, ReapsStaleGroups) {
  FakeTree t;
  t.makeV2(t.root);
  t.makeStale(t.root, "lamina/inst/old1", "v2");
  t.makeStale(t.root, "lamina/inst/old2", "v2");
  auto m = mustOpen(t.root, "inst", t.options());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->staleGroupsReaped(), 2);
  EXPECT_FALSE(present(t.root / "lamina/inst/old1"));
  EXPECT_FALSE(present(t.root / "lamina/inst/old2"));
  EXPECT_EQ(slurp(t.root / "lamina/inst/cgroup.subtree_control"), "+cpu +memory +pids");
}

// ---- The real kernel: root on a machine with cgroupfs (CI is one; elsewhere these skip) ----

namespace {

const fs::path kSysCgroup = "/sys/fs/cgroup";

// A forked child that waits until released, so it joins its cgroup before doing anything, as the
// sandbox's children do. `run` executes in the child and must only make async-signal-safe calls.
class Child {
 public:
  explicit Child(void (*run)()) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return;
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(126);
      char c;
      if (::read(p[0], &c, 1) != 1) ::_exit(126);
      run();
      ::_exit(0);
    }
    ::close(p[0]);
    go_ = p[1];
  }
  ~Child() {
    if (go_ >= 0) ::close(go_);
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  pid_t pid() const { return pid_; }
  void release() {
    EXPECT_EQ(::write(go_, "x", 1), 1);
    ::close(go_);
    go_ = -1;
  }
  int wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
  bool reaped_ = false;
};

void runSleep() { ::execl("/bin/sleep", "sleep", "1000", nullptr); }

// Touches 200 MB, page by page.
void touch200Mb() {
  const size_t size = size_t(200) << 20;
  void* m = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) ::_exit(125);
  volatile char* bytes = static_cast<volatile char*>(m);
  for (size_t i = 0; i < size; i += 4096) bytes[i] = 1;
}

// Python when present: an OOM-killed copy of this ASan-built test takes ~1.5 s to exit (tearing down
// 20 TB of shadow mappings); python3 goes in ~0.2 s.
void runHog() {
  ::execl("/usr/bin/python3", "python3", "-c", "b = bytearray(200 * 1024 * 1024)", nullptr);
  touch200Mb();
}

std::string procState(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("State:", 0) == 0) return std::string(core::trim(std::string_view(line).substr(6)));
  return "";
}

bool killedBySigkill(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL; }

}  // namespace

class RealCgroup : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups under /sys/fs/cgroup";
    if (!present(kSysCgroup / "cgroup.controllers") && !present(kSysCgroup / "memory/cgroup.procs") &&
        !present(kSysCgroup / "cpu/cgroup.procs"))
      GTEST_SKIP() << "no cgroup filesystem mounted at /sys/fs/cgroup";
    instance_ = "unit-test-" + std::to_string(::getpid());
    auto m = CgroupManager::open(kSysCgroup, instance_, {});
    ASSERT_TRUE(m.has_value()) << m.error().message();
    manager_ = std::move(*m);
    std::cout << "cgroup " << manager_->version() << "\n";
    for (const auto& w : manager_->warnings()) std::cout << "  warning: " << w << "\n";
    if (manager_->version() == "v2") {
      bases_.push_back(present(kSysCgroup / "cgroup.controllers") ? kSysCgroup : kSysCgroup / "unified");
    } else {
      for (const char* c : {"cpu", "memory", "pids", "freezer"})
        if (present(kSysCgroup / c / "lamina" / instance_)) bases_.push_back(kSysCgroup / c);
    }
    ASSERT_FALSE(bases_.empty());
  }
  void TearDown() override {
    if (!manager_) return;
    manager_.reset();
    for (const auto& base : bases_) EXPECT_FALSE(present(base / "lamina" / instance_)) << base;
  }

  bool v2() const { return manager_->version() == "v2"; }
  // The group's directory holding `file` (v2: the one directory; v1: that controller's tree).
  fs::path dir(std::string_view group, std::string_view controller) const {
    fs::path base = v2() ? bases_.front() : kSysCgroup / controller;
    return base / "lamina" / instance_ / group;
  }
  std::vector<fs::path> dirs(const std::string& instance, std::string_view group) const {
    std::vector<fs::path> out;
    for (const auto& base : bases_) out.push_back(base / "lamina" / instance / group);
    return out;
  }

  std::string instance_;
  std::unique_ptr<CgroupManager> manager_;
  std::vector<fs::path> bases_;  // v2: the tree; v1: each controller tree present
};

TEST_F(RealCgroup, LimitsFreezeKillRemove) {
  auto g = manager_->create("env", limitsForMemory(128, 2));
  ASSERT_TRUE(g.has_value()) << g.error().message();
  if (v2()) {
    EXPECT_EQ(slurp(dir("env", "") / "memory.max"), "134217728\n");
    EXPECT_EQ(slurp(dir("env", "") / "cpu.max"), "7235 100000\n");
    EXPECT_EQ(slurp(dir("env", "") / "pids.max"), "1024\n");
  } else {
    EXPECT_EQ(slurp(dir("env", "memory") / "memory.limit_in_bytes"), "134217728\n");
    if (present(dir("env", "memory") / "memory.memsw.limit_in_bytes")) {
      EXPECT_EQ(slurp(dir("env", "memory") / "memory.memsw.limit_in_bytes"), "134217728\n");
    }
    EXPECT_EQ(slurp(dir("env", "cpu") / "cpu.cfs_quota_us"), "7235\n");
    EXPECT_EQ(slurp(dir("env", "cpu") / "cpu.cfs_period_us"), "100000\n");
    EXPECT_EQ(slurp(dir("env", "pids") / "pids.max"), "1024\n");
  }

  Child child(runSleep);
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE((*g)->addProcess(child.pid()).has_value());
  child.release();
  EXPECT_EQ((*g)->pids().value_or(std::vector<pid_t>{}), std::vector<pid_t>{child.pid()});

  ASSERT_TRUE((*g)->freeze().has_value());
  if (v2()) {
    EXPECT_NE(slurp(dir("env", "") / "cgroup.events").find("frozen 1"), std::string::npos);
  } else {
    EXPECT_EQ(slurp(dir("env", "freezer") / "freezer.state"), "FROZEN\n");
    // The v1 refrigerator is an uninterruptible sleep.
    EXPECT_EQ(procState(child.pid()).substr(0, 1), "D") << procState(child.pid());
  }
  ASSERT_TRUE((*g)->thaw().has_value());
  if (v2()) {
    EXPECT_NE(slurp(dir("env", "") / "cgroup.events").find("frozen 0"), std::string::npos);
  } else {
    EXPECT_EQ(slurp(dir("env", "freezer") / "freezer.state"), "THAWED\n");
    for (int i = 0; i < 1000 && procState(child.pid()).starts_with("D"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_FALSE(procState(child.pid()).starts_with("D")) << procState(child.pid());
  }

  // Killing a frozen group: on v1 the SIGKILL only lands once thawed.
  ASSERT_TRUE((*g)->freeze().has_value());
  ASSERT_TRUE((*g)->killAll().has_value());
  EXPECT_TRUE(killedBySigkill(child.wait()));
  EXPECT_TRUE((*g)->pids().value_or(std::vector<pid_t>{1}).empty());
  if (!v2()) {
    EXPECT_EQ(slurp(dir("env", "freezer") / "freezer.state"), "THAWED\n");
  }

  auto groupDirs = dirs(instance_, "env");
  for (const auto& d : groupDirs) EXPECT_TRUE(present(d)) << d;
  g->reset();
  for (const auto& d : groupDirs) EXPECT_FALSE(present(d)) << d;
}

TEST_F(RealCgroup, OutOfMemoryIsKilledAndReported) {
  // A 32 MB limit but a whole vCPU: at 32 MB's 1.8% share python3 needs seconds to start.
  CgroupLimits limits = limitsForMemory(1769, 2);
  limits.memoryBytes = 32 << 20;
  auto g = manager_->create("oom", limits);
  ASSERT_TRUE(g.has_value()) << g.error().message();
  EXPECT_EQ((*g)->oomKilled().value_or(true), false);
  Child child(runHog);
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE((*g)->addProcess(child.pid()).has_value());
  child.release();
  EXPECT_TRUE(killedBySigkill(child.wait()));
  EXPECT_EQ((*g)->oomKilled().value_or(false), true);
  auto peak = (*g)->peakMemoryBytes();
  ASSERT_TRUE(peak.has_value()) << peak.error().message();
  EXPECT_GE(*peak, uint64_t(limits.memoryBytes) * 3 / 4);
  EXPECT_LE(*peak, uint64_t(limits.memoryBytes));
}

TEST_F(RealCgroup, ReapsAPreviousRunsGroupsAndTheirProcesses) {
  const std::string previous = instance_ + "-previous";
  auto leftovers = dirs(previous, "env");
  for (const auto& d : leftovers) {
    std::error_code ec;
    fs::create_directories(d, ec);
    ASSERT_FALSE(ec) << d << ": " << ec.message();
  }
  Child child(runSleep);
  ASSERT_GT(child.pid(), 0);
  for (const auto& d : leftovers) spit(d / "cgroup.procs", std::to_string(child.pid()));
  child.release();
  {
    auto m = CgroupManager::open(kSysCgroup, previous, {});
    ASSERT_TRUE(m.has_value()) << m.error().message();
    EXPECT_EQ((*m)->staleGroupsReaped(), 1);
    EXPECT_TRUE(killedBySigkill(child.wait()));
    for (const auto& d : leftovers) EXPECT_FALSE(present(d)) << d;
  }
  for (const auto& d : leftovers) EXPECT_FALSE(present(d.parent_path())) << d.parent_path();
}

}  // namespace lamina::sandbox
