// Unix-socket records with descriptors attached (SCM_RIGHTS), for the daemon's side of its talks
// with sandbox children and zygotes. These allocate: clone children use their own
// async-signal-safe loops (namespace_sandbox.cpp).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/unique_fd.h"

namespace lamina::sandbox {

// A SOCK_SEQPACKET pair, close-on-exec; `buffer` > 0 sets both ends' send and receive buffers.
Result<std::pair<core::UniqueFd, core::UniqueFd>> makeSeqpacketPair(int buffer = 0);

// Sends `size` bytes at `data` as one record with `fds` attached (at most 16), retrying on EINTR.
// Returns what sendmsg returns (-1 and errno on failure).
ssize_t sendWithFds(int sock, const void* data, size_t size, std::span<const int> fds);

// Receives one record into `buf`, retrying on EINTR; the descriptors that came with it (at most
// 16, close-on-exec) are appended to `fds`. Returns what recvmsg returns.
ssize_t recvWithFds(int sock, void* buf, size_t size, std::vector<core::UniqueFd>& fds);

}  // namespace lamina::sandbox
