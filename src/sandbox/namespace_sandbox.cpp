// The isolating backend (sandbox.h makeNamespaceSandbox).
//
// Process tree: clone3 starts an "init" in new pid, mount, uts, ipc (and network) namespaces. Init
// is pid 1 there: it builds the filesystem view (mounts.h), drops every privilege, installs the
// seccomp filter, forks the function's process (pid 2) and then only reaps and forwards signals.
// Why an init rather than exec'ing the runtime as pid 1:
//  - zombies: orphans re-parent to pid 1, and a language runtime does not reap children it never
//    started; init reaps everything;
//  - signals: pid 1 ignores every signal it has no handler for, so a runtime as pid 1 would shrug
//    off the SIGTERM of a graceful shutdown; init forwards it to pid 2, which behaves as on Lambda
//    (where the runtime is not pid 1 either);
//  - exit: when pid 2 exits, init sends its wait status down a pipe and exits, and the kernel kills
//    whatever is left in the namespace. The daemon reaps init and reports pid 2's status.
// The price is one vfork and one idle process per environment. Init is a copy-on-write image of
// the daemon: it costs the daemon's page tables and a few dirty pages, not the daemon's size (an
// exec'd static init would shed even those; not done yet).
//
// Between clone and exec the child is a copy of a multithreaded daemon: it may only make
// async-signal-safe calls. Everything (paths, argv, envp, the BPF program, the mount plan) is
// prepared before clone, and set*id go through raw syscalls (glibc's wrappers would try to signal
// the daemon's other threads, which do not exist in the child).
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

#include "core/unique_fd.h"
#include "sandbox/cgroup.h"
#include "sandbox/mounts.h"
#include "sandbox/netns.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"

namespace lamina::sandbox {

namespace {

using core::UniqueFd;

// What init's /proc/<pid>/cmdline shows instead of the daemon's command line, which it inherited.
constexpr char kInitCmdline[] = "lamina-init";
constexpr int kSetupTimeoutMs = 10'000;

// Setup steps after the mount plan, for error messages. A ChildError's step is either an index into
// the mount plan (>= 0) or -(one of these).
enum NamedStep : int {
  kStepFds = 1,
  kStepNetns,
  kStepLoopback,
  kStepHostname,
  kStepRlimits,
  kStepCapBounding,
  kStepSetgroups,
  kStepSetgid,
  kStepSetuid,
  kStepCapset,
  kStepNoNewPrivs,
  kStepParentDeath,
  kStepCwd,
  kStepSeccomp,
  kStepCgroup,
  kStepFork,
  kStepExec,
};

const char* namedStep(int step) {
  switch (step) {
    case kStepFds:
      return "setting up descriptors";
    case kStepNetns:
      return "joining the network namespace";
    case kStepLoopback:
      return "bringing up lo";
    case kStepHostname:
      return "setting the hostname";
    case kStepRlimits:
      return "setting rlimits";
    case kStepCapBounding:
      return "dropping the capability bounding set";
    case kStepSetgroups:
      return "setgroups";
    case kStepSetgid:
      return "setgid";
    case kStepSetuid:
      return "setuid";
    case kStepCapset:
      return "clearing capabilities";
    case kStepNoNewPrivs:
      return "setting no_new_privs";
    case kStepParentDeath:
      return "setting the parent-death signal";
    case kStepCwd:
      return "changing to the working directory";
    case kStepSeccomp:
      return "installing the seccomp filter";
    case kStepCgroup:
      return "waiting to join the cgroup";
    case kStepFork:
      return "starting the process";
    case kStepExec:
      return "exec";
  }
  return "setup";
}

// Written by the child to the error pipe when a step fails: one write, well under PIPE_BUF.
struct ChildError {
  int err;
  int step;
};

// Everything the child reads. Built by the parent; the child gets its own copy with the clone.
struct ChildContext {
  MountPlan plan;
  const std::vector<sock_filter>* filter;
  const char* executable;
  std::vector<char*> argv;
  std::vector<char*> envp;
  const char* cwd;
  const char* hostname;
  uid_t uid;
  gid_t gid;
  int lastCap;
  char* argArea;  // the daemon's argv strings (arg_start..arg_end), or null if unknown
  size_t argAreaSize;
  int errFd;
  int statusFd;
  int outputFd;
  int netnsFd;            // -1: the clone made a new network namespace
  int goFd;               // -1, or: wait for a byte (the daemon has moved us into the cgroup)
  std::vector<int> keep;  // sorted; every other descriptor >= 3 is closed first thing
};

[[noreturn]] void childFail(const ChildContext& c, int step, int err) {
  ChildError e{err, step};
  [[maybe_unused]] auto n = ::write(c.errFd, &e, sizeof e);
  ::_exit(127);
}

// Closes every inherited descriptor but c.keep: the child is a copy of the daemon, with its
// sockets, database and other environments' pipes, and init never execs to shed close-on-exec ones.
int setUpDescriptors(const ChildContext& c) {
  unsigned from = 3;
  for (int fd : c.keep) {
    if (static_cast<unsigned>(fd) > from) ::syscall(SYS_close_range, from, static_cast<unsigned>(fd) - 1, 0);
    from = static_cast<unsigned>(fd) + 1;
  }
  ::syscall(SYS_close_range, from, ~0U, 0);
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) return errno;
  if (::dup2(devnull, 0) < 0 || ::dup2(c.outputFd, 1) < 0 || ::dup2(c.outputFd, 2) < 0) return errno;
  ::close(devnull);
  ::close(c.outputFd);
  return 0;
}

int dropPrivileges(const ChildContext& c, int* step) {
  *step = kStepCapBounding;
  for (int cap = 0; cap <= c.lastCap; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return errno;
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return errno;
  *step = kStepSetgroups;
  if (::syscall(SYS_setgroups, 0, nullptr) != 0) return errno;
  *step = kStepSetgid;
  if (::syscall(SYS_setresgid, c.gid, c.gid, c.gid) != 0) return errno;
  *step = kStepSetuid;
  // Leaving uid 0 clears the permitted and effective sets; the inheritable set survives it.
  if (::syscall(SYS_setresuid, c.uid, c.uid, c.uid) != 0) return errno;
  *step = kStepCapset;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capset, &header, data) != 0) return errno;
  *step = kStepNoNewPrivs;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  // After the id change, which clears the parent-death signal. No race with the parent's exit:
  // the spawning thread is blocked reading our error pipe until the exec.
  *step = kStepParentDeath;
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return errno;
  return 0;
}

[[noreturn]] void runProcess(const ChildContext& c) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  // exec resets handlers but not SIG_IGN, which the daemon may have set (SIGPIPE).
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(c.executable, c.argv.data(), c.envp.data());
  childFail(c, -kStepExec, errno);
}

[[noreturn]] void runInit(ChildContext& c) {
  if (int err = setUpDescriptors(c)) childFail(c, -kStepFds, err);
  if (c.netnsFd >= 0) {
    if (::setns(c.netnsFd, CLONE_NEWNET) != 0) childFail(c, -kStepNetns, errno);
    ::close(c.netnsFd);
  } else if (int err = bringUpLoopback()) {
    childFail(c, -kStepLoopback, err);
  }
  size_t failed = 0;
  if (int err = runMountPlan(c.plan, &failed)) childFail(c, static_cast<int>(failed), err);
  if (::sethostname(c.hostname, std::strlen(c.hostname)) != 0) childFail(c, -kStepHostname, errno);
  // AWS's 1024 open files. AWS's 1024 processes/threads are per environment, but RLIMIT_NPROC
  // counts every task of the uid machine-wide (every environment runs as the same uid), so 1024
  // there would cap the whole host: it stays the daemon's (raising it needs CAP_SYS_RESOURCE,
  // which a container's root may lack), and the cgroup's pids.max (1024) is the per-environment
  // limit.
  rlimit files{1024, 1024};
  if (::setrlimit(RLIMIT_NOFILE, &files) != 0) childFail(c, -kStepRlimits, errno);
  // Init's memory is the daemon's, command line included, and /proc/1/cmdline is world-readable.
  // Overwrite init's copy of the argument area (PR_SET_MM would need CAP_SYS_RESOURCE, which a
  // container's root may lack). Only this copy changes; the daemon's own pages are untouched.
  ::prctl(PR_SET_NAME, "init", 0, 0, 0);
  if (c.argArea != nullptr) {
    for (size_t i = 0; i < c.argAreaSize; ++i) c.argArea[i] = i < sizeof kInitCmdline ? kInitCmdline[i] : '\0';
  }
  int step = 0;
  if (int err = dropPrivileges(c, &step)) childFail(c, -step, err);
  if (::chdir(c.cwd) != 0) childFail(c, -kStepCwd, errno);
  sock_fprog prog{static_cast<unsigned short>(c.filter->size()), const_cast<sock_filter*>(c.filter->data())};
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) childFail(c, -kStepSeccomp, errno);

  // Block everything before the fork: init takes signals with sigwaitinfo, and a blocked signal
  // reaches pid 1 even without a handler (an unblocked one it has no handler for is dropped).
  sigset_t all;
  sigfillset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  if (c.goFd >= 0) {  // v1 cgroups: nothing of the function's runs before we are inside
    char go = 0;
    ssize_t n;
    while ((n = ::read(c.goFd, &go, 1)) < 0 && errno == EINTR) {
    }
    if (n != 1) childFail(c, -kStepCgroup, n < 0 ? errno : ECANCELED);
    ::close(c.goFd);
  }
  // vfork: the process borrows init's memory until it execs, so the daemon's page tables, which
  // init still carries, are not copied a second time (that copy was half the spawn time under
  // ASan). Not fork(): it would run the daemon's atfork handlers, and ASan's take locks.
  pid_t child = ::vfork();
  if (child < 0) childFail(c, -kStepFork, errno);
  if (child == 0) runProcess(c);
  ::close(c.errFd);  // the daemon sees EOF once the process has exec'd too

  for (;;) {
    siginfo_t info;
    int sig = ::sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      ::kill(child, sig);
      continue;
    }
    int status = 0;
    pid_t reaped;
    while ((reaped = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (reaped == child) {
        [[maybe_unused]] auto n = ::write(c.statusFd, &status, sizeof status);
        ::_exit(0);  // the kernel kills the rest of the namespace
      }
    }
  }
}

class NamespaceProcess final : public Process {
 public:
  NamespaceProcess(pid_t pid, UniqueFd pidfd, UniqueFd output, UniqueFd status)
      : pid_(pid), pidfd_(std::move(pidfd)), output_(std::move(output)), status_(std::move(status)) {}
  ~NamespaceProcess() override {
    kill();
    if (!reaped_) {
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
  pid_t pid() const override { return pid_; }
  int exitFd() const override { return pidfd_.get(); }
  int outputFd() const override { return output_.get(); }
  void kill() override {
    // SIGKILL to a pid namespace's init kills every process in it.
    if (!reaped_) ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
  }
  void terminate() override {
    // Init forwards it to the runtime process.
    if (!reaped_) ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGTERM, nullptr, 0);
  }
  std::optional<int> tryReap() override {
    if (reaped_) return waitStatus_;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
    reaped_ = true;
    // The process's own status if init relayed it; else init's (killed before the process ended).
    int relayed = 0;
    waitStatus_ = ::read(status_.get(), &relayed, sizeof relayed) == sizeof relayed ? relayed : status;
    return waitStatus_;
  }
  uint64_t peakMemoryBytes() const override { return 0; }  // the cgroup knows; see cgroup.h

 private:
  pid_t pid_;
  UniqueFd pidfd_;
  UniqueFd output_;
  UniqueFd status_;
  bool reaped_ = false;
  int waitStatus_ = 0;
};

// Moves fd out of 0..2, where a daemon started with closed stdio could have put it: the child
// makes 0..2 its own stdio before using the others.
Result<UniqueFd> aboveStdio(UniqueFd fd) {
  if (fd.get() > 2) return fd;
  int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return failErrno("sandbox: fcntl(F_DUPFD_CLOEXEC)", errno);
  return UniqueFd(moved);
}

Result<std::pair<UniqueFd, UniqueFd>> makePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return failErrno("sandbox: pipe2", errno);
  UniqueFd r(fds[0]);
  auto w = aboveStdio(UniqueFd(fds[1]));
  if (!w) return std::unexpected(w.error());
  return std::pair{std::move(r), std::move(*w)};
}

// Waits for the child's verdict: EOF once the process has exec'd, or a ChildError.
Result<void> awaitSetup(int errRead, const MountPlan& plan) {
  ChildError e{};
  size_t got = 0;
  while (got < sizeof e) {
    pollfd pfd{errRead, POLLIN, 0};
    int ready = ::poll(&pfd, 1, kSetupTimeoutMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return fail(Code::kInternal, "sandbox: setup did not finish within 10 s");
    ssize_t n = ::read(errRead, reinterpret_cast<char*>(&e) + got, sizeof e - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got == 0) return {};
  if (got < sizeof e) return fail(Code::kInternal, "sandbox: setup failed (short report)");
  std::string what = e.step >= 0 && static_cast<size_t>(e.step) < plan.steps.size()
                         ? plan.steps[static_cast<size_t>(e.step)].what
                         : namedStep(-e.step);
  return failErrno("sandbox: " + what, e.err);
}

class NamespaceSandbox final : public Sandbox {
 public:
  explicit NamespaceSandbox(NamespaceOptions options)
      : options_(std::move(options)),
        filter_(compileSeccompFilter()),
        lastCap_(readLastCap()),
        argArea_(readArgArea()) {}

  std::string_view name() const override { return "namespace"; }

  Result<std::unique_ptr<Process>> spawn(const ProcessSpec& spec) override {
    if (!filter_) return std::unexpected(filter_.error());
    auto plan = planView({spec.taskDir, spec.optDir, spec.runtimeDir, spec.tmpSizeMb, options_.maskPaths});
    if (!plan) return std::unexpected(plan.error());
    auto errPipe = makePipe();
    if (!errPipe) return std::unexpected(errPipe.error());
    auto statusPipe = makePipe();
    if (!statusPipe) return std::unexpected(statusPipe.error());
    auto outPipe = makePipe();
    if (!outPipe) return std::unexpected(outPipe.error());
    int cgroupFd = spec.cgroup ? spec.cgroup->dirFd() : -1;
    std::optional<std::pair<UniqueFd, UniqueFd>> goPipe;  // v1: read end in the child
    if (spec.cgroup && cgroupFd < 0) {
      auto made = makePipe();
      if (!made) return std::unexpected(made.error());
      goPipe = std::move(*made);
    }
    UniqueFd netns;  // the caller's fd, or a copy of it moved out of 0..2
    int netnsFd = spec.netnsFd;
    if (netnsFd >= 0 && netnsFd <= 2) {
      auto moved = aboveStdio(UniqueFd(::fcntl(netnsFd, F_DUPFD_CLOEXEC, 3)));
      if (!moved) return std::unexpected(moved.error());
      netns = std::move(*moved);
      netnsFd = netns.get();
    }

    std::string cwd = !spec.cwd.empty() ? spec.cwd.string() : spec.taskDir.empty() ? "/" : "/var/task";
    ChildContext c{.plan = std::move(*plan),
                   .filter = &*filter_,
                   .executable = spec.executable.c_str(),
                   .cwd = cwd.c_str(),
                   .hostname = spec.hostname.c_str(),
                   .uid = options_.uid,
                   .gid = options_.gid,
                   .lastCap = lastCap_,
                   .argArea = argArea_.first,
                   .argAreaSize = argArea_.second,
                   .errFd = errPipe->second.get(),
                   .statusFd = statusPipe->second.get(),
                   .outputFd = outPipe->second.get(),
                   .netnsFd = netnsFd,
                   .goFd = goPipe ? goPipe->first.get() : -1};
    for (const auto& a : spec.argv) c.argv.push_back(const_cast<char*>(a.c_str()));
    c.argv.push_back(nullptr);
    for (const auto& e : spec.env) c.envp.push_back(const_cast<char*>(e.c_str()));
    c.envp.push_back(nullptr);
    c.keep = {c.errFd, c.statusFd, c.outputFd};
    if (netnsFd >= 0) c.keep.push_back(netnsFd);
    if (c.goFd >= 0) c.keep.push_back(c.goFd);
    std::sort(c.keep.begin(), c.keep.end());

    int pidfd = -1;
    clone_args args{};
    args.flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_PIDFD;
    if (netnsFd < 0) args.flags |= CLONE_NEWNET;
    args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    if (cgroupFd >= 0) {
      args.flags |= CLONE_INTO_CGROUP;
      args.cgroup = static_cast<uint64_t>(cgroupFd);
    }
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) return failErrno("sandbox: clone3", errno);
    if (pid == 0) runInit(c);

    UniqueFd pidfdOwner(pidfd);
    errPipe->second.reset();
    statusPipe->second.reset();
    outPipe->second.reset();
    netns.reset();
    if (goPipe) {
      goPipe->first.reset();
      auto joined = spec.cgroup->addProcess(static_cast<pid_t>(pid));
      if (joined) {
        char go = 1;
        if (::write(goPipe->second.get(), &go, 1) != 1) joined = failErrno("sandbox: releasing the child", errno);
      }
      goPipe->second.reset();  // on failure the child reads EOF and gives up
      if (!joined) {
        ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
        while (::waitpid(static_cast<pid_t>(pid), nullptr, 0) < 0 && errno == EINTR) {
        }
        return fail(Code::kInternal, "sandbox: joining the cgroup: " + joined.error().message());
      }
    }
    if (auto ok = awaitSetup(errPipe->first.get(), c.plan); !ok) {
      ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
      while (::waitpid(static_cast<pid_t>(pid), nullptr, 0) < 0 && errno == EINTR) {
      }
      return std::unexpected(ok.error());
    }
    ::fcntl(outPipe->first.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(statusPipe->first.get(), F_SETFL, O_NONBLOCK);
    return std::unique_ptr<Process>(new NamespaceProcess(static_cast<pid_t>(pid), std::move(pidfdOwner),
                                                         std::move(outPipe->first), std::move(statusPipe->first)));
  }

 private:
  // The highest capability number this kernel knows; the bounding set is dropped up to it.
  static int readLastCap() {
    std::ifstream in("/proc/sys/kernel/cap_last_cap");
    int last = CAP_LAST_CAP;
    in >> last;
    return in ? last : CAP_LAST_CAP;
  }

  // The argument area of this process (fields 48 and 49 of /proc/self/stat), or {null, 0}.
  static std::pair<char*, size_t> readArgArea() {
    std::ifstream in("/proc/self/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto comm = stat.rfind(')');  // comm may hold spaces and parentheses; the fields follow it
    if (comm == std::string::npos) return {nullptr, 0};
    std::istringstream fields(stat.substr(comm + 2));
    std::string field;
    unsigned long start = 0, end = 0;
    for (int i = 3; fields >> field; ++i) {  // the first field after comm is number 3
      if (i == 48) start = std::strtoul(field.c_str(), nullptr, 10);
      if (i == 49) end = std::strtoul(field.c_str(), nullptr, 10);
    }
    if (start == 0 || end <= start) return {nullptr, 0};
    return {reinterpret_cast<char*>(start), end - start};
  }

  NamespaceOptions options_;
  Result<std::vector<sock_filter>> filter_;  // an error here fails every spawn, saying why
  int lastCap_;
  std::pair<char*, size_t> argArea_;
};

}  // namespace

std::unique_ptr<Sandbox> makeNamespaceSandbox(NamespaceOptions options) {
  return std::make_unique<NamespaceSandbox>(std::move(options));
}

}  // namespace lamina::sandbox
