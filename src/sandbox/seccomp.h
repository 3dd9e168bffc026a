// The seccomp filter every sandboxed process runs under: allow by default, refuse what a function
// never needs (mounting, namespaces, tracing, kernel modules and kexec, bpf, keyrings, perf, clock
// setting, raw I/O ports, reboot, ...).
//
// The filter is compiled with libseccomp in the daemon, once per sandbox, into a plain BPF program;
// the clone child installs it with one prctl() (libseccomp allocates, which the child must not).
// Thread-safe: compileSeccompFilter has no shared state.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "core/result.h"

namespace lamina::sandbox {

// The BPF program for SECCOMP_SET_MODE_FILTER, for this machine's native architecture. Other
// architectures' system calls (i386 through int 0x80, x32) kill the process: a default-allow
// list is only as good as the syscall numbers it was written for.
Result<std::vector<sock_filter>> compileSeccompFilter();

}  // namespace lamina::sandbox
