#include "services/logs/log_format.h"

#include <fmt/format.h>

#include <charconv>

#include "core/strings.h"

namespace lamina::services::logs {

namespace {

bool keptAsIs(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses a decimal int64 at the start of `s` up to the next space; advances `s` past the space.
std::optional<int64_t> takeInt(std::string_view& s) {
  size_t sp = s.find(' ');
  if (sp == std::string_view::npos || sp == 0) return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + sp, v);
  if (ec != std::errc() || ptr != s.data() + sp) return std::nullopt;
  s.remove_prefix(sp + 1);
  return v;
}

}  // namespace

std::string encodeName(std::string_view name) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(name.size() + name.size() / 2);
  for (unsigned char c : name) {
    if (keptAsIs(c)) {
      out.push_back(char(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
  }
  return out;
}

std::optional<std::string> decodeName(std::string_view encoded) {
  if (encoded.empty() || encoded.find('~') != std::string_view::npos) return std::nullopt;
  for (char c : encoded)
    if (c != '%' && !keptAsIs(static_cast<unsigned char>(c))) return std::nullopt;
  return core::uriDecode(encoded);
}

std::string diskName(std::string_view name) {
  std::string enc = encodeName(name);
  if (enc.size() <= kMaxEncodedName) return enc;
  // Cut on an escape boundary so the kept part stays well-formed, then make it unique by hash.
  size_t cut = kMaxEncodedName - 20;
  while (cut > 0 && (enc[cut - 1] == '%' || (cut > 1 && enc[cut - 2] == '%'))) --cut;
  return fmt::format("{}~{:016x}", std::string_view(enc).substr(0, cut), fnv1a64(name));
}

std::string escapeMessage(std::string_view message) {
  std::string out;
  out.reserve(message.size() + 8);
  for (char c : message) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string unescapeMessage(std::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    char c = escaped[i];
    if (c == '\\' && i + 1 < escaped.size() && (escaped[i + 1] == '\\' || escaped[i + 1] == 'n')) {
      out.push_back(escaped[i + 1] == 'n' ? '\n' : '\\');
      ++i;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string formatLine(int64_t timestampMs, int64_t ingestionMs, std::string_view message) {
  return fmt::format("{} {} {}", timestampMs, ingestionMs, escapeMessage(message));
}

std::optional<ParsedLine> parseLine(std::string_view line) {
  ParsedLine out;
  auto ts = takeInt(line);
  if (!ts) return std::nullopt;
  auto ingest = takeInt(line);
  if (!ingest) return std::nullopt;
  out.timestampMs = *ts;
  out.ingestionMs = *ingest;
  out.escapedMessage = line;
  return out;
}

uint64_t fnv1a64(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string hexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::optional<std::string> hexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hexValue(hex[i]), lo = hexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(char(hi * 16 + lo));
  }
  return out;
}

}  // namespace lamina::services::logs
