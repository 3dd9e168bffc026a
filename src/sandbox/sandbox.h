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
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace lamina::sandbox {

struct ProcessSpec {
  std::string executable;         // absolute path of what to exec
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // "NAME=value", the complete environment
  std::filesystem::path cwd;
  int memoryMb = 128;  // the function's MemorySize; enforced by isolating backends
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
  // Reaps the process if it has exited: its wait status, else nullopt. Never blocks.
  virtual std::optional<int> tryReap() = 0;
  // Peak resident memory so far in bytes (0 when unknown, e.g. after exit).
  virtual uint64_t peakMemoryBytes() const = 0;
};

class Sandbox {
 public:
  virtual ~Sandbox() = default;
  virtual Result<std::unique_ptr<Process>> spawn(const ProcessSpec& spec) = 0;
  virtual std::string_view name() const = 0;
};

// Plain child processes: own session, parent-death signal, closed descriptors, no isolation.
std::unique_ptr<Sandbox> makePlainSandbox();

// "exit status 1" / "signal: killed" — how Lambda words a wait status in Runtime.ExitError.
std::string describeWaitStatus(int status);

}  // namespace lamina::sandbox
