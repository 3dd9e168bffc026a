// On-disk format of the log store (services/logs), as pure functions. Thread-safe (no state).
//
// Layout under the store root:
//   <root>/<encodeName(group)>/.meta                 append-only: "G <creationMs> <encodeName(group)>"
//                                                    and "S <creationMs> <encodeName(stream)>" lines
//   <root>/<encodeName(group)>/<encodeName(stream)>.log   one event per line:
//                                                    "<timestampMs> <ingestionTimeMs> <escaped message>"
// Names are percent-encoded keeping only [A-Za-z0-9_-], so no file name starts with '.', none is "."
// or "..", and `.meta` cannot collide with a stream. Names whose encoding would pass kMaxEncodedName
// bytes (NAME_MAX is 255) are cut and suffixed with "~" and a hash; such names are recovered from the
// `.meta` lines on reopen, everything else also from the file name alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lamina::services::logs {

inline constexpr std::string_view kMetaFile = ".meta";
inline constexpr std::string_view kLogSuffix = ".log";
inline constexpr size_t kMaxEncodedName = 200;

// Percent-encodes everything but [A-Za-z0-9_-] ("%2Faws%2Flambda%2Ffn").
std::string encodeName(std::string_view name);
// Inverse of encodeName; nullopt for a hashed (cut) or malformed name.
std::optional<std::string> decodeName(std::string_view encoded);
// The directory or file stem used for `name`: encodeName(name), or a cut + "~<hash>" when too long.
std::string diskName(std::string_view name);

// Message escaping: '\' → "\\", newline → "\n". unescapeMessage keeps unknown escapes verbatim.
std::string escapeMessage(std::string_view message);
std::string unescapeMessage(std::string_view escaped);

// One stored line without its '\n'.
std::string formatLine(int64_t timestampMs, int64_t ingestionMs, std::string_view message);

struct ParsedLine {
  int64_t timestampMs = 0;
  int64_t ingestionMs = 0;
  std::string_view escapedMessage;  // points into the parsed line
};
// Parses a line without its '\n'; nullopt if malformed.
std::optional<ParsedLine> parseLine(std::string_view line);

// 64-bit FNV-1a, stable across runs and builds (used in file names and event ids).
uint64_t fnv1a64(std::string_view data);

// Lower-case hex of the bytes and back (tokens carry names this way); fromHex: nullopt if malformed.
std::string hexEncode(std::string_view bytes);
std::optional<std::string> hexDecode(std::string_view hex);

}  // namespace lamina::services::logs
