// Request and Response: lamina's own plain HTTP message types. Handlers are functions from a
// Request to a Response; only http/server.cpp and http/client.cpp see Boost.Beast, which keeps
// Beast's templates out of every other translation unit. Plain values, no thread affinity.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lamina::http {

// Header fields in arrival order; names are lower-cased by the server, values kept verbatim.
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // the request-target exactly as received: "/path?query", still percent-encoded
  Headers headers;
  std::string body;
  // The body was larger than the server's limit and was not read; `body` is empty and the
  // connection is closed after the response.
  bool bodyTooLarge = false;

  // The first value of header `lowerName`, or "" when absent.
  std::string_view header(std::string_view lowerName) const {
    for (const auto& [k, v] : headers)
      if (k == lowerName) return v;
    return {};
  }
  bool hasHeader(std::string_view lowerName) const {
    for (const auto& [k, v] : headers)
      if (k == lowerName) return true;
    return false;
  }
  std::string_view path() const {
    std::string_view t = target;
    return t.substr(0, t.find('?'));
  }
  std::string_view query() const {
    std::string_view t = target;
    size_t q = t.find('?');
    return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
  }
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  bool closeConnection = false;

  Response& set(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

}  // namespace lamina::http
