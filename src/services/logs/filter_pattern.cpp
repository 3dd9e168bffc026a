#include "services/logs/filter_pattern.h"

#include "core/strings.h"

namespace lamina::services::logs {

namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Reads a quoted phrase starting after the opening quote; stops after the closing one (or at the end).
std::string takeQuoted(std::string_view s, size_t& i) {
  std::string out;
  while (i < s.size()) {
    char c = s[i++];
    if (c == '"') break;
    if (c == '\\' && i < s.size() && (s[i] == '"' || s[i] == '\\')) c = s[i++];
    out.push_back(c);
  }
  return out;
}

}  // namespace

FilterPattern FilterPattern::parse(std::string_view pattern) {
  FilterPattern out;
  std::string_view s = core::trim(pattern);
  if (s.empty()) return out;
  if (s.front() == '{' || s.front() == '[' || (s.size() > 1 && s.front() == '%' && s.back() == '%')) {
    out.required_.emplace_back(s);  // unsupported syntax: literal substring (see the header)
    return out;
  }
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && isSpace(s[i])) ++i;
    if (i >= s.size()) break;
    std::vector<std::string>* into = &out.required_;
    if ((s[i] == '-' || s[i] == '?') && i + 1 < s.size() && !isSpace(s[i + 1])) {
      into = s[i] == '-' ? &out.excluded_ : &out.anyOf_;
      ++i;
    }
    std::string term;
    if (s[i] == '"') {
      ++i;
      term = takeQuoted(s, i);
    } else {
      size_t start = i;
      while (i < s.size() && !isSpace(s[i])) ++i;
      term = std::string(s.substr(start, i - start));
    }
    if (!term.empty()) into->push_back(std::move(term));
  }
  return out;
}

bool FilterPattern::matches(std::string_view message) const {
  for (const std::string& t : required_)
    if (message.find(t) == std::string_view::npos) return false;
  for (const std::string& t : excluded_)
    if (message.find(t) != std::string_view::npos) return false;
  if (anyOf_.empty()) return true;
  for (const std::string& t : anyOf_)
    if (message.find(t) != std::string_view::npos) return true;
  return false;
}

}  // namespace lamina::services::logs
