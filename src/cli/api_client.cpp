#include "cli/api_client.h"

#include <ctime>

#include "core/json.h"
#include "core/strings.h"
#include "http/sigv4.h"

namespace lamina::cli {

Result<ApiClient> ApiClient::create(ClientSettings settings) {
  auto endpoint = http::parseEndpoint(settings.endpoint);
  if (!endpoint) return std::unexpected(endpoint.error().context("--endpoint"));
  return ApiClient(std::move(settings), std::move(*endpoint));
}

Result<http::Response> ApiClient::call(std::string method, std::string target, std::string body,
                                       std::string_view service, const http::Headers& extraHeaders,
                                       std::chrono::seconds timeout) const {
  http::Request req;
  req.method = std::move(method);
  req.target = std::move(target);
  req.body = std::move(body);
  // Lower-case "host": http::send looks for it by that name and would otherwise add a second one.
  req.headers.emplace_back("host", endpoint_.hostHeader());
  for (const auto& h : extraHeaders) req.headers.push_back(h);
  http::sigv4::sign(req, {settings_.accessKeyId, settings_.secretAccessKey}, settings_.region, service,
                    std::time(nullptr));
  return http::send(endpoint_, req, timeout);
}

Result<http::Response> ApiClient::callLogs(std::string_view operation, std::string body) const {
  return call(
      "POST", "/", std::move(body), "logs",
      {{"x-amz-target", "Logs_20140328." + std::string(operation)}, {"content-type", "application/x-amz-json-1.1"}});
}

std::string_view header(const http::Response& res, std::string_view lowerName) {
  for (const auto& [k, v] : res.headers)
    if (k == lowerName) return v;
  return {};
}

namespace {

// The AWS error type: x-amzn-ErrorType up to its first ':' (a URL may follow), else the JSON 1.1
// body's "__type" after any "namespace#" prefix.
std::string errorType(const http::Response& res, const core::json::object* body) {
  std::string_view type = header(res, "x-amzn-errortype");
  type = type.substr(0, type.find(':'));
  if (type.empty() && body != nullptr) {
    if (const auto* t = body->if_contains("__type"); t != nullptr && t->is_string()) type = t->get_string();
    if (size_t hash = type.rfind('#'); hash != std::string_view::npos) type = type.substr(hash + 1);
  }
  return std::string(core::trim(type));
}

}  // namespace

std::string describeError(const http::Response& res) {
  auto parsed = core::parseJsonObject(res.body);
  const core::json::object* body = parsed ? &*parsed : nullptr;
  std::string type = errorType(res, body);
  std::string message;
  if (body != nullptr) {
    for (const char* key : {"message", "Message", "errorMessage"}) {
      if (const auto* m = body->if_contains(key); m != nullptr && m->is_string()) {
        message = m->get_string();
        break;
      }
    }
  } else {
    message = std::string(core::trim(res.body));
  }
  if (type.empty()) type = "HTTP " + std::to_string(res.status);
  return message.empty() ? type : type + ": " + message;
}

Result<http::Response> requireSuccess(Result<http::Response> res) {
  if (!res || isSuccess(*res)) return res;
  auto parsed = core::parseJsonObject(res->body);
  bool notFound = res->status == 404 || errorType(*res, parsed ? &*parsed : nullptr) == "ResourceNotFoundException";
  return fail(notFound ? Code::kResourceNotFound : Code::kInternal, describeError(*res));
}

}  // namespace lamina::cli
