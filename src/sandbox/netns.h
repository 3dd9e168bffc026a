// Network namespaces for execution environments: an empty namespace with only `lo` (up), and
// listening sockets the daemon creates inside one and keeps.
//
// A socket belongs to the namespace it was created in, whichever namespace later uses it: a
// listener made here for 127.0.0.1:9001 is reachable from processes in that namespace only, yet
// the daemon accepts on it from its own namespace. That is how each environment gets a private
// Runtime API at 127.0.0.1:9001 (DESIGN.md "Execution environments").
//
// Threading: each call switches namespace on a short-lived helper thread of its own, so the
// calling thread (and every other daemon thread) never changes namespace. Blocking (thread start,
// namespace creation); call off the I/O thread. Needs CAP_SYS_ADMIN.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"
#include "core/unique_fd.h"

namespace lamina::sandbox {

// Owns a network namespace: it lives as long as this fd (or any process inside it) does.
struct NetNamespace {
  core::UniqueFd fd;  // /proc/thread-self/ns/net of the helper thread that created it
};

// A fresh network namespace whose only interface, `lo`, is up.
Result<NetNamespace> createNetNamespace();

// A listening TCP socket (close-on-exec, non-blocking, SO_REUSEADDR) bound to ip:port inside the
// namespace `netnsFd`. The caller keeps `netnsFd` open for the call only.
Result<core::UniqueFd> listenInNamespace(int netnsFd, const std::string& ip, uint16_t port);

// Sets IFF_UP on `lo` in the calling thread's current network namespace. Returns 0 or an errno.
// Async-signal-safe (plain system calls, no allocation): the sandbox's clone child uses it.
int bringUpLoopback();

}  // namespace lamina::sandbox
