// lamina's C++ function SDK: header-only and source-compatible with AWS's aws-lambda-cpp
// (https://github.com/awslabs/aws-lambda-cpp), so an existing C++ Lambda function compiles against
// it unchanged and needs nothing but the C++17 standard library and POSIX sockets (no libcurl).
//
// A function calls run_handler(handler) from main(); it serves one invocation after another over
// the Runtime API (2018-06-01) at $AWS_LAMBDA_RUNTIME_API, on one keep-alive HTTP/1.1 connection
// (http_client.h). Code that drives the loop itself uses `runtime` (get_next / post_success /
// post_failure) as with aws-lambda-cpp.
//
// Beyond aws-lambda-cpp, and harmless to it: each invocation exports its trace id as
// _X_AMZN_TRACE_ID (unset when absent), a failure() response also names its errorType in the
// Lambda-Runtime-Function-Error-Type header, and request ids are percent-encoded in URLs.
//
// Threads: run_handler() and a `runtime` belong to the thread that calls them; the handler runs on
// that thread.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>

#include "aws/http/response.h"
#include "aws/lambda-runtime/http_client.h"
#include "aws/lambda-runtime/outcome.h"
#include "aws/lambda-runtime/version.h"
#include "aws/logging/logging.h"

namespace aws {
namespace lambda_runtime {

// One invocation, as GET /runtime/invocation/next delivered it. Empty strings for absent headers.
struct invocation_request {
  std::string payload;           // the event, byte for byte
  std::string request_id;        // Lambda-Runtime-Aws-Request-Id
  std::string xray_trace_id;     // Lambda-Runtime-Trace-Id
  std::string client_context;    // Lambda-Runtime-Client-Context (JSON), from mobile SDK callers
  std::string cognito_identity;  // Lambda-Runtime-Cognito-Identity (JSON), from Cognito callers
  std::string function_arn;      // Lambda-Runtime-Invoked-Function-Arn, qualified as invoked
  std::string content_type;      // Content-Type of the event
  // Lambda-Runtime-Deadline-Ms; the Unix epoch when the header was missing.
  std::chrono::time_point<std::chrono::system_clock> deadline;
  std::string tenant_id;  // Lambda-Runtime-Aws-Tenant-Id (tenant-isolation mode)

  // Until the deadline, by the system clock; negative once it has passed.
  std::chrono::milliseconds get_time_remaining() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::system_clock::now());
  }
};

class runtime;

// What a handler returns: a result for the caller, or an error document.
class invocation_response {
 public:
  // A response whose body the caller writes in full, e.g. an error document with a stack trace
  // (success = false). No error-type header is sent for it.
  invocation_response(std::string const& payload, std::string const& content_type, bool success)
      : payload_(payload), content_type_(content_type), success_(success) {}

  // `payload` goes to the caller unchanged, as `content_type` (text/html when empty, as in
  // aws-lambda-cpp).
  static invocation_response success(std::string payload, std::string content_type) {
    invocation_response r;
    r.payload_ = std::move(payload);
    r.content_type_ = std::move(content_type);
    r.success_ = true;
    return r;
  }

  // The body {"errorMessage":..., "errorType":..., "stackTrace":[]} as application/json; both
  // strings JSON-escaped (UTF-8 passes through).
  static invocation_response failure(std::string const& error_message, std::string const& error_type);

  std::string const& get_content_type() const { return content_type_; }
  std::string const& get_payload() const { return payload_; }
  bool is_success() const { return success_; }

 private:
  friend class runtime;
  invocation_response() = default;

  std::string payload_;
  std::string content_type_;
  bool success_ = false;
  std::string error_type_;  // set by failure() only: the Lambda-Runtime-Function-Error-Type header
};

namespace detail {

inline std::string json_escape(std::string const& in) {
  static char const kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(in.size());
  for (char c : in) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;  // bytes >= 0x80 too: UTF-8 stays intact
        }
    }
  }
  return out;
}

// `value` without control characters, so it cannot end its header line early.
inline std::string header_safe(std::string const& value) {
  std::string out;
  for (char c : value)
    if (c == '\t' || static_cast<unsigned char>(c) >= 0x20) out += c;
  return out;
}

// Percent-encodes all but RFC 3986's unreserved characters (request ids are UUIDs: a no-op there).
inline std::string percent_encode(std::string const& in) {
  static char const kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : in) {
    bool const unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      out += kHex[static_cast<unsigned char>(c) & 0xf];
    }
  }
  return out;
}

constexpr char const* kLogTag = "LAMBDA_RUNTIME";

}  // namespace detail

inline invocation_response invocation_response::failure(std::string const& error_message,
                                                        std::string const& error_type) {
  invocation_response r;
  r.payload_ = "{\"errorMessage\":\"" + detail::json_escape(error_message) + "\",\"errorType\":\"" +
               detail::json_escape(error_type) + "\",\"stackTrace\":[]}";
  r.content_type_ = "application/json";
  r.success_ = false;
  r.error_type_ = error_type;
  return r;
}

struct no_result {};

// A Runtime API client. Failures are values: the HTTP status, or REQUEST_NOT_MADE when no answer
// came. Not copyable: it owns the connection.
class runtime {
 public:
  using next_outcome = outcome<invocation_request, aws::http::response_code>;
  using post_outcome = outcome<no_result, aws::http::response_code>;

  // `endpoint` is "http://" + $AWS_LAMBDA_RUNTIME_API (the "http://" may be left out).
  runtime(std::string const& endpoint, std::string const& user_agent)
      : endpoint_(endpoint),
        user_agent_header_("User-Agent: " + detail::header_safe(user_agent) + "\r\n"),
        client_(endpoint) {}
  runtime(std::string const& endpoint)  // NOLINT(google-explicit-constructor): implicit in aws-lambda-cpp too
      : runtime(endpoint, std::string("AWS_Lambda_Cpp/") + get_version() + " (lamina)") {}
  runtime(runtime const&) = delete;
  runtime& operator=(runtime const&) = delete;

  // Waits (without limit) for the next invocation. An answer without a request id is a failure.
  next_outcome get_next() {
    http::response head;
    std::string body;
    if (!client_.exchange("GET", "/2018-06-01/runtime/invocation/next", user_agent_header_, "", head, body)) {
      logging::log_error(detail::kLogTag, "Failed to get the next invocation: no answer from %s", endpoint_.c_str());
      return http::response_code::REQUEST_NOT_MADE;
    }
    if (!is_2xx(head.get_response_code())) {
      logging::log_error(detail::kLogTag, "Failed to get the next invocation: HTTP status %d",
                         static_cast<int>(head.get_response_code()));
      return head.get_response_code();
    }
    auto id = head.get_header("lambda-runtime-aws-request-id");
    if (!id.is_success()) {
      logging::log_error(detail::kLogTag, "The next invocation came without a Lambda-Runtime-Aws-Request-Id");
      return http::response_code::REQUEST_NOT_MADE;
    }
    invocation_request req;
    req.payload = std::move(body);
    req.request_id = std::move(id).get_result();
    req.content_type = head.get_content_type();
    copy_header(head, "lambda-runtime-trace-id", req.xray_trace_id);
    copy_header(head, "lambda-runtime-client-context", req.client_context);
    copy_header(head, "lambda-runtime-cognito-identity", req.cognito_identity);
    copy_header(head, "lambda-runtime-invoked-function-arn", req.function_arn);
    copy_header(head, "lambda-runtime-aws-tenant-id", req.tenant_id);
    std::string deadline;
    copy_header(head, "lambda-runtime-deadline-ms", deadline);
    req.deadline += std::chrono::milliseconds(std::strtoll(deadline.c_str(), nullptr, 10));
    return next_outcome(std::move(req));
  }

  // POSTs the response to /invocation/{request_id}/response.
  post_outcome post_success(std::string const& request_id, invocation_response const& handler_response) {
    return post(request_id, "/response", handler_response);
  }

  // POSTs the error document to /invocation/{request_id}/error.
  post_outcome post_failure(std::string const& request_id, invocation_response const& handler_response) {
    return post(request_id, "/error", handler_response);
  }

 private:
  static bool is_2xx(http::response_code code) {
    return static_cast<int>(code) >= 200 && static_cast<int>(code) <= 299;
  }

  static void copy_header(http::response const& head, char const* name, std::string& into) {
    auto value = head.get_header(name);
    if (value.is_success()) into = std::move(value).get_result();
  }

  post_outcome post(std::string const& request_id, char const* kind, invocation_response const& response) {
    std::string const& type = response.get_content_type();
    std::string headers =
        user_agent_header_ + "Content-Type: " + (type.empty() ? "text/html" : detail::header_safe(type)) + "\r\n";
    if (!response.is_success() && !response.error_type_.empty())
      headers += "Lambda-Runtime-Function-Error-Type: " + detail::header_safe(response.error_type_) + "\r\n";
    std::string const target = "/2018-06-01/runtime/invocation/" + detail::percent_encode(request_id) + kind;
    http::response head;
    std::string body;
    if (!client_.exchange("POST", target, headers, response.get_payload(), head, body)) {
      logging::log_error(detail::kLogTag, "Failed to send the result of invocation %s", request_id.c_str());
      return http::response_code::REQUEST_NOT_MADE;
    }
    if (!is_2xx(head.get_response_code())) {
      logging::log_error(detail::kLogTag, "The Runtime API refused the result of invocation %s: HTTP status %d: %s",
                         request_id.c_str(), static_cast<int>(head.get_response_code()), body.c_str());
      return head.get_response_code();
    }
    return no_result{};
  }

  std::string endpoint_;
  std::string user_agent_header_;  // a complete "User-Agent: ...\r\n" line
  detail::HttpClient client_;
};

// Serves invocations with `handler` for the life of the environment, as aws-lambda-cpp does: it
// returns after three failed attempts in a row to get the next invocation (no pause between them),
// or as soon as a result cannot be delivered (a non-2xx answer or a lost connection to the Runtime
// API, such as 413 for an oversized response) — main() then usually exits, and the next invocation
// starts a fresh environment.
//
// An exception thrown by `handler` is not caught: as with aws-lambda-cpp it leaves run_handler()
// and, unless main() catches it, ends the process through std::terminate; the platform then
// reports the invocation as failed (Runtime.ExitError).
inline void run_handler(std::function<invocation_response(invocation_request const&)> const& handler) {
  char const* api = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (api == nullptr || *api == '\0') {
    logging::log_error(detail::kLogTag, "AWS_LAMBDA_RUNTIME_API is not set: run this function in a Lambda environment");
    return;
  }
  runtime rt(std::string("http://") + api);
  constexpr int kMaxFailures = 3;
  int failures = 0;
  while (failures < kMaxFailures) {
    auto next = rt.get_next();
    if (!next.is_success()) {
      ++failures;
      continue;
    }
    failures = 0;
    invocation_request const req = std::move(next).get_result();
    if (req.xray_trace_id.empty()) {
      ::unsetenv("_X_AMZN_TRACE_ID");
    } else {
      ::setenv("_X_AMZN_TRACE_ID", req.xray_trace_id.c_str(), 1);
    }
    invocation_response const res = handler(req);
    auto const posted = res.is_success() ? rt.post_success(req.request_id, res) : rt.post_failure(req.request_id, res);
    if (!posted.is_success()) return;
  }
  logging::log_error(detail::kLogTag, "Giving up after %d failed attempts to get the next invocation", kMaxFailures);
}

}  // namespace lambda_runtime
}  // namespace aws
