// Identifiers: random UUIDs (request ids, revision ids) and hex tokens. Thread-safe: each thread
// has its own generator seeded from the OS.
#pragma once

#include <string>

namespace lamina::core {

// A random (version 4) UUID in lowercase canonical form.
std::string newUuid();
// `bytes` random bytes as lowercase hex.
std::string randomHex(size_t bytes);

// 24 lowercase hex digits: the random part of an X-Ray trace id.
inline std::string randomHexForTrace() { return randomHex(12); }

}  // namespace lamina::core
