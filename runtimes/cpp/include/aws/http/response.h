// aws::http: the HTTP status codes and the response record of aws-lambda-cpp's public API. Runtime
// calls fail with a response_code (REQUEST_NOT_MADE when no answer came at all); lamina's runtime
// client fills a `response` with the Runtime API's status and headers.
//
// `response` keeps header names lower-cased (look them up in lower case) and values as received. A
// plain value; not synchronized.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "aws/lambda-runtime/outcome.h"

namespace aws {
namespace http {

// The statuses aws-lambda-cpp names. Any other status is still representable: cast its number.
// clang-format off
enum class response_code {
  REQUEST_NOT_MADE = -1,  // no answer: connection refused or lost, or a malformed reply
  CONTINUE = 100, SWITCHING_PROTOCOLS = 101, PROCESSING = 102,
  OK = 200, CREATED = 201, ACCEPTED = 202, NON_AUTHORITATIVE_INFORMATION = 203, NO_CONTENT = 204,
  RESET_CONTENT = 205, PARTIAL_CONTENT = 206, MULTI_STATUS = 207, ALREADY_REPORTED = 208, IM_USED = 226,
  MULTIPLE_CHOICES = 300, MOVED_PERMANENTLY = 301, FOUND = 302, SEE_OTHER = 303, NOT_MODIFIED = 304,
  USE_PROXY = 305, SWITCH_PROXY = 306, TEMPORARY_REDIRECT = 307, PERMANENT_REDIRECT = 308,
  BAD_REQUEST = 400, UNAUTHORIZED = 401, PAYMENT_REQUIRED = 402, FORBIDDEN = 403, NOT_FOUND = 404,
  METHOD_NOT_ALLOWED = 405, NOT_ACCEPTABLE = 406, PROXY_AUTHENTICATION_REQUIRED = 407, REQUEST_TIMEOUT = 408,
  CONFLICT = 409, GONE = 410, LENGTH_REQUIRED = 411, PRECONDITION_FAILED = 412, REQUEST_ENTITY_TOO_LARGE = 413,
  REQUEST_URI_TOO_LONG = 414, UNSUPPORTED_MEDIA_TYPE = 415, REQUESTED_RANGE_NOT_SATISFIABLE = 416,
  EXPECTATION_FAILED = 417, IM_A_TEAPOT = 418, AUTHENTICATION_TIMEOUT = 419, METHOD_FAILURE = 420,
  UNPROC_ENTITY = 422, LOCKED = 423, FAILED_DEPENDENCY = 424, UPGRADE_REQUIRED = 426, PRECONDITION_REQUIRED = 427,
  TOO_MANY_REQUESTS = 429, REQUEST_HEADER_FIELDS_TOO_LARGE = 431, LOGIN_TIMEOUT = 440, NO_RESPONSE = 444,
  RETRY_WITH = 449, BLOCKED = 450, REDIRECT = 451, REQUEST_HEADER_TOO_LARGE = 494, CERT_ERROR = 495,
  NO_CERT = 496, HTTP_TO_HTTPS = 497, CLIENT_CLOSED_TO_REQUEST = 499,
  INTERNAL_SERVER_ERROR = 500, NOT_IMPLEMENTED = 501, BAD_GATEWAY = 502, SERVICE_UNAVAILABLE = 503,
  GATEWAY_TIMEOUT = 504, HTTP_VERSION_NOT_SUPPORTED = 505, VARIANT_ALSO_NEGOTIATES = 506,
  INSUFFICIENT_STORAGE = 507, LOOP_DETECTED = 508, BANDWIDTH_LIMIT_EXCEEDED = 509, NOT_EXTENDED = 510,
  NETWORK_AUTHENTICATION_REQUIRED = 511, NETWORK_READ_TIMEOUT = 598, NETWORK_CONNECT_TIMEOUT = 599,
};
// clang-format on

class response {
 public:
  // Stores `name` lower-cased and `value` unchanged; a repeated name keeps every value, and lookups
  // see the first.
  void add_header(std::string name, std::string const& value) {
    for (char& c : name) c = lower(c);
    headers_.emplace_back(std::move(name), value);
  }
  void append_body(char const* p, size_t size) { body_.append(p, size); }

  // `header` must be lower case.
  bool has_header(char const* header) const { return find(header) != headers_.end(); }
  // The value of `header` (lower case), or a failure (false) when it is absent.
  lambda_runtime::outcome<std::string, bool> get_header(char const* header) const {
    auto it = find(header);
    if (it == headers_.end()) return false;
    return it->second;
  }

  response_code get_response_code() const { return code_; }
  void set_response_code(response_code c) { code_ = c; }
  // A null `ct` means none (empty).
  void set_content_type(char const* ct) { content_type_ = ct ? ct : ""; }
  std::string const& get_body() const { return body_; }
  std::string const& get_content_type() const { return content_type_; }

 private:
  using header_list = std::vector<std::pair<std::string, std::string>>;

  static char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
  header_list::const_iterator find(char const* name) const {
    return std::find_if(headers_.begin(), headers_.end(),
                        [name](std::pair<std::string, std::string> const& h) { return h.first == name; });
  }

  response_code code_ = response_code::REQUEST_NOT_MADE;
  header_list headers_;
  std::string body_;
  std::string content_type_;
};

}  // namespace http
}  // namespace aws
