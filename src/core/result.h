// Result<T> and Error: how every fallible call in lamina reports failure (STYLE.md "Errors").
//
// An Error carries a Code that maps to the AWS error type and HTTP status a client would see, the
// errno if the kernel was involved, and a message that callers may prefix with context on the way
// up. Values only: no exceptions cross a lamina interface. Thread-safe as plain values.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace lamina {

// AWS-facing error categories. Each maps to one AWS error type and HTTP status (see awsType and
// httpStatus); kInternal is the catch-all for our own failures (500 ServiceException).
enum class Code {
  kInternal,
  kInvalidParameterValue,
  kValidation,
  kResourceNotFound,
  kResourceConflict,
  kInvalidRequestContent,
  kRequestTooLarge,
  kPreconditionFailed,
  kTooManyRequests,
  kUnrecognizedClient,
  kInvalidSignature,
  kIncompleteSignature,
  kMissingAuthenticationToken,
  kAccessDenied,
  kUnknownOperation,
  kUnsupportedMediaType,
  kInvalidZipFile,
  kResourceNotReady,
  kServiceUnavailable,
  kProvisionedConcurrencyConfigNotFound,
  kNotFound,  // internal "no such thing" (file, row); mapped by callers to something AWS-shaped
};

// The AWS error type name for `code`, e.g. "ResourceNotFoundException".
std::string_view awsType(Code code);
// The HTTP status AWS answers with for `code`.
int httpStatus(Code code);
// Whether AWS's body for `code` spells the message key "Message" (true) or "message" (false).
bool capitalMessageKey(Code code);

class [[nodiscard]] Error {
 public:
  Error(Code code, std::string message, int sysErrno = 0)
      : code_(code), message_(std::move(message)), errno_(sysErrno) {}

  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  int sysErrno() const { return errno_; }

  // Prefixes the message with what the caller was doing: "reading zip: <message>".
  Error& context(std::string_view what);
  // A machine-readable cause AWS adds to some errors (a throttle's "Reason").
  const std::string& reason() const { return reason_; }
  Error& withReason(std::string reason) {
    reason_ = std::move(reason);
    return *this;
  }

 private:
  Code code_;
  std::string message_;
  int errno_;
  std::string reason_;
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(Code code, std::string message, int sysErrno = 0) {
  return std::unexpected<Error>(Error(code, std::move(message), sysErrno));
}

// An error from a failed system call: message "<what>: <strerror(errno)>", code kInternal.
std::unexpected<Error> failErrno(std::string_view what, int err);

}  // namespace lamina

// LAMINA_ASSERT: a broken invariant of our own code. Logs file:line and aborts. Never use it for
// anything a client or a function can cause.
#define LAMINA_ASSERT(cond)                                         \
  do {                                                              \
    if (!(cond)) ::lamina::assertFailed(#cond, __FILE__, __LINE__); \
  } while (0)

namespace lamina {
[[noreturn]] void assertFailed(const char* cond, const char* file, int line);
}
