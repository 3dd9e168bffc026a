// Small pieces every Lambda API handler uses: JSON and empty responses, query parameters, paging.
// Plain functions; no thread affinity.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "http/message.h"

namespace lamina::api {

// Success responses get their x-amzn-RequestId once, in LambdaApi::handle.
http::Response jsonResponse(int status, const boost::json::value& body);
http::Response emptyResponse(int status);
std::string queryParam(const http::Request& req, std::string_view name);

// Paging of a list call: MaxItems 1..10000 (at most 50 per page, as AWS pages) and the key after
// which the page starts (NextMarker is the base64 of the last key shown).
struct Page {
  int64_t size = 50;
  std::string after;
};
Result<Page> pageOf(const http::Request& req);

}  // namespace lamina::api
