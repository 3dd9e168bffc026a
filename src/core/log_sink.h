// LogSink: where function log lines go (CloudWatch-Logs-like groups and streams). Declared in core
// so the runtime and invoke layers can write logs without depending on services/logs, which
// implements it (DESIGN.md: arrows point down). Implementations must be thread-safe and must not
// block on disk in append (the invoke path calls it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lamina::core {

class LogSink {
 public:
  virtual ~LogSink() = default;
  // Appends one event (a line without its newline) to `group`/`stream`, creating both as needed.
  virtual void append(std::string_view group, std::string_view stream, int64_t timestampMs,
                      std::string_view message) = 0;
};

}  // namespace lamina::core
