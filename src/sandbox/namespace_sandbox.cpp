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
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
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
#include "sandbox/fd_passing.h"
#include "sandbox/mounts.h"
#include "sandbox/netns.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"
#include "sandbox/zygote.h"

namespace lamina::sandbox {

namespace {

using core::UniqueFd;

// What init's /proc/<pid>/cmdline shows instead of the daemon's command line, which it inherited.
constexpr char kInitCmdline[] = "lamina-init";
constexpr int kSetupTimeoutMs = 10'000;
constexpr int kZygoteStartTimeoutMs = 30'000;

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
  kStepIdMaps,
  kStepListen,
  kStepStartMessage,
  kStepTask,
  kStepOpt,
  kStepTmp,
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
      return "waiting for the daemon's go";
    case kStepIdMaps:
      return "waiting for the user namespace's id maps";
    case kStepListen:
      return "making the listeners inside";
    case kStepStartMessage:
      return "reading the start message";
    case kStepTask:
      return "mounting /var/task";
    case kStepOpt:
      return "mounting /opt";
    case kStepTmp:
      return "sizing /tmp";
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
  char** argvp = nullptr;  // what execve gets: argv.data(), or the start message's
  char** envpp = nullptr;
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
  int netnsFd;  // -1: the clone made a new network namespace
  int goFd;     // -1, or: wait for a byte (the daemon has moved us into the cgroup)
  // Prewarmed shells (prewarm()): after the generic setup the child reports ready on errFd and
  // waits on ctlFd for the start message; buffers are allocated before the clone.
  int ctlFd = -1;
  std::vector<char> message;
  std::vector<char*> pointers;
  // User namespace mode: wait on mapFd until the daemon has written our id maps; no setgroups.
  bool userns = false;
  int mapFd = -1;
  // Listeners to make inside and send to the daemon over lisFd (SCM_RIGHTS).
  uint16_t listenPorts[4] = {};
  int listenCount = 0;
  int lisFd = -1;
  // Adopt mode (Shell::adopt): init mounts the trees and drops privileges, then starts nothing; a
  // zygote forks the runtime process into its namespaces.
  bool adopt = false;
  // A zygote (startZygote): only the mount namespace is new; no privilege drop, no seccomp, no
  // init; passFd (the control socket) stays open across the exec.
  int passFd = -1;
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
  // In a user namespace setgroups is denied (the daemon wrote "deny" before the gid map), and the
  // only group mapped is ours anyway.
  if (!c.userns && ::syscall(SYS_setgroups, 0, nullptr) != 0) return errno;
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
  ::execve(c.executable, c.argvp, c.envpp);
  childFail(c, -kStepExec, errno);
}

// The start message of a prewarmed shell (see StartHeader): reports ready, waits for it, then
// mounts the function's trees and sizes /tmp. Child only; allocates nothing.
struct StartHeader {
  uint32_t argc, envc;
  uint32_t fds;  // SCM_RIGHTS descriptors: the /var/task tree, then the /opt tree when hasOpt
  uint32_t hasTask, hasOpt;
  uint32_t remountTmp;  // then a mount option string ("size=1024m") follows the header
  uint32_t adopt;       // start nothing: a zygote forks the process in (Shell::adopt)
};

void receiveStart(ChildContext& c) {
  ChildError ready{0, 0};
  if (::write(c.errFd, &ready, sizeof ready) != sizeof ready) ::_exit(127);
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))];
  iovec iov{c.message.data(), c.message.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(c.ctlFd, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n <= 0) ::_exit(0);  // the shell was discarded
  if (static_cast<size_t>(n) < sizeof(StartHeader) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
    childFail(c, -kStepStartMessage, EMSGSIZE);
  StartHeader h;
  std::memcpy(&h, c.message.data(), sizeof h);
  c.adopt = h.adopt != 0;
  int fds[2] = {-1, -1};
  for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
      size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      std::memcpy(fds, CMSG_DATA(cm), std::min<size_t>(count, 2) * sizeof(int));
    }
  }
  // Strings, NUL-terminated, in order: [tmp option], executable, cwd, argv..., env...
  char* p = c.message.data() + sizeof h;
  char* end = c.message.data() + n;
  size_t need = static_cast<size_t>(h.argc) + h.envc + 2;
  if (need > c.pointers.size()) childFail(c, -kStepStartMessage, E2BIG);
  auto next = [&]() -> char* {
    char* s = p;
    while (p < end && *p != '\0') ++p;
    if (p >= end) childFail(c, -kStepStartMessage, EBADMSG);
    ++p;
    return s;
  };
  const char* tmpOption = h.remountTmp ? next() : nullptr;
  c.executable = next();
  c.cwd = next();
  char** ptrs = c.pointers.data();
  for (uint32_t i = 0; i < h.argc; ++i) ptrs[i] = next();
  ptrs[h.argc] = nullptr;
  for (uint32_t i = 0; i < h.envc; ++i) ptrs[h.argc + 1 + i] = next();
  ptrs[h.argc + 1 + h.envc] = nullptr;
  c.argvp = ptrs;
  c.envpp = ptrs + h.argc + 1;
  int fdIndex = 0;
  if (h.hasTask) {
    int fd = fds[fdIndex++];
    if (fd < 0 || ::move_mount(fd, "", AT_FDCWD, "/var/task", MOVE_MOUNT_F_EMPTY_PATH) != 0)
      childFail(c, -kStepTask, fd < 0 ? EBADF : errno);
    ::close(fd);
  }
  if (h.hasOpt) {
    int fd = fds[fdIndex++];
    if (fd < 0 || ::move_mount(fd, "", AT_FDCWD, "/opt", MOVE_MOUNT_F_EMPTY_PATH) != 0)
      childFail(c, -kStepOpt, fd < 0 ? EBADF : errno);
    ::close(fd);
  }
  if (tmpOption != nullptr && ::mount("tmpfs", "/tmp", "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, tmpOption) != 0)
    childFail(c, -kStepTmp, errno);
  ::close(c.ctlFd);
}

// Makes the listeners of c.listenPorts on 127.0.0.1 (in our network namespace) and sends them to
// the daemon in one message. Child only.
int makeListeners(const ChildContext& c) {
  int fds[4] = {-1, -1, -1, -1};
  int err = 0;
  for (int i = 0; i < c.listenCount && err == 0; ++i) {
    fds[i] = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(c.listenPorts[i]);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    if (fds[i] < 0 || ::setsockopt(fds[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::bind(fds[i], reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fds[i], SOMAXCONN) != 0)
      err = errno;
  }
  if (err == 0) {
    char byte = 'L';
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(static_cast<size_t>(c.listenCount) * sizeof(int));
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(static_cast<size_t>(c.listenCount) * sizeof(int));
    std::memcpy(CMSG_DATA(cm), fds, static_cast<size_t>(c.listenCount) * sizeof(int));
    if (::sendmsg(c.lisFd, &msg, MSG_NOSIGNAL) != 1) err = errno;
  }
  for (int fd : fds)
    if (fd >= 0) ::close(fd);
  return err;
}

[[noreturn]] void runInit(ChildContext& c) {
  if (int err = setUpDescriptors(c)) childFail(c, -kStepFds, err);
  if (c.mapFd >= 0) {  // user namespace: nothing works before our ids are mapped
    char go = 0;
    ssize_t n;
    while ((n = ::read(c.mapFd, &go, 1)) < 0 && errno == EINTR) {
    }
    if (n != 1) childFail(c, -kStepIdMaps, n < 0 ? errno : ECANCELED);
    ::close(c.mapFd);
  }
  if (c.netnsFd >= 0) {
    if (::setns(c.netnsFd, CLONE_NEWNET) != 0) childFail(c, -kStepNetns, errno);
    ::close(c.netnsFd);
  } else if (int err = bringUpLoopback()) {
    childFail(c, -kStepLoopback, err);
  }
  if (c.listenCount > 0) {
    if (int err = makeListeners(c)) childFail(c, -kStepListen, err);
    if (c.lisFd != c.ctlFd) ::close(c.lisFd);
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
  if (c.ctlFd >= 0) receiveStart(c);
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
  // Adopt mode: no process of init's own; a zygote's keeper forks it in and relays its status, and
  // the daemon signals it directly. Init only reaps orphans until the daemon kills it.
  pid_t child = -1;
  if (!c.adopt) {
    child = ::vfork();
    if (child < 0) childFail(c, -kStepFork, errno);
    if (child == 0) runProcess(c);
  }
  ::close(c.errFd);  // the daemon sees EOF once the process has exec'd too (adopt: once set up)

  for (;;) {
    siginfo_t info;
    int sig = ::sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      if (child > 0) ::kill(child, sig);
      continue;
    }
    int status = 0;
    pid_t reaped;
    while ((reaped = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (reaped == child && child > 0) {
        [[maybe_unused]] auto n = ::write(c.statusFd, &status, sizeof status);
        ::_exit(0);  // the kernel kills the rest of the namespace
      }
    }
  }
}

// A zygote: a new mount namespace with the generic view, everything else the host's, root with
// every capability; passFd survives the exec.
[[noreturn]] void runZygoteChild(ChildContext& c) {
  if (int err = setUpDescriptors(c)) childFail(c, -kStepFds, err);
  if (::fcntl(c.passFd, F_SETFD, 0) != 0) childFail(c, -kStepFds, errno);
  size_t failed = 0;
  if (int err = runMountPlan(c.plan, &failed)) childFail(c, static_cast<int>(failed), err);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) childFail(c, -kStepParentDeath, errno);
  if (::chdir(c.cwd) != 0) childFail(c, -kStepCwd, errno);
  runProcess(c);  // the daemon sees EOF on the error pipe once it exec'd
}

// A user namespace's id maps: `uid`/`gid` inside are the daemon's own ids outside (the only
// mapping an unprivileged process may write). Parent only.
Result<void> writeIdMaps(pid_t pid, uid_t uid, gid_t gid) {
  auto put = [pid](const char* file, const std::string& value) -> Result<void> {
    std::string path = "/proc/" + std::to_string(pid) + "/" + file;
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid() || ::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
      return failErrno("sandbox: writing " + path, errno);
    return {};
  };
  if (auto r = put("setgroups", "deny"); !r) return r;
  if (auto r = put("uid_map", std::to_string(uid) + " " + std::to_string(::getuid()) + " 1\n"); !r) return r;
  return put("gid_map", std::to_string(gid) + " " + std::to_string(::getgid()) + " 1\n");
}

// The child's listeners (makeListeners): one message carrying `count` descriptors.
Result<std::vector<UniqueFd>> receiveListeners(int fd, size_t count) {
  pollfd pfd{fd, POLLIN, 0};
  int ready;
  while ((ready = ::poll(&pfd, 1, kSetupTimeoutMs)) < 0 && errno == EINTR) {
  }
  if (ready <= 0) return fail(Code::kInternal, "sandbox: no listeners from the environment within 10 s");
  char byte = 0;
  std::vector<UniqueFd> out;
  ssize_t n = recvWithFds(fd, &byte, 1, out);
  if (n != 1 || out.size() != count) return fail(Code::kInternal, "sandbox: the environment sent no listeners");
  return out;
}

class NamespaceProcess final : public Process {
 public:
  NamespaceProcess(pid_t pid, UniqueFd pidfd, UniqueFd output, UniqueFd status, std::vector<UniqueFd> listeners = {})
      : pid_(pid),
        pidfd_(std::move(pidfd)),
        output_(std::move(output)),
        status_(std::move(status)),
        listeners_(std::move(listeners)) {}
  std::vector<UniqueFd> takeListeners() override { return std::move(listeners_); }
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
  // The cgroup knows better (cgroup.h); without one, the runtime process's own peak RSS.
  uint64_t peakMemoryBytes() const override {
    if (reaped_) return 0;
    if (runtimePid_ == 0) {  // init's first child is the runtime (pid 2 inside)
      std::ifstream in("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) + "/children");
      in >> runtimePid_;
      if (!in) return 0;
    }
    std::ifstream in("/proc/" + std::to_string(runtimePid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
    }
    return 0;
  }

 private:
  pid_t pid_;
  UniqueFd pidfd_;
  UniqueFd output_;
  UniqueFd status_;
  std::vector<UniqueFd> listeners_;
  bool reaped_ = false;
  int waitStatus_ = 0;
  mutable pid_t runtimePid_ = 0;
};

// Moves fd out of 0..2, where a daemon started with closed stdio could have put it: the child
// makes 0..2 its own stdio before using the others.
Result<UniqueFd> aboveStdio(UniqueFd fd) {
  if (fd.get() > 2) return fd;
  int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return failErrno("sandbox: fcntl(F_DUPFD_CLOEXEC)", errno);
  return UniqueFd(moved);
}

// A SOCK_SEQPACKET pair for talking to a child: the daemon's end, and the child's moved out of 0..2.
Result<std::pair<UniqueFd, UniqueFd>> makeChildSocket(int buffer = 0) {
  auto pair = makeSeqpacketPair(buffer);
  if (!pair) return std::unexpected(pair.error().context("sandbox"));
  auto child = aboveStdio(std::move(pair->second));
  if (!child) return std::unexpected(child.error());
  return std::pair{std::move(pair->first), std::move(*child)};
}

Result<std::pair<UniqueFd, UniqueFd>> makePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return failErrno("sandbox: pipe2", errno);
  UniqueFd r(fds[0]);
  auto w = aboveStdio(UniqueFd(fds[1]));
  if (!w) return std::unexpected(w.error());
  return std::pair{std::move(r), std::move(*w)};
}

// The pipes every child needs: its setup verdict, its relayed exit status, its merged output.
struct ChildPipes {
  std::pair<UniqueFd, UniqueFd> err, status, out;
};
Result<ChildPipes> makeChildPipes() {
  ChildPipes p;
  for (auto* pipe : {&p.err, &p.status, &p.out}) {
    auto made = makePipe();
    if (!made) return std::unexpected(made.error());
    *pipe = std::move(*made);
  }
  return p;
}

// SIGKILL to a child's init (its whole pid namespace) and reap it.
void killAndReap(int pidfd, pid_t pid) {
  ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// Writes the child's id maps, then lets it go on. On failure the caller kills the child.
Result<void> releaseWithIdMaps(pid_t pid, std::pair<UniqueFd, UniqueFd>& mapPipe, uid_t uid, gid_t gid) {
  mapPipe.first.reset();
  auto mapped = writeIdMaps(pid, uid, gid);
  char go = 1;
  if (mapped && ::write(mapPipe.second.get(), &go, 1) != 1) mapped = failErrno("sandbox: releasing the child", errno);
  mapPipe.second.reset();
  return mapped;
}

// clone3 into new pid, mount, uts and ipc namespaces (and net, user on request), optionally
// straight into a v2 cgroup; the child runs init. In the parent: closes the child's ends of
// `pipes` and, in user namespace mode, writes the id maps and lets the child go on (killing it if
// that fails). Returns the pid and a pidfd.
struct Cloned {
  pid_t pid;
  UniqueFd pidfd;
};
Result<Cloned> cloneInit(ChildContext& c, ChildPipes& pipes, std::optional<std::pair<UniqueFd, UniqueFd>>& mapPipe,
                         const NamespaceOptions& options, bool newNet, int cgroupFd) {
  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_PIDFD;
  if (newNet) args.flags |= CLONE_NEWNET;
  if (mapPipe) args.flags |= CLONE_NEWUSER;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  if (cgroupFd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroupFd);
  }
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) return failErrno("sandbox: clone3", errno);
  if (pid == 0) runInit(c);
  Cloned cloned{static_cast<pid_t>(pid), UniqueFd(pidfd)};
  pipes.err.second.reset();
  pipes.status.second.reset();
  pipes.out.second.reset();
  if (mapPipe) {
    if (auto mapped = releaseWithIdMaps(cloned.pid, *mapPipe, options.uid, options.gid); !mapped) {
      killAndReap(cloned.pidfd.get(), cloned.pid);
      return std::unexpected(mapped.error());
    }
  }
  return cloned;
}

// User namespace mode: a pipe the child waits on until its id maps are written; else nullopt.
Result<std::optional<std::pair<UniqueFd, UniqueFd>>> makeMapPipe(bool userNamespace) {
  if (!userNamespace) return std::optional<std::pair<UniqueFd, UniqueFd>>();
  auto made = makePipe();
  if (!made) return std::unexpected(made.error());
  return std::optional<std::pair<UniqueFd, UniqueFd>>(std::move(*made));
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

// Room for a start message: Lambda's 4 KB of variables plus lamina's own, argv, paths.
constexpr size_t kMaxStartMessage = 128 * 1024;
constexpr size_t kMaxStartPointers = 4096;

// A detached, read-only copy of `dir` to send to a shell (open_tree: no path lookups in the child).
Result<UniqueFd> detachedTree(const std::filesystem::path& dir) {
  UniqueFd fd(::open_tree(AT_FDCWD, dir.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
  if (!fd.valid()) return failErrno("sandbox: open_tree " + dir.string(), errno);
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (::mount_setattr(fd.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0)
    return failErrno("sandbox: mount_setattr " + dir.string(), errno);
  return fd;
}

// A runtime process a zygote forked into a shell (Shell::adopt). Its exit shows on the relay (the
// keeper's "X" record); signals go to it directly; SIGKILL to init takes the whole namespace down.
class AdoptedProcess final : public Process {
 public:
  AdoptedProcess(pid_t initPid, UniqueFd initPidfd, Keeper::Forked forked)
      : initPid_(initPid), initPidfd_(std::move(initPidfd)), forked_(std::move(forked)) {}
  ~AdoptedProcess() override {
    kill();
    while (::waitpid(initPid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  pid_t pid() const override { return initPid_; }
  int exitFd() const override { return forked_.relay.get(); }
  int outputFd() const override { return forked_.output.get(); }
  void kill() override { ::syscall(SYS_pidfd_send_signal, initPidfd_.get(), SIGKILL, nullptr, 0); }
  void terminate() override {
    if (!status_) ::syscall(SYS_pidfd_send_signal, forked_.pidfd.get(), SIGTERM, nullptr, 0);
  }
  std::optional<int> tryReap() override {
    if (!status_) status_ = readRelayedStatus(forked_.relay.get());
    if (status_) kill();  // init outlives the process in adopt mode; the namespace goes with it
    return status_;
  }
  uint64_t peakMemoryBytes() const override {
    if (status_) return 0;
    std::ifstream in("/proc/" + std::to_string(forked_.pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
    }
    return 0;
  }

 private:
  pid_t initPid_;
  UniqueFd initPidfd_;
  Keeper::Forked forked_;
  std::optional<int> status_;
};

class NamespaceShell final : public Shell {
 public:
  NamespaceShell(pid_t pid, UniqueFd pidfd, UniqueFd err, UniqueFd status, UniqueFd output, UniqueFd ctl,
                 MountPlan plan, int tmpSizeMb, std::vector<UniqueFd> listeners)
      : pid_(pid),
        pidfd_(std::move(pidfd)),
        err_(std::move(err)),
        status_(std::move(status)),
        output_(std::move(output)),
        ctl_(std::move(ctl)),
        plan_(std::move(plan)),
        tmpSizeMb_(tmpSizeMb),
        listeners_(std::move(listeners)) {}
  ~NamespaceShell() override {
    if (!pidfd_.valid()) return;  // started: the Process owns it now
    ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  pid_t pid() const override { return pid_; }
  int pidfd() const override { return pidfd_.get(); }
  std::vector<UniqueFd> takeListeners() override { return std::move(listeners_); }

  Result<std::unique_ptr<Process>> start(const ProcessSpec& spec) override {
    if (auto sent = sendStart(spec, /*adopt=*/false); !sent) return std::unexpected(sent.error());
    if (auto ok = awaitSetup(err_.get(), plan_); !ok) return std::unexpected(ok.error());  // the destructor kills
    ::fcntl(output_.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(status_.get(), F_SETFL, O_NONBLOCK);
    return std::unique_ptr<Process>(
        new NamespaceProcess(pid_, std::move(pidfd_), std::move(output_), std::move(status_)));
  }

  Result<std::unique_ptr<Process>> adopt(const ProcessSpec& spec, Keeper& keeper) override {
    if (auto sent = sendStart(spec, /*adopt=*/true); !sent) return std::unexpected(sent.error());
    if (auto ok = awaitSetup(err_.get(), plan_); !ok) return std::unexpected(ok.error());
    auto forked = keeper.start(spec);
    if (!forked) return std::unexpected(forked.error());  // the destructor kills init and all inside
    return std::unique_ptr<Process>(new AdoptedProcess(pid_, std::move(pidfd_), std::move(*forked)));
  }

 private:
  // The start message (StartHeader): the function's trees as detached mounts, /tmp's size, argv
  // and environment (none in adopt mode, where init execs nothing).
  Result<void> sendStart(const ProcessSpec& spec, bool adopt) {
    if (!pidfd_.valid()) return fail(Code::kInternal, "sandbox: shell already started");
    std::vector<UniqueFd> trees;
    StartHeader h{};
    if (!spec.taskDir.empty()) {
      auto t = detachedTree(spec.taskDir);
      if (!t) return std::unexpected(t.error());
      trees.push_back(std::move(*t));
      h.hasTask = 1;
    }
    if (!spec.optDir.empty()) {
      auto t = detachedTree(spec.optDir);
      if (!t) return std::unexpected(t.error());
      trees.push_back(std::move(*t));
      h.hasOpt = 1;
    }
    h.adopt = adopt ? 1 : 0;
    h.argc = adopt ? 0 : static_cast<uint32_t>(spec.argv.size());
    h.envc = adopt ? 0 : static_cast<uint32_t>(spec.env.size());
    h.fds = static_cast<uint32_t>(trees.size());
    h.remountTmp = spec.tmpSizeMb != tmpSizeMb_ ? 1 : 0;
    std::string body(reinterpret_cast<const char*>(&h), sizeof h);
    auto add = [&body](const std::string& v) {
      body += v;
      body.push_back('\0');
    };
    if (h.remountTmp) add("size=" + std::to_string(spec.tmpSizeMb) + "m");
    add(adopt ? "-" : spec.executable);
    add(adopt || spec.cwd.empty() ? (spec.taskDir.empty() ? "/" : "/var/task") : spec.cwd.string());
    if (!adopt) {
      for (const auto& a : spec.argv) add(a);
      for (const auto& e : spec.env) add(e);
    }
    if (body.size() > kMaxStartMessage || spec.argv.size() + spec.env.size() + 2 > kMaxStartPointers)
      return fail(Code::kInternal, "sandbox: argv and environment too large");

    std::vector<int> fds;
    for (const auto& t : trees) fds.push_back(t.get());
    ssize_t sent = sendWithFds(ctl_.get(), body.data(), body.size(), fds);
    if (sent != static_cast<ssize_t>(body.size())) return failErrno("sandbox: sending the start message", errno);
    ctl_.reset();
    return {};
  }

  pid_t pid_;
  UniqueFd pidfd_, err_, status_, output_, ctl_;
  MountPlan plan_;
  int tmpSizeMb_;
  std::vector<UniqueFd> listeners_;
};

class NamespaceSandbox final : public Sandbox {
 public:
  explicit NamespaceSandbox(NamespaceOptions options)
      : options_(std::move(options)),
        filter_(compileSeccompFilter()),
        lastCap_(readLastCap()),
        argArea_(readArgArea()) {}

  std::string_view name() const override { return "namespace"; }

  Result<std::unique_ptr<Shell>> prewarm(const ProcessSpec& generic) override {
    if (!filter_) return std::unexpected(filter_.error());
    auto plan = planView({{}, {}, generic.runtimeDir, generic.tmpSizeMb, options_.maskPaths});
    if (!plan) return std::unexpected(plan.error());
    auto pipes = makeChildPipes();
    if (!pipes) return std::unexpected(pipes.error());
    auto& [errPipe, statusPipe, outPipe] = *pipes;
    auto ctl = makeChildSocket(static_cast<int>(kMaxStartMessage + 4096));
    if (!ctl) return std::unexpected(ctl.error());
    UniqueFd ctlParent = std::move(ctl->first);
    UniqueFd* ctlChild = &ctl->second;
    int cgroupFd = generic.cgroup ? generic.cgroup->dirFd() : -1;
    if (generic.listenPorts.size() > 4) return fail(Code::kInternal, "sandbox: at most 4 listeners");
    auto mapPipe = makeMapPipe(options_.userNamespace);
    if (!mapPipe) return std::unexpected(mapPipe.error());

    ChildContext c = context(std::move(*plan), generic.hostname, *pipes);
    c.ctlFd = ctlChild->get();
    c.message.resize(kMaxStartMessage);
    c.pointers.resize(kMaxStartPointers);
    c.keep = {c.errFd, c.statusFd, c.outputFd, c.ctlFd};
    c.lisFd = c.ctlFd;
    for (uint16_t port : generic.listenPorts) c.listenPorts[c.listenCount++] = port;
    if (*mapPipe) {
      c.userns = true;
      c.mapFd = (*mapPipe)->first.get();
      c.keep.push_back(c.mapFd);
    }
    std::sort(c.keep.begin(), c.keep.end());

    auto cloned = cloneInit(c, *pipes, *mapPipe, options_, /*newNet=*/true, cgroupFd);
    if (!cloned) return std::unexpected(cloned.error());
    pid_t pid = cloned->pid;
    int pidfd = cloned->pidfd.get();
    UniqueFd pidfdOwner = std::move(cloned->pidfd);
    ctlChild->reset();
    auto kill = [&] { killAndReap(pidfd, pid); };
    // The generic setup's verdict: a ready record, or a ChildError.
    ChildError e{-1, 0};
    size_t got = 0;
    while (got < sizeof e) {
      pollfd pfd{errPipe.first.get(), POLLIN, 0};
      int ready = ::poll(&pfd, 1, kSetupTimeoutMs);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;
      ssize_t n = ::read(errPipe.first.get(), reinterpret_cast<char*>(&e) + got, sizeof e - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    if (got < sizeof e || e.err != 0) {
      kill();
      if (got < sizeof e) return fail(Code::kInternal, "sandbox: prewarm setup did not report");
      std::string what = e.step >= 0 && static_cast<size_t>(e.step) < c.plan.steps.size()
                             ? c.plan.steps[static_cast<size_t>(e.step)].what
                             : namedStep(-e.step);
      return failErrno("sandbox: " + what, e.err);
    }
    std::vector<UniqueFd> listeners;
    if (c.listenCount > 0) {
      auto got = receiveListeners(ctlParent.get(), static_cast<size_t>(c.listenCount));
      if (!got) {
        kill();
        return std::unexpected(got.error());
      }
      listeners = std::move(*got);
    }
    return std::unique_ptr<Shell>(new NamespaceShell(
        pid, std::move(pidfdOwner), std::move(errPipe.first), std::move(statusPipe.first), std::move(outPipe.first),
        std::move(ctlParent), std::move(c.plan), generic.tmpSizeMb, std::move(listeners)));
  }

  Result<std::unique_ptr<Zygote>> startZygote(const ProcessSpec& spec) override {
    if (!filter_) return std::unexpected(filter_.error());
    if (options_.userNamespace) return fail(Code::kInternal, "zygotes need a root daemon (no user namespace mode)");
    auto plan = planView({{}, {}, spec.runtimeDir, spec.tmpSizeMb, options_.maskPaths});
    if (!plan) return std::unexpected(plan.error());
    auto pipes = makeChildPipes();
    if (!pipes) return std::unexpected(pipes.error());
    auto& [errPipe, statusPipe, outPipe] = *pipes;
    auto sockets = makeChildSocket();
    if (!sockets) return std::unexpected(sockets.error());
    UniqueFd control = std::move(sockets->first);
    UniqueFd* passed = &sockets->second;
    std::vector<std::string> env = spec.env;
    env.push_back("LAMINA_ZYGOTE_FD=" + std::to_string(passed->get()));

    ChildContext c = context(std::move(*plan), spec.hostname, *pipes);
    c.executable = spec.executable.c_str();
    c.cwd = "/";
    for (const auto& a : spec.argv) c.argv.push_back(const_cast<char*>(a.c_str()));
    c.argv.push_back(nullptr);
    for (const auto& e : env) c.envp.push_back(const_cast<char*>(e.c_str()));
    c.envp.push_back(nullptr);
    c.argvp = c.argv.data();
    c.envpp = c.envp.data();
    c.passFd = passed->get();
    c.keep = {c.errFd, c.outputFd, c.passFd};
    std::sort(c.keep.begin(), c.keep.end());

    int pidfd = -1;
    clone_args args{};
    args.flags = CLONE_NEWNS | CLONE_PIDFD;
    args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) return failErrno("sandbox: clone3 (zygote)", errno);
    if (pid == 0) runZygoteChild(c);
    UniqueFd pidfdOwner(pidfd);
    errPipe.second.reset();
    statusPipe.second.reset();
    outPipe.second.reset();
    passed->reset();
    auto process = std::make_unique<NamespaceProcess>(static_cast<pid_t>(pid), std::move(pidfdOwner),
                                                      std::move(outPipe.first), std::move(statusPipe.first));
    if (auto ok = awaitSetup(errPipe.first.get(), c.plan); !ok) return std::unexpected(ok.error());

    // Its settings, then the seccomp program; it answers "R" once everything is imported.
    std::string settings =
        std::to_string(options_.uid) + '\0' + std::to_string(options_.gid) + '\0' + std::to_string(lastCap_) + '\0';
    const auto& filter = *filter_;
    if (::send(control.get(), settings.data(), settings.size(), MSG_NOSIGNAL) < 0 ||
        ::send(control.get(), filter.data(), filter.size() * sizeof(sock_filter), MSG_NOSIGNAL) < 0)
      return failErrno("sandbox: configuring the zygote", errno);
    pollfd pfd{control.get(), POLLIN, 0};
    int ready;
    while ((ready = ::poll(&pfd, 1, kZygoteStartTimeoutMs)) < 0 && errno == EINTR) {
    }
    char answer = 0;
    if (ready <= 0 || ::recv(control.get(), &answer, 1, 0) != 1 || answer != 'R') {
      std::string said(4096, '\0');
      ::fcntl(process->outputFd(), F_SETFL, O_NONBLOCK);
      ssize_t n = ::read(process->outputFd(), said.data(), said.size());
      said.resize(n > 0 ? static_cast<size_t>(n) : 0);
      return fail(Code::kInternal, std::string("sandbox: the zygote did not start") +
                                       (ready == 0 ? " within 30 s" : "") + (said.empty() ? "" : ": " + said));
    }
    return std::make_unique<Zygote>(std::move(process), std::move(control));
  }

  Result<std::unique_ptr<Process>> spawn(const ProcessSpec& spec) override {
    if (!filter_) return std::unexpected(filter_.error());
    auto plan = planView({spec.taskDir, spec.optDir, spec.runtimeDir, spec.tmpSizeMb, options_.maskPaths});
    if (!plan) return std::unexpected(plan.error());
    auto pipes = makeChildPipes();
    if (!pipes) return std::unexpected(pipes.error());
    auto& [errPipe, statusPipe, outPipe] = *pipes;
    int cgroupFd = spec.cgroup ? spec.cgroup->dirFd() : -1;
    // v1 cgroup or beforeStart: the child waits for a byte on it (read end in the child).
    std::optional<std::pair<UniqueFd, UniqueFd>> goPipe;
    if ((spec.cgroup && cgroupFd < 0) || spec.beforeStart) {
      auto made = makePipe();
      if (!made) return std::unexpected(made.error());
      goPipe = std::move(*made);
    }
    if (spec.listenPorts.size() > 4) return fail(Code::kInternal, "sandbox: at most 4 listeners");
    if (options_.userNamespace && spec.netnsFd >= 0)
      return fail(Code::kInternal, "sandbox: a user namespace cannot join another netns");
    auto mapPipe = makeMapPipe(options_.userNamespace);
    if (!mapPipe) return std::unexpected(mapPipe.error());
    UniqueFd lisParent, lisChild;  // the child's listeners come back over this
    if (!spec.listenPorts.empty()) {
      auto sockets = makeChildSocket();
      if (!sockets) return std::unexpected(sockets.error());
      lisParent = std::move(sockets->first);
      lisChild = std::move(sockets->second);
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
    ChildContext c = context(std::move(*plan), spec.hostname, *pipes);
    c.executable = spec.executable.c_str();
    c.cwd = cwd.c_str();
    c.netnsFd = netnsFd;
    c.goFd = goPipe ? goPipe->first.get() : -1;
    for (const auto& a : spec.argv) c.argv.push_back(const_cast<char*>(a.c_str()));
    c.argv.push_back(nullptr);
    for (const auto& e : spec.env) c.envp.push_back(const_cast<char*>(e.c_str()));
    c.envp.push_back(nullptr);
    c.argvp = c.argv.data();
    c.envpp = c.envp.data();
    c.keep = {c.errFd, c.statusFd, c.outputFd};
    if (netnsFd >= 0) c.keep.push_back(netnsFd);
    if (c.goFd >= 0) c.keep.push_back(c.goFd);
    if (*mapPipe) {
      c.userns = true;
      c.mapFd = (*mapPipe)->first.get();
      c.keep.push_back(c.mapFd);
    }
    if (lisChild.valid()) {
      c.lisFd = lisChild.get();
      c.keep.push_back(c.lisFd);
      for (uint16_t port : spec.listenPorts) c.listenPorts[c.listenCount++] = port;
    }
    std::sort(c.keep.begin(), c.keep.end());

    auto cloned = cloneInit(c, *pipes, *mapPipe, options_, /*newNet=*/netnsFd < 0, cgroupFd);
    if (!cloned) return std::unexpected(cloned.error());
    pid_t pid = cloned->pid;
    int pidfd = cloned->pidfd.get();
    UniqueFd pidfdOwner = std::move(cloned->pidfd);
    netns.reset();
    lisChild.reset();
    auto killChild = [&] { killAndReap(pidfd, pid); };
    if (goPipe) {
      goPipe->first.reset();
      Result<void> joined;
      if (spec.cgroup && cgroupFd < 0) joined = spec.cgroup->addProcess(pid);
      if (joined && spec.beforeStart) joined = spec.beforeStart(pid);
      if (joined) {
        char go = 1;
        if (::write(goPipe->second.get(), &go, 1) != 1) joined = failErrno("sandbox: releasing the child", errno);
      }
      goPipe->second.reset();  // on failure the child reads EOF and gives up
      if (!joined) {
        // The child's own failure, if it came first, explains more (it reads EOF and exits).
        auto setup = awaitSetup(errPipe.first.get(), c.plan);
        killChild();
        if (!setup && setup.error().message().find(namedStep(kStepCgroup)) == std::string::npos)
          return std::unexpected(setup.error());
        return fail(Code::kInternal, "sandbox: before the start: " + joined.error().message());
      }
    }
    std::vector<UniqueFd> listeners;
    if (lisParent.valid()) {
      auto got = receiveListeners(lisParent.get(), spec.listenPorts.size());
      if (!got) {
        auto setup = awaitSetup(errPipe.first.get(), c.plan);  // the child's own failure explains more
        killChild();
        return std::unexpected(setup ? got.error() : setup.error());
      }
      listeners = std::move(*got);
    }
    if (auto ok = awaitSetup(errPipe.first.get(), c.plan); !ok) {
      killChild();
      return std::unexpected(ok.error());
    }
    ::fcntl(outPipe.first.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(statusPipe.first.get(), F_SETFL, O_NONBLOCK);
    return std::unique_ptr<Process>(new NamespaceProcess(pid, std::move(pidfdOwner), std::move(outPipe.first),
                                                         std::move(statusPipe.first), std::move(listeners)));
  }

 private:
  // What every child gets; the caller fills in the rest.
  ChildContext context(MountPlan plan, const std::string& hostname, const ChildPipes& pipes) const {
    return ChildContext{.plan = std::move(plan),
                        .filter = &*filter_,
                        .executable = nullptr,
                        .cwd = "/",
                        .hostname = hostname.c_str(),
                        .uid = options_.uid,
                        .gid = options_.gid,
                        .lastCap = lastCap_,
                        .argArea = argArea_.first,
                        .argAreaSize = argArea_.second,
                        .errFd = pipes.err.second.get(),
                        .statusFd = pipes.status.second.get(),
                        .outputFd = pipes.out.second.get(),
                        .netnsFd = -1,
                        .goFd = -1};
  }

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
