#include "core/ids.h"

#include <array>
#include <cstdint>
#include <random>

#include "core/crypto.h"

namespace lamina::core {

namespace {
std::mt19937_64& rng() {
  thread_local std::mt19937_64 gen([] {
    std::random_device rd;
    return (uint64_t(rd()) << 32) ^ rd();
  }());
  return gen;
}
}  // namespace

std::string randomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  for (size_t i = 0; i < bytes; i += 8) {
    uint64_t v = rng()();
    for (size_t j = 0; j < 8 && i + j < bytes; ++j) raw[i + j] = char(v >> (8 * j));
  }
  return toHex(raw);
}

std::string newUuid() {
  std::array<uint8_t, 16> b{};
  uint64_t hi = rng()(), lo = rng()();
  for (int i = 0; i < 8; ++i) {
    b[i] = uint8_t(hi >> (8 * i));
    b[8 + i] = uint8_t(lo >> (8 * i));
  }
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  std::string hex = toHex(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

}  // namespace lamina::core
