// AWS Signature Version 4: verification of incoming requests (the edge verifies every request
// against the daemon's one key pair) and signing (the CLI and the benchmark). Pure functions,
// thread-safe.
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

// "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/lambda/aws4_request, SignedHeaders=a;b, Signature=hex"
struct Authorization {
  std::string accessKeyId, date, region, service;
  std::vector<std::string> signedHeaders;
  std::string signature;
};

// Malformed → kIncompleteSignature.
Result<Authorization> parseAuthorization(std::string_view header);

// The canonical request of AWS's algorithm. For every service but "s3" the path is URI-encoded a
// second time (%3A becomes %253A), as the SDKs do.
std::string canonicalRequest(const Request& req, const std::vector<std::string>& signedHeaders,
                             std::string_view service);
std::string stringToSign(std::string_view amzDate, std::string_view scope, std::string_view canonicalRequest);
core::Digest signingKey(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service);

struct VerifiedCaller {
  std::string accessKeyId, region, service;
};

// Verifies `req` (Authorization header or presigned query) against `creds`, allowing ±5 minutes of
// clock skew. 403 errors: kMissingAuthenticationToken, kIncompleteSignature, kUnrecognizedClient,
// kInvalidSignature — with AWS's messages.
Result<VerifiedCaller> verify(const Request& req, const Credentials& creds, int64_t nowEpochSeconds);

// Signs a client request: sets x-amz-date, x-amz-content-sha256 and authorization, signing host,
// those two and any other x-amz-* header present. The host header must already be set.
void sign(Request& req, const Credentials& creds, std::string_view region, std::string_view service,
          int64_t nowEpochSeconds);

}  // namespace lamina::http::sigv4
