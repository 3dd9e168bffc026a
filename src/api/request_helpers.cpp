#include "api/request_helpers.h"

#include <boost/json/serialize.hpp>

#include "core/crypto.h"
#include "core/strings.h"

namespace lamina::api {

namespace json = boost::json;

http::Response jsonResponse(int status, const json::value& body) {
  http::Response r;
  r.status = status;
  r.set("Content-Type", "application/json");
  r.body = json::serialize(body);
  return r;
}

http::Response emptyResponse(int status) {
  http::Response r;
  r.status = status;
  return r;
}

std::string queryParam(const http::Request& req, std::string_view name) {
  for (auto& [k, v] : core::parseQuery(req.query()))
    if (k == name) return v;
  return {};
}

Result<Page> pageOf(const http::Request& req) {
  Page page;
  if (std::string text = queryParam(req, "MaxItems"); !text.empty()) {
    int64_t n = 0;
    for (char c : text) n = (c >= '0' && c <= '9' && n <= 100000) ? n * 10 + (c - '0') : -1;
    if (n < 1 || n > 10000)
      return fail(Code::kValidation, "1 validation error detected: Value '" + text +
                                         "' at 'maxItems' failed to satisfy constraint: Member must have value "
                                         "between 1 and 10000");
    page.size = std::min<int64_t>(n, 50);
  }
  if (std::string marker = queryParam(req, "Marker"); !marker.empty()) {
    auto decoded = core::base64Decode(marker);
    if (!decoded) return fail(Code::kInvalidParameterValue, "Invalid Marker: pass the NextMarker of a previous page");
    page.after = std::move(*decoded);
  }
  return page;
}

}  // namespace lamina::api
