#include "http/sigv4.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "core/strings.h"
#include "core/time.h"

namespace lamina::http::sigv4 {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr int64_t kMaxSkewSeconds = 5 * 60;

std::string amzDate(int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

std::string hexSha256(std::string_view data) { return core::toHex(core::sha256(data)); }

// Collapses runs of spaces and trims, as the canonical header value wants.
std::string canonicalValue(std::string_view v) {
  v = core::trim(v);
  std::string out;
  out.reserve(v.size());
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::string canonicalQuery(std::string_view query, bool dropSignature) {
  std::vector<std::pair<std::string, std::string>> params;
  if (!query.empty()) {
    for (std::string_view part : core::split(query, '&')) {
      if (part.empty()) continue;
      size_t eq = part.find('=');
      std::string_view k = part.substr(0, eq);
      std::string_view v = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
      auto dk = core::uriDecode(k, true);
      auto dv = core::uriDecode(v, true);
      std::string name = dk ? *dk : std::string(k);
      if (dropSignature && name == "X-Amz-Signature") continue;
      params.emplace_back(core::uriEncode(name, false), core::uriEncode(dv ? *dv : std::string(v), false));
    }
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (size_t i = 0; i < params.size(); ++i) {
    if (i) out.push_back('&');
    out += params[i].first + "=" + params[i].second;
  }
  return out;
}

std::string canonicalRequestImpl(const Request& req, const std::vector<std::string>& signedHeaders,
                                 std::string_view service, bool presigned) {
  std::string path(req.path());
  if (path.empty()) path = "/";
  std::string uri = service == "s3" ? path : core::uriEncode(path, true);
  std::string out;
  out.reserve(512);
  out += req.method + "\n" + uri + "\n" + canonicalQuery(req.query(), presigned) + "\n";
  for (const auto& name : signedHeaders) {
    std::string joined;
    bool first = true;
    for (const auto& [k, v] : req.headers) {
      if (k != name) continue;
      if (!first) joined.push_back(',');
      joined += canonicalValue(v);
      first = false;
    }
    out += name + ":" + joined + "\n";
  }
  out += "\n";
  for (size_t i = 0; i < signedHeaders.size(); ++i) out += (i ? ";" : "") + signedHeaders[i];
  out += "\n";
  std::string_view declared = req.header("x-amz-content-sha256");
  if (presigned)
    out += "UNSIGNED-PAYLOAD";
  else if (!declared.empty())
    out += std::string(declared);
  else
    out += hexSha256(req.body);
  return out;
}

std::unexpected<Error> incomplete(std::string_view what, std::string_view header) {
  return fail(Code::kIncompleteSignature,
              std::string(what) + " Authorization=" + std::string(header.substr(0, 200)));
}

Result<VerifiedCaller> check(const Request& req, const Credentials& creds, int64_t now, const Authorization& auth,
                             std::string_view date, bool presigned) {
  if (auth.accessKeyId != creds.accessKeyId)
    return fail(Code::kUnrecognizedClient, "The security token included in the request is invalid.");
  int64_t when = core::parseAmzDate(std::string(date));
  if (when < 0) return fail(Code::kIncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '" + std::string(date) + "'.");
  if (date.substr(0, 8) != auth.date)
    return fail(Code::kInvalidSignature, "Credential should be scoped to a valid date: '" + std::string(date.substr(0, 8)) + "'.");
  if (!presigned) {
    if (when < now - kMaxSkewSeconds)
      return fail(Code::kInvalidSignature, "Signature expired: " + std::string(date) + " is now earlier than " +
                                               amzDate(now - kMaxSkewSeconds) + " (" + amzDate(now) + " - 5 min.)");
    if (when > now + kMaxSkewSeconds)
      return fail(Code::kInvalidSignature, "Signature not yet current: " + std::string(date) + " is still later than " +
                                               amzDate(now + kMaxSkewSeconds) + " (" + amzDate(now) + " + 5 min.)");
  }
  std::string scope = auth.date + "/" + auth.region + "/" + auth.service + "/aws4_request";
  std::string canonical = canonicalRequestImpl(req, auth.signedHeaders, auth.service, presigned);
  std::string toSign = stringToSign(date, scope, canonical);
  auto key = signingKey(creds.secretAccessKey, auth.date, auth.region, auth.service);
  std::string expected = core::toHex(core::hmacSha256(core::digestBytes(key), toSign));
  if (expected.size() != auth.signature.size() ||
      CRYPTO_memcmp(expected.data(), auth.signature.data(), expected.size()) != 0)
    return fail(Code::kInvalidSignature,
                "The request signature we calculated does not match the signature you provided. Check your AWS "
                "Secret Access Key and signing method. Consult the service documentation for details.");
  return VerifiedCaller{auth.accessKeyId, auth.region, auth.service};
}

Result<void> parseCredential(std::string_view cred, Authorization& out, std::string_view header) {
  auto parts = core::split(cred, '/');
  if (parts.size() != 5 || parts[4] != "aws4_request" || parts[0].empty() || parts[1].size() != 8 ||
      parts[2].empty() || parts[3].empty())
    return incomplete("Credential should be scoped correctly: <key>/<date>/<region>/<service>/aws4_request.", header);
  out.accessKeyId = parts[0];
  out.date = parts[1];
  out.region = parts[2];
  out.service = parts[3];
  return {};
}

}  // namespace

Result<Authorization> parseAuthorization(std::string_view header) {
  std::string_view h = core::trim(header);
  if (!core::startsWith(h, kAlgorithm) || h.size() == kAlgorithm.size() || h[kAlgorithm.size()] != ' ')
    return incomplete("Authorization header requires the AWS4-HMAC-SHA256 algorithm.", header);
  h.remove_prefix(kAlgorithm.size());
  Authorization auth;
  bool haveCred = false, haveHeaders = false, haveSig = false;
  for (std::string_view part : core::split(h, ',')) {
    part = core::trim(part);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) return incomplete("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.", header);
    std::string_view key = part.substr(0, eq), value = part.substr(eq + 1);
    if (key == "Credential") {
      if (auto r = parseCredential(value, auth, header); !r) return std::unexpected(r.error());
      haveCred = true;
    } else if (key == "SignedHeaders") {
      for (auto n : core::split(value, ';'))
        if (!n.empty()) auth.signedHeaders.push_back(core::toLower(n));
      haveHeaders = !auth.signedHeaders.empty();
    } else if (key == "Signature") {
      auth.signature = std::string(value);
      haveSig = !value.empty();
    }
  }
  if (!haveCred) return incomplete("Authorization header requires 'Credential' parameter.", header);
  if (!haveHeaders) return incomplete("Authorization header requires 'SignedHeaders' parameter.", header);
  if (!haveSig) return incomplete("Authorization header requires 'Signature' parameter.", header);
  return auth;
}

std::string canonicalRequest(const Request& req, const std::vector<std::string>& signedHeaders,
                             std::string_view service) {
  return canonicalRequestImpl(req, signedHeaders, service, false);
}

std::string stringToSign(std::string_view date, std::string_view scope, std::string_view canonical) {
  return std::string(kAlgorithm) + "\n" + std::string(date) + "\n" + std::string(scope) + "\n" + hexSha256(canonical);
}

core::Digest signingKey(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service) {
  auto kDate = core::hmacSha256("AWS4" + std::string(secret), date);
  auto kRegion = core::hmacSha256(core::digestBytes(kDate), region);
  auto kService = core::hmacSha256(core::digestBytes(kRegion), service);
  return core::hmacSha256(core::digestBytes(kService), "aws4_request");
}

Result<VerifiedCaller> verify(const Request& req, const Credentials& creds, int64_t now) {
  std::string_view header = req.header("authorization");
  if (!header.empty()) {
    auto auth = parseAuthorization(header);
    if (!auth) return std::unexpected(auth.error());
    std::string_view date = req.header("x-amz-date");
    if (date.empty()) return fail(Code::kIncompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
    for (const auto& h : auth->signedHeaders)
      if (!req.hasHeader(h)) return fail(Code::kInvalidSignature, "Signed header '" + h + "' is missing from the request.");
    return check(req, creds, now, *auth, date, false);
  }
  std::string credential, date, signedHeaders, signature, expires;
  for (auto& [k, v] : core::parseQuery(req.query())) {
    if (k == "X-Amz-Credential") credential = v;
    else if (k == "X-Amz-Date") date = v;
    else if (k == "X-Amz-SignedHeaders") signedHeaders = v;
    else if (k == "X-Amz-Signature") signature = v;
    else if (k == "X-Amz-Expires") expires = v;
  }
  if (credential.empty()) return fail(Code::kMissingAuthenticationToken, "Missing Authentication Token");
  Authorization auth;
  if (auto r = parseCredential(credential, auth, credential); !r) return std::unexpected(r.error());
  for (auto n : core::split(signedHeaders, ';'))
    if (!n.empty()) auth.signedHeaders.push_back(core::toLower(n));
  auth.signature = signature;
  if (auth.signature.empty() || auth.signedHeaders.empty() || date.empty())
    return fail(Code::kIncompleteSignature, "Presigned requests need X-Amz-Date, X-Amz-SignedHeaders and X-Amz-Signature.");
  int64_t when = core::parseAmzDate(date);
  int64_t ttl = expires.empty() ? 900 : std::atoll(expires.c_str());
  if (when < 0 || ttl <= 0 || ttl > 604800 || now > when + ttl || when > now + kMaxSkewSeconds)
    return fail(Code::kAccessDenied, "Request has expired");
  return check(req, creds, now, auth, date, true);
}

void sign(Request& req, const Credentials& creds, std::string_view region, std::string_view service, int64_t now) {
  std::string date = amzDate(now);
  std::string payloadHash = hexSha256(req.body);
  std::erase_if(req.headers, [](const auto& h) {
    return h.first == "x-amz-date" || h.first == "x-amz-content-sha256" || h.first == "authorization";
  });
  req.headers.emplace_back("x-amz-date", date);
  req.headers.emplace_back("x-amz-content-sha256", payloadHash);
  std::vector<std::string> names;
  for (const auto& [k, v] : req.headers)
    if (k == "host" || core::startsWith(k, "x-amz-")) names.push_back(k);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string scope = date.substr(0, 8) + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  std::string toSign = stringToSign(date, scope, canonicalRequestImpl(req, names, service, false));
  auto key = signingKey(creds.secretAccessKey, date.substr(0, 8), region, service);
  std::string signature = core::toHex(core::hmacSha256(core::digestBytes(key), toSign));
  std::string signedList;
  for (size_t i = 0; i < names.size(); ++i) signedList += (i ? ";" : "") + names[i];
  req.headers.emplace_back("authorization", std::string(kAlgorithm) + " Credential=" + creds.accessKeyId + "/" + scope +
                                                ", SignedHeaders=" + signedList + ", Signature=" + signature);
}

}  // namespace lamina::http::sigv4
