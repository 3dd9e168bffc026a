#include "core/result.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace lamina {

namespace {
struct CodeInfo {
  std::string_view type;
  int status;
  bool capitalMessage;
};

CodeInfo info(Code code) {
  switch (code) {
    case Code::kInternal:
      return {"ServiceException", 500, true};
    case Code::kInvalidParameterValue:
      return {"InvalidParameterValueException", 400, false};
    case Code::kValidation:
      return {"ValidationException", 400, false};
    case Code::kResourceNotFound:
      return {"ResourceNotFoundException", 404, true};
    case Code::kResourceConflict:
      return {"ResourceConflictException", 409, false};
    case Code::kInvalidRequestContent:
      return {"InvalidRequestContentException", 400, false};
    case Code::kRequestTooLarge:
      return {"RequestEntityTooLargeException", 413, false};
    case Code::kPreconditionFailed:
      return {"PreconditionFailedException", 412, false};
    case Code::kTooManyRequests:
      return {"TooManyRequestsException", 429, false};
    case Code::kUnrecognizedClient:
      return {"UnrecognizedClientException", 403, false};
    case Code::kInvalidSignature:
      return {"InvalidSignatureException", 403, false};
    case Code::kIncompleteSignature:
      return {"IncompleteSignatureException", 403, false};
    case Code::kMissingAuthenticationToken:
      return {"MissingAuthenticationTokenException", 403, false};
    case Code::kAccessDenied:
      return {"AccessDeniedException", 403, false};
    case Code::kUnknownOperation:
      return {"UnknownOperationException", 404, false};
    case Code::kUnsupportedMediaType:
      return {"UnsupportedMediaTypeException", 415, false};
    case Code::kInvalidZipFile:
      return {"InvalidParameterValueException", 400, false};
    case Code::kResourceNotReady:
      return {"ResourceNotReadyException", 502, false};
    case Code::kServiceUnavailable:
      return {"ServiceUnavailableException", 503, false};
    case Code::kProvisionedConcurrencyConfigNotFound:
      return {"ProvisionedConcurrencyConfigNotFoundException", 404, false};
    case Code::kNotFound:
      return {"ResourceNotFoundException", 404, true};
  }
  return {"ServiceException", 500, true};
}
}  // namespace

std::string_view awsType(Code code) { return info(code).type; }
int httpStatus(Code code) { return info(code).status; }
bool capitalMessageKey(Code code) { return info(code).capitalMessage; }

Error& Error::context(std::string_view what) {
  message_ = std::string(what) + ": " + message_;
  return *this;
}

std::unexpected<Error> failErrno(std::string_view what, int err) {
  return fail(Code::kInternal, std::string(what) + ": " + std::strerror(err), err);
}

void assertFailed(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "lamina: assertion failed: %s at %s:%d\n", cond, file, line);
  std::abort();
}

}  // namespace lamina
