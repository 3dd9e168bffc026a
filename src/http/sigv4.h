// AWS Signature Version 4 (reference/lambda-control-api.md §13): verification of incoming requests
// (the edge checks every request against the daemon's one key pair) and signing (the CLI and the
// benchmark). Pure functions of their arguments — the clock comes in as `nowEpochSeconds` — so every
// function is thread-safe and deterministic.
//
// Canonicalisation follows the SDKs byte for byte (tests pin botocore 1.29's output):
//  - URI: for every service but "s3" the raw path has its dot segments and repeated slashes removed
//    and is then URI-encoded again (%3A becomes %253A); "s3" uses the path exactly as sent.
//  - Query: each name and value decoded from the raw query ('+' read as a space), re-encoded per
//    RFC 3986 (space is %20), sorted by name then value; `name=` for a parameter without value.
//  - Headers: only the declared signed ones, value trimmed with inner space runs collapsed, repeated
//    headers joined with ','.
//  - Payload: the x-amz-content-sha256 value if present, else hex SHA-256 of the body.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto.h"
#include "core/result.h"
#include "http/message.h"

namespace lamina::http::sigv4 {

struct Credentials {
  std::string accessKeyId;
  std::string secretAccessKey;
};

// A parsed "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/lambda/aws4_request,
// SignedHeaders=a;b, Signature=hex". `date` is the scope's yyyymmdd; signedHeaders are lower-cased
// and kept in the client's order (the canonical request lists them exactly as declared).
struct Authorization {
  std::string accessKeyId, date, region, service;
  std::vector<std::string> signedHeaders;
  std::string signature;
};

// Parses an Authorization header. Malformed → kIncompleteSignature with AWS's wording ("Authorization
// header requires 'Credential' parameter. ... Authorization=<header>"). Never fails on long or binary
// input; at most 512 bytes of the header are echoed in the message.
Result<Authorization> parseAuthorization(std::string_view header);

// The canonical request (step 1 of the algorithm) of `req` for header auth, with `signedHeaders`
// lower-case and in the order they are to be listed.
std::string canonicalRequest(const Request& req, const std::vector<std::string>& signedHeaders,
                             std::string_view service);
// "AWS4-HMAC-SHA256\n<amzDate>\n<scope>\n<hex sha256 of canonicalRequest>"; scope is
// "<yyyymmdd>/<region>/<service>/aws4_request".
std::string stringToSign(std::string_view amzDate, std::string_view scope, std::string_view canonicalRequest);
// kSigning = HMAC chain over "AWS4"+secret, date, region, service, "aws4_request".
core::Digest signingKey(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service);

struct VerifiedCaller {
  std::string accessKeyId, region, service;
};

// Verifies `req` against the single key pair `creds`, by its Authorization header or, when that is
// absent, by presigned query parameters (X-Amz-Algorithm, -Credential, -Date, -Expires,
// -SignedHeaders, -Signature; payload UNSIGNED-PAYLOAD, or the body's hash as JS v3 presigns it).
// The request time is X-Amz-Date, else the Date header (ISO 8601 basic or RFC 7231 IMF-fixdate) and
// may differ from `nowEpochSeconds` by at most 5 minutes; a presigned URL is good from then until
// X-Amz-Expires (1..604800 s) seconds later. A hex x-amz-content-sha256 must match the body;
// UNSIGNED-PAYLOAD and STREAMING-* are accepted for "s3" only (chunk signatures are not checked).
// `host` must be signed. Signatures are compared in constant time. Every error is a 403:
//  - kMissingAuthenticationToken "Missing Authentication Token": no Authorization header and no
//    X-Amz-Credential/-Signature/-Algorithm query parameter;
//  - kIncompleteSignature: malformed header or query parameters, no usable date, host not signed;
//  - kUnrecognizedClient "The security token included in the request is invalid.": other key id;
//  - kInvalidSignature: "Signature expired: <date> is now earlier than <now-5min> (<now> - 5 min.)",
//    "Signature not yet current: <date> is still later than <now+5min> (<now> + 5 min.)", a scope
//    date other than the request date, a body that does not match x-amz-content-sha256, or
//    "The request signature we calculated does not match the signature you provided. ...".
// The caller decides whether the returned region and service are ones it serves.
Result<VerifiedCaller> verify(const Request& req, const Credentials& creds, int64_t nowEpochSeconds);

// Signs a client request in place: sets (replacing any earlier value) x-amz-date,
// x-amz-content-sha256 (hex SHA-256 of the body) and authorization, signing host, those two and
// every other x-amz-* header present. Precondition: req.headers holds a lower-case "host" and all
// header names are lower-case.
void sign(Request& req, const Credentials& creds, std::string_view region, std::string_view service,
          int64_t nowEpochSeconds);

}  // namespace lamina::http::sigv4
