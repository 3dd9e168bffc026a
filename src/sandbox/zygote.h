// Zygotes (the SOCK approach, USENIX ATC 2018): an interpreter started once, with its runtime
// client's modules imported, that forks the runtime process of each new environment instead of the
// environment exec'ing a fresh interpreter.
//
// Processes. The namespace sandbox starts the zygote (Sandbox::startZygote): root with every
// capability, in the host's pid and network namespaces but in a mount namespace with the
// environments' generic view, so every path it resolves while importing is the path an
// environment resolves. Per environment, usually while its spare is being built (so before any
// function is known), the daemon sends the zygote one byte and descriptors (Zygote::prepare): the
// relay (one end of a socket pair whose other end the daemon keeps), init's pidfd, the output
// pipe's write end and the cgroup's procs files. The zygote forks a keeper and forgets the
// request. The keeper joins the cgroup, setns()es into init's mount, uts, ipc, net and pid
// namespaces and forks the runtime process (pid 2 inside). That process drops to the sandbox user
// without capabilities (bounding set, ambient, inheritable cleared), sets dumpable (as an exec
// would), no_new_privs, RLIMIT_NOFILE, the parent-death signal and the seccomp filter, makes the
// pipe its stdout and stderr, and waits. At the cold start, once init has mounted the function's
// trees (Shell::adopt), the daemon writes the spec to the relay (Keeper::start): the process
// changes to its cwd, takes the function's environment and argv and runs the runtime client. The
// zygote never sees a spec, so no function's variables stay in the memory that later
// environments are forked from.
//
// Why the keeper stays: a process that setns()es into a pid namespace does not enter it, only its
// children do, and when such a parent exits its children are re-parented in the parent's
// namespace (to the host's init), not to the environment's. So the keeper waits for the runtime
// process and relays its wait status; init stays the reaper of everything else inside.
//
// Relay records (SOCK_SEQPACKET, one per message). From the daemon: the spec. From the keeper and
// the runtime process:
//   "K"                                                                — process set up, waiting
//   "P" + int32 pid (host pid of the runtime process) with its pidfd   — after the fork
//   "S"                                                                — spec taken, client starting
//   "E" + text                                                         — a setup step failed
//   "X" + int32 wait status                                            — the runtime process ended
//
// Threading: prepare() and start() block (milliseconds); prepare() may be called from several
// threads at once.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "core/result.h"
#include "core/unique_fd.h"
#include "sandbox/sandbox.h"

namespace lamina::sandbox {

// A zygote's keeper and its runtime process, already inside one environment's cgroup and
// namespaces, the process set up as the sandbox user and waiting for its spec
// (Zygote::prepare). Destroying it without start() makes both exit.
class Keeper {
 public:
  struct Forked {
    core::UniqueFd relay;   // readable when the runtime process has ended ("X") or its keeper died
    core::UniqueFd pidfd;   // the runtime process
    core::UniqueFd output;  // read end of its stdout and stderr, non-blocking
    pid_t pid = 0;          // host pid of the runtime process
  };
  explicit Keeper(Forked forked) : forked_(std::move(forked)) {}
  // Once: the runtime process takes spec.argv (as sys.argv), spec.env (its whole environment) and
  // spec.cwd and starts the runtime client. Returns once it has.
  Result<Forked> start(const ProcessSpec& spec);

 private:
  Forked forked_;
};

class Zygote {
 public:
  // `process` is the running zygote, `control` the daemon's end of its control socket; both after
  // the zygote said it is ready.
  Zygote(std::unique_ptr<Process> process, core::UniqueFd control);
  ~Zygote();
  Zygote(const Zygote&) = delete;
  Zygote& operator=(const Zygote&) = delete;

  // Forks a keeper into `cgroup` (if any; joining a v1 group costs milliseconds, which is why
  // spares get their keeper in advance) and into the namespaces of the environment whose init is
  // `initPidfd`. Returns once it is in.
  Result<std::unique_ptr<Keeper>> prepare(int initPidfd, Cgroup* cgroup);

  // False once the zygote process has exited (a fork that fails says so too).
  bool alive() const;
  pid_t pid() const { return process_->pid(); }

 private:
  std::unique_ptr<Process> process_;
  core::UniqueFd control_;
};

// Reads the relay's "X" record without blocking: the runtime process's wait status; a killed
// status (SIGKILL) when the keeper died without one; nullopt while neither happened.
std::optional<int> readRelayedStatus(int relay);

}  // namespace lamina::sandbox
