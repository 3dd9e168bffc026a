// lamina's Node.js zygote, native half (see src/sandbox/zygote.h for the protocol and
// runtimes/nodejs/zygote.cjs for the JavaScript half). Node has no fork(), and the zygote's work
// between forks is all system calls, so it lives here: serve(fd) runs the zygote's loop and
// returns only in a forked runtime process, set up as the sandbox user, with the function's spec.
//
// Forking V8: it marks its heap MADV_DONTFORK, so before every fork each mapping is marked
// MADV_DOFORK again (else the child has no heap); the child gets a fresh epoll set for libuv's
// loop (uv_loop_fork). V8's worker threads do not survive a fork, so the zygote runs with
// --single-threaded (no background jobs to wait for). libuv's thread pool restarts by itself in a
// forked child (its pthread_atfork handler), so fork() must be glibc's, which runs the handlers.
//
// Built by CMake with the host's node headers and no sanitizers (it is loaded by node, not lamina).
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <node_api.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr size_t kMaxSpec = 256 * 1024;

struct Settings {
  uid_t uid = 0;
  gid_t gid = 0;
  int lastCap = 40;
  std::vector<sock_filter> filter;
};

[[noreturn]] void fail(int relay, const char* step, int err) {
  char msg[512];
  int n = std::snprintf(msg, sizeof msg, "E%s: %s", step, std::strerror(err));
  [[maybe_unused]] auto sent = ::send(relay, msg, static_cast<size_t>(n), MSG_NOSIGNAL);
  ::_exit(127);
}

// V8 marks its heap MADV_DONTFORK; a fork without its heap is no use.
void markEverythingForkable() {
  FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) return;
  char line[512];
  while (std::fgets(line, sizeof line, maps) != nullptr) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line, "%lx-%lx", &lo, &hi) == 2) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DOFORK);
  }
  std::fclose(maps);
}

int gRelay = -1;  // the runtime process's relay, between serve() and takeSpec()

// The runtime process: drops what the sandbox drops and gets an event loop of its own; then back
// to JavaScript, which warms up and calls takeSpec().
void becomeRuntime(const Settings& s, int relay, int out) {
  if (::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) fail(relay, "setting up descriptors", errno);
  ::close(out);
  // Every other descriptor is node's own (libuv's epoll set, eventfds, signal pipes), which
  // uv_loop_fork replaces below: the keeper closed the zygote's control socket, and the request's
  // other descriptors are closed by now.
  rlimit files{1024, 1024};
  if (::setrlimit(RLIMIT_NOFILE, &files) != 0) fail(relay, "setting rlimits", errno);
  for (int cap = 0; cap <= s.lastCap; ++cap)
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) fail(relay, "dropping the capability bounding set", errno);
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
    fail(relay, "clearing ambient capabilities", errno);
  // Raw system calls: glibc's wrappers would signal threads that do not exist in a fork.
  if (::syscall(SYS_setgroups, 0, nullptr) != 0) fail(relay, "setgroups", errno);
  if (::syscall(SYS_setresgid, s.gid, s.gid, s.gid) != 0) fail(relay, "setgid", errno);
  if (::syscall(SYS_setresuid, s.uid, s.uid, s.uid) != 0) fail(relay, "setuid", errno);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capset, &header, data) != 0) fail(relay, "clearing capabilities", errno);
  // Changing ids made the process undumpable (its /proc files root's); an exec'd one is not.
  if (::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) fail(relay, "setting dumpable", errno);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(relay, "setting no_new_privs", errno);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(relay, "setting the parent-death signal", errno);
  sock_fprog prog{static_cast<unsigned short>(s.filter.size()), const_cast<sock_filter*>(s.filter.data())};
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
    fail(relay, "installing the seccomp filter", errno);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGCHLD, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (int err = uv_loop_fork(uv_default_loop())) fail(relay, "resetting the event loop", -err);
  gRelay = relay;
}

// takeSpec(): says "K" (set up, waiting), waits for the spec, applies its cwd and environment, says
// "S"; returns its argv.
napi_value TakeSpec(napi_env env, napi_callback_info) {
  int relay = gRelay;
  if (relay < 0) {
    napi_throw_error(env, nullptr, "takeSpec: not a runtime process");
    return nullptr;
  }
  if (::send(relay, "K", 1, MSG_NOSIGNAL) != 1) ::_exit(0);
  std::vector<char> spec(kMaxSpec);
  ssize_t n;
  while ((n = ::recv(relay, spec.data(), spec.size(), 0)) < 0 && errno == EINTR) {
  }
  if (n <= 0) ::_exit(0);  // the environment was not needed after all
  // NUL-terminated strings: cwd, argc, argv..., env...
  std::vector<std::string> parts;
  for (size_t i = 0, start = 0; i < static_cast<size_t>(n); ++i) {
    if (spec[i] == '\0') {
      parts.emplace_back(spec.data() + start, i - start);
      start = i + 1;
    }
  }
  if (parts.size() < 2) fail(relay, "reading the spec", EBADMSG);
  size_t argc = std::strtoul(parts[1].c_str(), nullptr, 10);
  if (parts.size() < 2 + argc) fail(relay, "reading the spec", EBADMSG);
  if (::chdir(parts[0].c_str()) != 0) fail(relay, "changing to the working directory", errno);
  ::clearenv();
  for (size_t i = 2 + argc; i < parts.size(); ++i) {
    // putenv keeps the pointer: the string lives as long as the process.
    if (::putenv(::strdup(parts[i].c_str())) != 0) fail(relay, "taking the function's environment", errno);
  }
  ::tzset();
  ::send(relay, "S", 1, MSG_NOSIGNAL);
  ::close(relay);
  gRelay = -1;
  napi_value result;
  napi_create_array_with_length(env, argc, &result);
  for (size_t i = 0; i < argc; ++i) {
    napi_value v;
    napi_create_string_utf8(env, parts[2 + i].data(), parts[2 + i].size(), &v);
    napi_set_element(env, result, static_cast<uint32_t>(i), v);
  }
  return result;
}

// The keeper: joins the environment, forks the runtime process, relays its wait status.
// Returns only in the runtime process.
void keep(const Settings& s, const std::vector<int>& fds) {
  int relay = fds[0], initPidfd = fds[1], out = fds[2];
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGCHLD, &dfl, nullptr);
  for (size_t i = 3; i < fds.size(); ++i) {
    if (::write(fds[i], "0", 1) != 1) fail(relay, "joining the cgroup", errno);
    ::close(fds[i]);
  }
  if (::setns(initPidfd, CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID) != 0)
    fail(relay, "joining the namespaces", errno);
  ::close(initPidfd);
  pid_t pid = ::fork();
  if (pid < 0) fail(relay, "fork", errno);
  if (pid == 0) {
    becomeRuntime(s, relay, out);
    return;
  }
  ::close(out);
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  char record[1 + sizeof(int32_t)] = {'P'};
  int32_t pid32 = pid;
  std::memcpy(record + 1, &pid32, sizeof pid32);
  iovec iov{record, sizeof record};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cm), &pidfd, sizeof pidfd);
  ::sendmsg(relay, &msg, MSG_NOSIGNAL);
  ::close(pidfd);
  int status = SIGKILL;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  char exitRecord[1 + sizeof(int32_t)] = {'X'};
  int32_t status32 = status;
  std::memcpy(exitRecord + 1, &status32, sizeof status32);
  ::send(relay, exitRecord, sizeof exitRecord, MSG_NOSIGNAL);
  ::_exit(0);
}

// serve(controlFd): the zygote's loop (settings, seccomp program, "R", then fork requests). Returns
// only in a runtime process, which then calls takeSpec().
napi_value Serve(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  int32_t ctl = -1;
  if (argc < 1 || napi_get_value_int32(env, args[0], &ctl) != napi_ok) {
    napi_throw_type_error(env, nullptr, "serve(controlFd)");
    return nullptr;
  }
  Settings s;
  char buf[4096];
  ssize_t n = ::recv(ctl, buf, sizeof buf - 1, 0);
  if (n <= 0) {
    napi_throw_error(env, nullptr, "lamina zygote: no settings");
    return nullptr;
  }
  buf[n] = '\0';
  s.uid = static_cast<uid_t>(std::strtoul(buf, nullptr, 10));
  const char* p = buf + std::strlen(buf) + 1;
  s.gid = static_cast<gid_t>(std::strtoul(p, nullptr, 10));
  p += std::strlen(p) + 1;
  s.lastCap = std::atoi(p);
  std::vector<char> program(1 << 20);
  n = ::recv(ctl, program.data(), program.size(), 0);
  if (n <= 0 || n % static_cast<ssize_t>(sizeof(sock_filter)) != 0) {
    napi_throw_error(env, nullptr, "lamina zygote: no seccomp program");
    return nullptr;
  }
  s.filter.resize(static_cast<size_t>(n) / sizeof(sock_filter));
  std::memcpy(s.filter.data(), program.data(), static_cast<size_t>(n));

  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGCHLD, &ign, nullptr);  // keepers are reaped by the kernel
  if (::send(ctl, "R", 1, MSG_NOSIGNAL) != 1) ::_exit(0);
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ::dup2(devnull, 1);  // start-up errors went to the daemon; from now on nobody reads them
  ::dup2(devnull, 2);
  ::close(devnull);
  for (;;) {
    char byte;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(16 * sizeof(int))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t got = ::recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) ::_exit(0);  // the daemon is gone
    std::vector<int> fds;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
      if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
        fds.push_back(fd);
      }
    }
    if (fds.size() >= 3) {
      markEverythingForkable();
      pid_t pid = ::fork();
      if (pid == 0) {
        ::close(ctl);
        keep(s, fds);
        napi_value undefined;
        napi_get_undefined(env, &undefined);
        return undefined;
      }
    }
    for (int fd : fds) ::close(fd);
  }
}

napi_value GetPid(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, ::getpid(), &v);
  return v;
}

// exit(code): _exit(2). Node's own exit tears down V8's platform, whose worker threads a forked
// process does not have (joining them crashes).
napi_value Exit(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  int32_t code = 0;
  if (argc >= 1) napi_get_value_int32(env, args[0], &code);
  ::_exit(code);
}

napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "serve", NAPI_AUTO_LENGTH, Serve, nullptr, &fn);
  napi_set_named_property(env, exports, "serve", fn);
  napi_create_function(env, "takeSpec", NAPI_AUTO_LENGTH, TakeSpec, nullptr, &fn);
  napi_set_named_property(env, exports, "takeSpec", fn);
  napi_create_function(env, "getpid", NAPI_AUTO_LENGTH, GetPid, nullptr, &fn);
  napi_set_named_property(env, exports, "getpid", fn);
  napi_create_function(env, "exit", NAPI_AUTO_LENGTH, Exit, nullptr, &fn);
  napi_set_named_property(env, exports, "exit", fn);
  return exports;
}

}  // namespace

NAPI_MODULE(lamina_zygote, Init)
