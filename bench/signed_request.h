// Raw SigV4-signed Lambda API requests for the benchmark programs (credentials test/test,
// us-east-1), built once and replayed on a keep-alive socket.
#pragma once

#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "http/sigv4.h"

namespace bench {

inline std::string signedRequest(const std::string& hostPort, const std::string& method, const std::string& target,
                                 const std::string& body,
                                 const std::vector<std::pair<std::string, std::string>>& extraHeaders = {}) {
  lamina::http::Request req;
  req.method = method;
  req.target = target;
  req.headers = {{"host", hostPort}};
  for (const auto& h : extraHeaders) req.headers.push_back(h);
  req.body = body;
  lamina::http::sigv4::sign(req, {"test", "test"}, "us-east-1", "lambda", std::time(nullptr));
  std::string raw = req.method + " " + req.target + " HTTP/1.1\r\n";
  for (auto& [k, v] : req.headers) raw += k + ": " + v + "\r\n";
  raw += "content-length: " + std::to_string(req.body.size()) + "\r\n\r\n" + req.body;
  return raw;
}

// Invoke of `function` with a small JSON event; `event` makes it InvocationType Event.
inline std::string signedInvoke(const std::string& hostPort, const std::string& function, bool event = false) {
  std::vector<std::pair<std::string, std::string>> extra;
  if (event) extra.emplace_back("x-amz-invocation-type", "Event");
  return signedRequest(hostPort, "POST", "/2015-03-31/functions/" + function + "/invocations", R"({"bench":true})",
                       extra);
}

}  // namespace bench
