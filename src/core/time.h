// Clock and the time formats AWS uses. The Clock is injected (STYLE.md: no globals) so tests can
// fake it; SystemClock is the real one. All functions are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lamina::core {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the Unix epoch.
  virtual int64_t nowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t nowMs() const override;
};

// "2019-08-14T22:26:11.234+0000": FunctionConfiguration.LastModified style.
std::string lambdaTimestamp(int64_t epochMs);
// "2024-05-01T10:11:12.345Z".
std::string isoTimestamp(int64_t epochMs);
// "2024/05/01": the date prefix of a Lambda log stream name.
std::string logStreamDate(int64_t epochMs);
// "20150830T123600Z" → epoch seconds; -1 if malformed.
int64_t parseAmzDate(const std::string& text);

}  // namespace lamina::core
