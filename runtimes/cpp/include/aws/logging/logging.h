// aws::logging: aws-lambda-cpp's printf-style log functions, header-only. Lines go to stdout (the
// function's log stream) as "[LEVEL] [<epoch ms>] <tag> <message>" and are flushed at once, since
// stdout is a pipe, not a terminal, inside Lambda.
//
// As in aws-lambda-cpp, log_error() always prints; log_info() and log_debug() print only when the
// including code defines AWS_LAMBDA_LOG to 1 (info) or 2 (debug) or more, and compile to nothing
// otherwise. Thread-safe as far as stdio is.
#pragma once

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <string>

namespace aws {
namespace logging {

enum class verbosity {
  error,
  info,
  debug,
};

inline void log(verbosity v, char const* tag, char const* msg, va_list args) {
  va_list measure;
  va_copy(measure, args);
  int const size = std::vsnprintf(nullptr, 0, msg, measure);
  va_end(measure);
  if (size < 0) return;
  std::string text(static_cast<size_t>(size) + 1, '\0');
  std::vsnprintf(&text[0], text.size(), msg, args);
  text.resize(static_cast<size_t>(size));
  char const* level = v == verbosity::error ? "[ERROR]" : v == verbosity::info ? "[INFO]" : "[DEBUG]";
  auto const ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  std::printf("%s [%lld] %s %s\n", level, static_cast<long long>(ms.count()), tag, text.c_str());
  std::fflush(stdout);
}

[[gnu::format(printf, 2, 3)]] inline void log_error(char const* tag, char const* msg, ...) {
  va_list args;
  va_start(args, msg);
  log(verbosity::error, tag, msg, args);
  va_end(args);
}

[[gnu::format(printf, 2, 3)]] inline void log_info(char const* tag, char const* msg, ...) {
#if defined(AWS_LAMBDA_LOG) && AWS_LAMBDA_LOG >= 1
  va_list args;
  va_start(args, msg);
  log(verbosity::info, tag, msg, args);
  va_end(args);
#else
  (void)tag;
  (void)msg;
#endif
}

[[gnu::format(printf, 2, 3)]] inline void log_debug(char const* tag, char const* msg, ...) {
#if defined(AWS_LAMBDA_LOG) && AWS_LAMBDA_LOG >= 2
  va_list args;
  va_start(args, msg);
  log(verbosity::debug, tag, msg, args);
  va_end(args);
#else
  (void)tag;
  (void)msg;
#endif
}

}  // namespace logging
}  // namespace aws
