#include "http/aws_error.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace lamina::http {

Response awsError(const Error& error, std::string_view requestId) {
  Response r;
  r.status = httpStatus(error.code());
  std::string_view type = awsType(error.code());
  boost::json::object body;
  body["Type"] = r.status >= 500 ? "Service" : "User";
  body[capitalMessageKey(error.code()) ? "Message" : "message"] = error.message();
  if (error.code() == Code::kTooManyRequests) {
    body["Reason"] = error.reason().empty() ? std::string("ConcurrentInvocationLimitExceeded") : error.reason();
    r.set("Retry-After", "1");
  }
  r.set("Content-Type", "application/json");
  r.set("x-amzn-RequestId", std::string(requestId));
  r.set("x-amzn-ErrorType", std::string(type));
  r.body = boost::json::serialize(body);
  return r;
}

}  // namespace lamina::http
