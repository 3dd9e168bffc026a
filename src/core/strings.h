// Small string helpers for protocol code. Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lamina::core {

std::string toLower(std::string_view s);
std::string_view trim(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);
bool startsWith(std::string_view s, std::string_view prefix);

// RFC 3986 percent-encoding of everything but A-Za-z0-9-_.~ ; `keepSlash` leaves '/' as is.
std::string uriEncode(std::string_view s, bool keepSlash);
// Percent-decoding; `plusIsSpace` for form encoding. nullopt on a malformed escape.
std::optional<std::string> uriDecode(std::string_view s, bool plusIsSpace = false);

// Parses "a=1&b=2" into decoded pairs, in order. Malformed escapes keep the raw text.
std::vector<std::pair<std::string, std::string>> parseQuery(std::string_view query);

}  // namespace lamina::core
