// FilterPattern: the part of CloudWatch Logs' filter pattern syntax that lamina understands, for
// FilterLogEvents. Immutable after parse(); thread-safe.
//
// Supported (case-sensitive, like AWS):
//   ERROR Exception        every term must appear (substring match)
//   "Connection refused"   a quoted phrase must appear verbatim (\" inside quotes is a quote)
//   ERROR -Retrying        a term prefixed with '-' must not appear
//   ?ERROR ?WARN           at least one of the '?' terms must appear
//   (empty)                matches everything
// Not supported: JSON patterns ({ $.level = "ERROR" }), space-delimited patterns ([ip, user, ...]) and
// %regex%. Those are matched as one literal substring of the whole pattern text, so they usually
// match nothing rather than something wrong.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lamina::services::logs {

class FilterPattern {
 public:
  static FilterPattern parse(std::string_view pattern);

  bool matches(std::string_view message) const;
  bool matchesEverything() const { return required_.empty() && excluded_.empty() && anyOf_.empty(); }

 private:
  std::vector<std::string> required_;
  std::vector<std::string> excluded_;
  std::vector<std::string> anyOf_;
};

}  // namespace lamina::services::logs
