// ApiClient: the CLI's way of talking to a running `lamina server`: builds a request, signs it with
// SigV4 (http/sigv4.h) for the "lambda" or "logs" service and sends it with the blocking client
// (http/client.h). Also turns AWS-shaped error responses into one-line messages.
//
// Holds copies of its settings; no shared state, so any thread may use its own ApiClient.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.h"
#include "http/client.h"
#include "http/message.h"

namespace lamina::cli {

struct ClientSettings {
  std::string endpoint;  // "http://127.0.0.1:9001"
  std::string region;
  std::string accessKeyId;
  std::string secretAccessKey;
};

inline constexpr std::chrono::seconds kDefaultTimeout{60};

class ApiClient {
 public:
  // Fails when the endpoint URL cannot be parsed.
  static Result<ApiClient> create(ClientSettings settings);

  // Sends one signed request and returns the response whatever its status; an Error only when the
  // server could not be reached or did not answer (the message says how to start it). `target` is
  // the path and query, already percent-encoded. Header names in `extraHeaders` must be lower-case.
  Result<http::Response> call(std::string method, std::string target, std::string body, std::string_view service,
                              const http::Headers& extraHeaders = {},
                              std::chrono::seconds timeout = kDefaultTimeout) const;

  // call() for the CloudWatch Logs JSON 1.1 protocol: POST / with X-Amz-Target Logs_20140328.<op>.
  Result<http::Response> callLogs(std::string_view operation, std::string body) const;

  const ClientSettings& settings() const { return settings_; }

 private:
  ApiClient(ClientSettings settings, http::Endpoint endpoint)
      : settings_(std::move(settings)), endpoint_(std::move(endpoint)) {}

  ClientSettings settings_;
  http::Endpoint endpoint_;
};

// The first value of response header `lowerName`, or "" (the client lower-cases response names).
std::string_view header(const http::Response& res, std::string_view lowerName);

inline bool isSuccess(const http::Response& res) { return res.status >= 200 && res.status < 300; }

// "<ErrorType>: <message>" from x-amzn-ErrorType (or the body's __type) and the body's
// message/Message; falls back to the HTTP status and the raw body.
std::string describeError(const http::Response& res);

// `res` when it is a 2xx response, else an Error carrying describeError(res) (code kResourceNotFound
// for 404, kInternal otherwise). Passes connection errors through.
Result<http::Response> requireSuccess(Result<http::Response> res);

}  // namespace lamina::cli
