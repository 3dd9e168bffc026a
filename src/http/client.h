// Blocking HTTP/1.1 client for the CLI and tools: one request per connection, with a timeout.
// Thread-safe (no shared state). Beast stays inside client.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/result.h"
#include "http/message.h"

namespace lamina::http {

struct Endpoint {
  std::string host;
  uint16_t port = 80;
  std::string hostHeader() const { return host + ":" + std::to_string(port); }
};

// "http://127.0.0.1:9001" → {127.0.0.1, 9001}. Only http:// is supported.
Result<Endpoint> parseEndpoint(const std::string& url);

// Sends `req` (its Host header must be set by the caller if it is signed) and reads the response.
// Connection failures say which address could not be reached and suggest `lamina server`.
Result<Response> send(const Endpoint& endpoint, const Request& req, std::chrono::seconds timeout);

}  // namespace lamina::http
