// The sandbox interface: starts and owns the processes of one execution environment. This issue
// ships the plain backend (ordinary child processes in their own session); the isolating backend
// (namespaces, cgroups, seccomp) implements the same interface, chosen once at start-up.
//
// Threading: spawn() blocks (fork/exec) and is called off the I/O thread; a Process is then owned
// by one environment on the I/O thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/unique_fd.h"

namespace lamina::sandbox {

class Cgroup;
class Keeper;
class Zygote;

struct ProcessSpec {
  std::string executable;         // absolute path of what to exec
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // "NAME=value", the complete environment
  std::filesystem::path cwd;
  int memoryMb = 128;  // the function's MemorySize; enforced by isolating backends
  // Used by isolating backends only; the plain backend ignores them.
  std::filesystem::path taskDir;     // bound read-only at /var/task
  std::filesystem::path optDir;      // bound read-only at /opt; empty = an empty directory
  std::filesystem::path runtimeDir;  // bound read-only at /var/runtime; empty = an empty directory
  int tmpSizeMb = 512;               // size of the private /tmp (EphemeralStorage)
  int netnsFd = -1;                  // network namespace to join; -1 = a new one with only lo
  std::string hostname = "localhost";
  // The environment's cgroup; the process is inside it before it execs anything (v2:
  // CLONE_INTO_CGROUP; v1: the child waits until the daemon has moved it). Null = none.
  Cgroup* cgroup = nullptr;
  // Isolating backends: called in the daemon after the clone, with the host pid of the
  // environment's init, while the child sets itself up; nothing of the function runs before it
  // returns. E.g. create listeners in the child's new network namespace (/proc/<pid>/ns/net) or
  // join a v1 cgroup. A failure aborts the spawn.
  std::function<Result<void>(pid_t)> beforeStart;
  // Isolating backends: listening sockets the child makes on 127.0.0.1:<port> in its own network
  // namespace (at most 4), handed to the daemon (Process/Shell::takeListeners), in this order.
  std::vector<uint16_t> listenPorts;
};

// One running process (and, through its session, whatever it started). Destruction kills the
// whole session with SIGKILL and reaps the process.
class Process {
 public:
  virtual ~Process() = default;
  virtual pid_t pid() const = 0;
  // Becomes readable when the process exits (a pidfd).
  virtual int exitFd() const = 0;
  // Read end of the pipe carrying the process's stdout and stderr, interleaved as written.
  virtual int outputFd() const = 0;
  // SIGKILL to the process and everything in its session. Idempotent.
  virtual void kill() = 0;
  // SIGTERM to the runtime process (not its children: they are the runtime's business, as on
  // Lambda), the start of a graceful shutdown.
  virtual void terminate() = 0;
  // Reaps the process if it has exited: its wait status, else nullopt. Never blocks.
  virtual std::optional<int> tryReap() = 0;
  // Peak resident memory so far in bytes (0 when unknown, e.g. after exit).
  virtual uint64_t peakMemoryBytes() const = 0;
  // The listeners ProcessSpec::listenPorts asked for (once; empty for the plain backend).
  virtual std::vector<core::UniqueFd> takeListeners() { return {}; }
};

// A prewarmed environment (isolating backends): init already in its namespaces, with the generic
// part of the view built (root, /var/runtime, /tmp, /proc, /dev, masks), waiting for the
// function-specific rest. Destruction kills it. Blocking calls; off the I/O thread.
class Shell {
 public:
  virtual ~Shell() = default;
  // The host pid of its init (e.g. for /proc/<pid>/ns/net, or to join a cgroup before start()).
  virtual pid_t pid() const = 0;
  // A pidfd of its init (Zygote::prepare joins its namespaces through it); -1 once started.
  virtual int pidfd() const = 0;
  // The listeners of the generic spec's listenPorts, made inside at prewarm time (once).
  virtual std::vector<core::UniqueFd> takeListeners() = 0;
  // Once: binds spec.taskDir and spec.optDir, sizes /tmp, drops privileges and execs the process.
  // Uses executable, argv, env, cwd, taskDir, optDir and tmpSizeMb of `spec`.
  virtual Result<std::unique_ptr<Process>> start(const ProcessSpec& spec) = 0;
  // Once, instead of start(): binds the trees and sizes /tmp as start() does, then has `keeper`
  // (a zygote's, inside this shell: Zygote::prepare) fork the runtime process (zygote.h) rather
  // than exec'ing anything. Uses argv, env, cwd, taskDir, optDir and tmpSizeMb of `spec`.
  virtual Result<std::unique_ptr<Process>> adopt(const ProcessSpec& spec, Keeper& keeper) = 0;
};

class Sandbox {
 public:
  virtual ~Sandbox() = default;
  virtual Result<std::unique_ptr<Process>> spawn(const ProcessSpec& spec) = 0;
  // A Shell for later start(): `generic` gives runtimeDir, tmpSizeMb (the default size), hostname
  // and a v2 cgroup to clone into. The plain backend has none.
  virtual Result<std::unique_ptr<Shell>> prewarm([[maybe_unused]] const ProcessSpec& generic) {
    return fail(Code::kInternal, "this sandbox cannot prewarm environments");
  }
  // A zygote (zygote.h) running `spec` (executable, argv, env, runtimeDir; cwd is /): the
  // interpreter with lamina's zygote program. Returns once it reported ready. The plain backend
  // has none.
  virtual Result<std::unique_ptr<Zygote>> startZygote(const ProcessSpec& spec);  // zygote.cpp
  virtual std::string_view name() const = 0;
};

// Plain child processes: own session, parent-death signal, closed descriptors, no isolation.
std::unique_ptr<Sandbox> makePlainSandbox();

// What the isolating backend needs besides each ProcessSpec. The ids need no /etc/passwd entry.
struct NamespaceOptions {
  uid_t uid = 993;
  gid_t gid = 990;
  // For a daemon that is not root: each environment also gets a user namespace in which init is
  // privileged, and `uid`/`gid` inside map to the daemon's own ids outside. No cgroups then.
  bool userNamespace = false;
  // Hidden from every environment: the data dir, /root, /home, /etc/shadow, ... (see mounts.h).
  std::vector<std::filesystem::path> maskPaths;
};

// Each process in new pid, mount, uts, ipc and network namespaces, on a read-only view of the
// host root, as an unprivileged user without capabilities, under seccomp (namespace_sandbox.cpp).
// Needs root (CAP_SYS_ADMIN and friends) and Linux >= 5.12; spawn() says which step failed.
// For it, pid() is the environment's init (pid 1 inside), which forwards signals to the process
// and mirrors its exit status; kill() takes the whole pid namespace down.
std::unique_ptr<Sandbox> makeNamespaceSandbox(NamespaceOptions options);

// "exit status 1" / "signal: killed" — how Lambda words a wait status in Runtime.ExitError.
std::string describeWaitStatus(int status);

}  // namespace lamina::sandbox
