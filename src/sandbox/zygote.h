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
// namespaces, says so and waits. At the cold start, once init has mounted the function's trees
// (Shell::adopt), the daemon writes the spec to the relay (Keeper::start) and the keeper forks the
// runtime process (pid 2 inside). The zygote never sees a spec, so no function's variables stay
// in the memory that later environments are forked from.
// That process drops to the sandbox user without capabilities (bounding set, ambient, inheritable
// cleared), sets no_new_privs, RLIMIT_NOFILE, the parent-death signal and the seccomp filter, makes
// the pipe its stdout and stderr, takes the function's environment and runs the runtime client.
//
// Why the keeper stays: a process that setns()es into a pid namespace does not enter it, only its
// children do, and when such a parent exits its children are re-parented in the parent's
// namespace (to the host's init), not to the environment's. So the keeper waits for the runtime
// process and relays its wait status; init stays the reaper of everything else inside.
//
// Relay records (SOCK_SEQPACKET, one per message). From the daemon: the spec. From the keeper and
// the runtime process:
//   "K"                                                                — keeper inside, waiting
//   "P" + int32 pid (host pid of the runtime process) with its pidfd   — after the fork
//   "S"                                                                — set up, client starting
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

// A keeper forked from a zygote, already inside one environment's cgroup and namespaces, waiting
// for the spec of the runtime process it is to fork (Zygote::prepare). Destroying it without
// start() makes the keeper exit.
class Keeper {
 public:
  struct Forked {
    core::UniqueFd relay;   // readable when the runtime process has ended ("X") or its keeper died
    core::UniqueFd pidfd;   // the runtime process
    core::UniqueFd output;  // read end of its stdout and stderr, non-blocking
    pid_t pid = 0;          // host pid of the runtime process
  };
  Keeper(core::UniqueFd relay, core::UniqueFd output) : relay_(std::move(relay)), output_(std::move(output)) {}
  // Once: the runtime process gets spec.argv (as sys.argv), spec.env (its whole environment) and
  // spec.cwd. Returns once it is set up and its runtime client is starting.
  Result<Forked> start(const ProcessSpec& spec);

 private:
  core::UniqueFd relay_, output_;
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
