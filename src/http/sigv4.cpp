#include "http/sigv4.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <optional>

#include "core/strings.h"
#include "core/time.h"

namespace lamina::http::sigv4 {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
constexpr std::string_view kContentSha256 = "x-amz-content-sha256";
constexpr int64_t kMaxSkewSeconds = 5 * 60;
constexpr int64_t kMaxPresignSeconds = 7 * 24 * 3600;
constexpr size_t kMaxEcho = 512;
constexpr std::string_view kMismatch =
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
    "Key and signing method. Consult the service documentation for details.";

std::string amzDate(int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

std::string hexSha256(std::string_view data) { return core::toHex(core::sha256(data)); }

bool isDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Client text for an error message: at most kMaxEcho bytes, non-printable bytes as '?', so a
// message stays valid JSON and a single log line whatever the client sent.
std::string echo(std::string_view s) {
  std::string out(s.substr(0, kMaxEcho));
  for (char& c : out)
    if (c < 0x20 || c > 0x7e) c = '?';
  return out;
}

std::unexpected<Error> incomplete(std::string_view what, std::string_view header) {
  return fail(Code::kIncompleteSignature, std::string(what) + " Authorization=" + echo(header));
}

std::unexpected<Error> queryIncomplete(std::string_view what) {
  return fail(Code::kIncompleteSignature, std::string(what) + " Re-examine the query-string parameters.");
}

struct RequestTime {
  std::string amz;  // yyyymmddTHHMMSSZ, as it goes into the string to sign
  int64_t epoch;
};

std::optional<RequestTime> parseBasic(std::string_view text) {
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z' || !isDigits(text.substr(0, 8)) ||
      !isDigits(text.substr(9, 6)))
    return std::nullopt;
  int64_t epoch = core::parseAmzDate(std::string(text));
  if (epoch < 0) return std::nullopt;
  return RequestTime{std::string(text), epoch};
}

// RFC 7231 IMF-fixdate, "Wed, 01 May 2024 10:11:12 GMT", rewritten as yyyymmddTHHMMSSZ (the form
// the string to sign carries). The weekday is not checked. Unchanged text when it is not one.
std::string imfToBasic(std::string_view t) {
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (t.size() != 29 || t.substr(3, 2) != ", " || t[7] != ' ' || t[11] != ' ' || t[16] != ' ' || t[19] != ':' ||
      t[22] != ':' || t.substr(25) != " GMT")
    return std::string(t);
  size_t month = kMonths.find(t.substr(8, 3));
  if (month == std::string_view::npos || month % 3 != 0) return std::string(t);
  return fmt::format("{}{:02}{}T{}{}{}Z", t.substr(12, 4), month / 3 + 1, t.substr(5, 2), t.substr(17, 2),
                     t.substr(20, 2), t.substr(23, 2));
}

// The request time of header auth: X-Amz-Date, else Date.
Result<RequestTime> requestTime(const Request& req, std::string_view authHeader) {
  std::string text;
  if (req.hasHeader("x-amz-date"))
    text = core::trim(req.header("x-amz-date"));
  else if (req.hasHeader("date"))
    text = imfToBasic(core::trim(req.header("date")));
  else
    return incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
                      authHeader);
  if (auto t = parseBasic(text)) return *t;
  return fail(Code::kIncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '" + echo(text) +
                                              "'. See http://en.wikipedia.org/wiki/ISO_8601");
}

// `window` is how far back the request time may lie: 5 minutes, or X-Amz-Expires when presigned.
Result<void> checkTime(const RequestTime& t, int64_t now, int64_t window) {
  if (t.epoch > now + kMaxSkewSeconds)
    return fail(Code::kInvalidSignature, "Signature not yet current: " + t.amz + " is still later than " +
                                             amzDate(now + kMaxSkewSeconds) + " (" + amzDate(now) + " + 5 min.)");
  if (t.epoch < now - window) {
    std::string span = window % 60 == 0 ? fmt::format("{} min.", window / 60) : fmt::format("{} sec.", window);
    return fail(Code::kInvalidSignature, "Signature expired: " + t.amz + " is now earlier than " +
                                             amzDate(now - window) + " (" + amzDate(now) + " - " + span + ")");
  }
  return {};
}

// keyid/yyyymmdd/region/service/aws4_request. `header` is echoed in errors ("" for query auth).
Result<void> parseCredential(std::string_view cred, Authorization& out, std::string_view header) {
  auto bad = [&](const std::string& what) { return header.empty() ? queryIncomplete(what) : incomplete(what, header); };
  auto parts = core::split(cred, '/');
  if (parts.size() != 5)
    return bad("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" +
               echo(cred) + "'.");
  if (parts[0].empty()) return bad("Credential should be scoped to a valid access key id, not ''.");
  if (parts[1].size() != 8 || !isDigits(parts[1]))
    return bad("Credential date '" + echo(parts[1]) + "' must be in the format yyyyMMdd.");
  if (parts[2].empty()) return bad("Credential should be scoped to a valid region, not ''.");
  if (parts[3].empty()) return bad("Credential should be scoped to a valid service, not ''.");
  if (parts[4] != "aws4_request")
    return bad("Credential should be scoped with a valid terminator: 'aws4_request', not '" + echo(parts[4]) + "'.");
  out.accessKeyId = parts[0];
  out.date = parts[1];
  out.region = parts[2];
  out.service = parts[3];
  return {};
}

std::vector<std::string> parseSignedHeaders(std::string_view list) {
  std::vector<std::string> names;
  for (auto n : core::split(list, ';'))
    if (!n.empty()) names.push_back(core::toLower(n));
  return names;
}

// RFC 3986 §5.2.4 plus collapsing of repeated slashes, exactly as botocore's remove_dot_segments and
// JS v3's getCanonicalPath do before encoding the path again.
std::string removeDotSegments(std::string_view path) {
  std::vector<std::string_view> kept;
  for (std::string_view seg : core::split(path, '/')) {
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (!kept.empty()) kept.pop_back();
      continue;
    }
    kept.push_back(seg);
  }
  std::string out = path.starts_with('/') ? "/" : "";
  for (size_t i = 0; i < kept.size(); ++i) out.append(i ? "/" : "").append(kept[i]);
  if (path.ends_with('/') && !kept.empty()) out.push_back('/');
  return out;
}

std::string canonicalUri(std::string_view path, std::string_view service) {
  if (path.empty()) return "/";
  if (service == "s3") return std::string(path);
  return core::uriEncode(removeDotSegments(path), true);
}

std::string canonicalQuery(std::string_view query, bool dropSignature) {
  std::vector<std::pair<std::string, std::string>> params;
  for (auto& [name, value] : core::parseQuery(query)) {
    if (dropSignature && name == "X-Amz-Signature") continue;
    params.emplace_back(core::uriEncode(name, false), core::uriEncode(value, false));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) out.append(out.empty() ? "" : "&").append(name).append("=").append(value);
  return out;
}

// Trims and collapses inner runs of spaces and tabs to one space.
std::string canonicalValue(std::string_view v) {
  std::string out;
  bool gap = false;
  for (char c : core::trim(v)) {
    if (c == ' ' || c == '\t') {
      gap = true;
      continue;
    }
    if (gap) out.push_back(' ');
    gap = false;
    out.push_back(c);
  }
  return out;
}

std::string buildCanonical(const Request& req, const std::vector<std::string>& names, std::string_view service,
                           bool dropSignature, std::string_view payloadHash) {
  std::string out =
      req.method + "\n" + canonicalUri(req.path(), service) + "\n" + canonicalQuery(req.query(), dropSignature) + "\n";
  for (const auto& name : names) {
    out.append(name).push_back(':');
    bool first = true;
    for (const auto& [k, v] : req.headers) {
      if (k != name) continue;
      if (!first) out.push_back(',');
      out += canonicalValue(v);
      first = false;
    }
    out.push_back('\n');
  }
  out.push_back('\n');
  for (size_t i = 0; i < names.size(); ++i) out.append(i ? ";" : "").append(names[i]);
  out.append("\n").append(payloadHash);
  return out;
}

std::string scopeOf(const Authorization& a) { return a.date + "/" + a.region + "/" + a.service + "/aws4_request"; }

std::string computeSignature(std::string_view secret, const Authorization& a, std::string_view amz,
                             std::string_view canonical) {
  auto key = signingKey(secret, a.date, a.region, a.service);
  return core::toHex(core::hmacSha256(core::digestBytes(key), stringToSign(amz, scopeOf(a), canonical)));
}

// Timing does not reveal how long a prefix of the client's signature was right.
bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool signsHost(const std::vector<std::string>& names) {
  return std::find(names.begin(), names.end(), "host") != names.end();
}

// Checks shared by both forms once the Authorization is known: key, scope date, time window.
Result<void> checkCaller(const Authorization& a, const Credentials& creds, const RequestTime& t, int64_t now,
                         int64_t window) {
  if (a.accessKeyId != creds.accessKeyId)
    return fail(Code::kUnrecognizedClient, "The security token included in the request is invalid.");
  if (a.date != std::string_view(t.amz).substr(0, 8))
    return fail(Code::kInvalidSignature,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" + a.date +
                    "' != '" + t.amz.substr(0, 8) + "', from '" + t.amz + "'.");
  return checkTime(t, now, window);
}

// The payload hash of header auth. A declared hex hash must be the body's: the signature covers
// only the header, so this is what protects the body.
Result<std::string> payloadHash(const Request& req, std::string_view service) {
  std::string body = hexSha256(req.body);
  if (!req.hasHeader(kContentSha256)) return body;
  std::string_view declared = req.header(kContentSha256);
  if (service == "s3" && (declared == kUnsignedPayload || declared.starts_with("STREAMING-")))
    return std::string(declared);
  if (declared != body)
    return fail(Code::kInvalidSignature,
                "The provided 'x-amz-content-sha256' header does not match what was computed.");
  return body;
}

VerifiedCaller callerOf(const Authorization& a) { return {a.accessKeyId, a.region, a.service}; }

Result<VerifiedCaller> verifyHeader(const Request& req, const Credentials& creds, int64_t now) {
  std::string_view header = req.header("authorization");
  auto auth = parseAuthorization(header);
  if (!auth) return std::unexpected(auth.error());
  auto time = requestTime(req, header);
  if (!time) return std::unexpected(time.error());
  if (!signsHost(auth->signedHeaders))
    return incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.", header);
  if (auto ok = checkCaller(*auth, creds, *time, now, kMaxSkewSeconds); !ok) return std::unexpected(ok.error());
  auto payload = payloadHash(req, auth->service);
  if (!payload) return std::unexpected(payload.error());
  std::string canonical = buildCanonical(req, auth->signedHeaders, auth->service, false, *payload);
  if (!constantTimeEquals(computeSignature(creds.secretAccessKey, *auth, time->amz, canonical), auth->signature))
    return fail(Code::kInvalidSignature, std::string(kMismatch));
  return callerOf(*auth);
}

using QueryParams = std::vector<std::pair<std::string, std::string>>;

const std::string* param(const QueryParams& params, std::string_view name) {
  for (const auto& [k, v] : params)
    if (k == name) return &v;
  return nullptr;
}

Result<VerifiedCaller> verifyPresigned(const Request& req, const QueryParams& params, const Credentials& creds,
                                       int64_t now) {
  for (std::string_view name :
       {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders"})
    if (param(params, name) == nullptr)
      return queryIncomplete("AWS query-string parameters must include '" + std::string(name) + "'.");
  if (*param(params, "X-Amz-Algorithm") != kAlgorithm)
    return queryIncomplete("X-Amz-Algorithm only supports 'AWS4-HMAC-SHA256'.");
  int64_t window = kMaxSkewSeconds;
  if (const std::string* expires = param(params, "X-Amz-Expires")) {
    auto [end, ec] = std::from_chars(expires->data(), expires->data() + expires->size(), window);
    if (ec != std::errc() || end != expires->data() + expires->size() || window < 1 || window > kMaxPresignSeconds)
      return queryIncomplete("X-Amz-Expires must be a number of seconds from 1 to 604800 (one week), got '" +
                             echo(*expires) + "'.");
  }
  Authorization auth;
  if (auto ok = parseCredential(*param(params, "X-Amz-Credential"), auth, ""); !ok) return std::unexpected(ok.error());
  auth.signedHeaders = parseSignedHeaders(*param(params, "X-Amz-SignedHeaders"));
  auth.signature = *param(params, "X-Amz-Signature");
  if (!signsHost(auth.signedHeaders))
    return queryIncomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  auto time = parseBasic(*param(params, "X-Amz-Date"));
  if (!time)
    return queryIncomplete("X-Amz-Date must be in ISO-8601 'basic format', got '" + echo(*param(params, "X-Amz-Date")) +
                           "'.");
  if (auto ok = checkCaller(auth, creds, *time, now, window); !ok) return std::unexpected(ok.error());
  // botocore presigns UNSIGNED-PAYLOAD; JS v3 presigns the body's hash (of "" for a GET).
  for (const std::string& payload : {std::string(kUnsignedPayload), hexSha256(req.body)}) {
    std::string canonical = buildCanonical(req, auth.signedHeaders, auth.service, true, payload);
    if (constantTimeEquals(computeSignature(creds.secretAccessKey, auth, time->amz, canonical), auth.signature))
      return callerOf(auth);
  }
  return fail(Code::kInvalidSignature, std::string(kMismatch));
}

}  // namespace

Result<Authorization> parseAuthorization(std::string_view header) {
  std::string_view h = core::trim(header);
  size_t gap = std::min(h.find_first_of(" \t"), h.size());
  if (h.substr(0, gap) != kAlgorithm)
    return incomplete("Unsupported AWS 'algorithm': '" + echo(h.substr(0, std::min<size_t>(gap, 64))) +
                          "'. Only 'AWS4-HMAC-SHA256' is supported.",
                      header);
  Authorization auth;
  std::optional<std::string_view> credential;
  for (std::string_view part : core::split(h.substr(gap), ',')) {
    part = core::trim(part);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos)
      return incomplete("Invalid key=value pair (missing equal-sign) in Authorization header: '" + echo(part) + "'.",
                        header);
    std::string_view key = core::trim(part.substr(0, eq)), value = core::trim(part.substr(eq + 1));
    if (key == "Credential")
      credential = value;
    else if (key == "SignedHeaders")
      auth.signedHeaders = parseSignedHeaders(value);
    else if (key == "Signature")
      auth.signature = value;
  }
  std::string missing;
  if (!credential || credential->empty()) missing += "Authorization header requires 'Credential' parameter. ";
  if (auth.signature.empty()) missing += "Authorization header requires 'Signature' parameter. ";
  if (auth.signedHeaders.empty()) missing += "Authorization header requires 'SignedHeaders' parameter. ";
  if (!missing.empty()) return fail(Code::kIncompleteSignature, missing + "Authorization=" + echo(header));
  if (auto ok = parseCredential(*credential, auth, header); !ok) return std::unexpected(ok.error());
  return auth;
}

std::string canonicalRequest(const Request& req, const std::vector<std::string>& signedHeaders,
                             std::string_view service) {
  std::string_view declared = req.header(kContentSha256);
  return buildCanonical(req, signedHeaders, service, false,
                        req.hasHeader(kContentSha256) ? std::string(declared) : hexSha256(req.body));
}

std::string stringToSign(std::string_view amzDate, std::string_view scope, std::string_view canonical) {
  return fmt::format("{}\n{}\n{}\n{}", kAlgorithm, amzDate, scope, hexSha256(canonical));
}

core::Digest signingKey(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service) {
  auto kDate = core::hmacSha256("AWS4" + std::string(secret), date);
  auto kRegion = core::hmacSha256(core::digestBytes(kDate), region);
  auto kService = core::hmacSha256(core::digestBytes(kRegion), service);
  return core::hmacSha256(core::digestBytes(kService), "aws4_request");
}

Result<VerifiedCaller> verify(const Request& req, const Credentials& creds, int64_t nowEpochSeconds) {
  if (req.hasHeader("authorization")) return verifyHeader(req, creds, nowEpochSeconds);
  QueryParams params = core::parseQuery(req.query());
  for (std::string_view name : {"X-Amz-Credential", "X-Amz-Signature", "X-Amz-Algorithm"})
    if (param(params, name) != nullptr) return verifyPresigned(req, params, creds, nowEpochSeconds);
  return fail(Code::kMissingAuthenticationToken, "Missing Authentication Token");
}

void sign(Request& req, const Credentials& creds, std::string_view region, std::string_view service,
          int64_t nowEpochSeconds) {
  LAMINA_ASSERT(req.hasHeader("host"));
  std::string date = amzDate(nowEpochSeconds);
  std::string payload = hexSha256(req.body);
  std::erase_if(req.headers, [](const auto& h) {
    return h.first == "x-amz-date" || h.first == kContentSha256 || h.first == "authorization";
  });
  req.headers.emplace_back("x-amz-date", date);
  req.headers.emplace_back(kContentSha256, payload);
  Authorization auth{creds.accessKeyId, date.substr(0, 8), std::string(region), std::string(service), {}, {}};
  for (const auto& [k, v] : req.headers)
    if (k == "host" || k.starts_with("x-amz-")) auth.signedHeaders.push_back(k);
  std::sort(auth.signedHeaders.begin(), auth.signedHeaders.end());
  auth.signedHeaders.erase(std::unique(auth.signedHeaders.begin(), auth.signedHeaders.end()), auth.signedHeaders.end());
  std::string canonical = buildCanonical(req, auth.signedHeaders, service, false, payload);
  std::string signature = computeSignature(creds.secretAccessKey, auth, date, canonical);
  std::string list;
  for (const auto& n : auth.signedHeaders) list.append(list.empty() ? "" : ";").append(n);
  req.headers.emplace_back("authorization", fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}",
                                                        kAlgorithm, creds.accessKeyId, scopeOf(auth), list, signature));
}

}  // namespace lamina::http::sigv4
