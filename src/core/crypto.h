// Hashing and encodings shared by artifact (content addresses), http (SigV4) and the API
// (CodeSha256). Backed by OpenSSL; every function is pure and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lamina::core {

using Digest = std::array<std::uint8_t, 32>;

Digest sha256(std::string_view data);
Digest hmacSha256(std::string_view key, std::string_view data);

// Incremental SHA-256 for data that arrives in pieces.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  Digest finish();

 private:
  void* ctx_;
};

std::string toHex(std::string_view bytes);
std::string toHex(const Digest& d);
std::string digestBytes(const Digest& d);

std::string base64Encode(std::string_view bytes);
// Strict RFC 4648 decoding (padding optional, no whitespace). nullopt on any invalid character.
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace lamina::core
