// Fuzz target for http/sigv4: arbitrary bytes in, three oracles out. parseAuthorization of the whole
// input must not crash and, when it succeeds, must have filled every field; verify() of the request
// the bytes describe must not crash; and whatever that request is, sign() followed by verify() must
// accept it (for "lambda" and "s3"), so canonicalisation agrees with itself on any input.
// Input layout: an HTTP/1.1 request as on the wire — "METHOD TARGET HTTP/1.1", "Name: value" header
// lines up to an empty line, then the body (lines end in "\n" or "\r\n"), so captured requests are
// seeds as they are. Built with libFuzzer under Clang, or replaying a corpus through
// standalone_main.cpp under GCC (see CMakeLists.txt). Single-threaded.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/strings.h"
#include "http/message.h"
#include "http/sigv4.h"

namespace {

namespace sigv4 = lamina::http::sigv4;
using lamina::http::Request;

constexpr int64_t kNow = 1714558272;  // 20240501T101112Z
const sigv4::Credentials kCreds{"test", "test"};

[[noreturn]] void die(const char* what, std::string_view detail) {
  std::fprintf(stderr, "sigv4_fuzz: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// Pops one line (without its "\n" or "\r\n") off the front of `rest`.
std::string_view nextLine(std::string_view& rest) {
  size_t nl = rest.find('\n');
  std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// The request our server would hand over: names lower-cased, values trimmed.
Request requestFrom(std::string_view bytes) {
  Request req;
  auto requestLine = lamina::core::split(nextLine(bytes), ' ');
  req.method = std::string(requestLine[0]);
  if (requestLine.size() > 1) req.target = std::string(requestLine[1]);
  while (!bytes.empty()) {
    std::string_view line = nextLine(bytes);
    if (line.empty()) break;
    size_t colon = line.find(':');
    std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    req.headers.emplace_back(lamina::core::toLower(lamina::core::trim(line.substr(0, colon))),
                             std::string(lamina::core::trim(value)));
  }
  req.body = std::string(bytes);
  return req;
}

// Header names a real HTTP parser could deliver and a signed-header list can carry (no ';', ',').
bool signableNames(const Request& req) {
  for (const auto& [name, value] : req.headers) {
    if (name.empty()) return false;
    for (char c : name)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

void checkParsed(std::string_view header) {
  auto auth = sigv4::parseAuthorization(header);
  if (!auth) return;
  if (auth->accessKeyId.empty() || auth->date.size() != 8 || auth->region.empty() || auth->service.empty() ||
      auth->signedHeaders.empty() || auth->signature.empty())
    die("parseAuthorization accepted a header with an empty field", header);
}

void checkRoundTrip(const Request& original, std::string_view service) {
  Request req = original;
  if (!req.hasHeader("host")) req.headers.emplace_back("host", "127.0.0.1:9001");
  sigv4::sign(req, kCreds, "us-east-1", service, kNow);
  auto verified = sigv4::verify(req, kCreds, kNow);
  if (!verified) die("verify rejected what sign produced", verified.error().message());
  if (verified->service != service || verified->region != "us-east-1" || verified->accessKeyId != kCreds.accessKeyId)
    die("verify reported another caller", verified->service);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  checkParsed(bytes);
  Request req = requestFrom(bytes);
  checkParsed(req.header("authorization"));
  (void)sigv4::verify(req, kCreds, kNow);
  (void)sigv4::canonicalRequest(req, {"host", "x-amz-date"}, "lambda");
  (void)sigv4::canonicalRequest(req, {"host", "x-amz-date"}, "s3");
  if (signableNames(req)) {
    checkRoundTrip(req, "lambda");
    checkRoundTrip(req, "s3");
  }
  return 0;
}
