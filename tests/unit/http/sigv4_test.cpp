// SigV4: the reference worked vector, golden requests captured from botocore 1.29.27 (Debian's
// python3-botocore) on the wire, sign/verify round trips, and every error verify() reports.
#include "http/sigv4.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "core/crypto.h"
#include "core/strings.h"

namespace lamina::http::sigv4 {

namespace {

const Credentials kCreds{"test", "test"};
constexpr int64_t kNow = 1714558272;  // 20240501T101112Z, the fixed clock of the botocore captures

// An HTTP/1.1 request as our server hands it over: header names lower-cased, values trimmed.
Request fromWire(std::string_view raw) {
  Request req;
  size_t headEnd = raw.find("\r\n\r\n");
  req.body = std::string(raw.substr(headEnd + 4));
  auto lines = core::split(raw.substr(0, headEnd), '\n');
  auto requestLine = core::split(core::trim(lines[0]), ' ');
  req.method = std::string(requestLine[0]);
  req.target = std::string(requestLine[1]);
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = core::trim(lines[i]);
    size_t colon = line.find(':');
    req.headers.emplace_back(core::toLower(line.substr(0, colon)), std::string(core::trim(line.substr(colon + 1))));
  }
  return req;
}

// Captured from botocore: SigV4Auth(test/test, "lambda", "us-east-1") with the clock at kNow, sent
// through botocore's URLLib3Session to a socket (/tmp script, not kept).
constexpr std::string_view kBotocoreInvoke =
    "POST /2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af1/invocations"
    "?Qualifier=live HTTP/1.1\r\n"
    "Host: 127.0.0.1:9001\r\n"
    "Accept-Encoding: identity\r\n"
    "X-Amz-Invocation-Type: RequestResponse\r\n"
    "Content-Type: application/json\r\n"
    "X-Amz-Date: 20240501T101112Z\r\n"
    "Authorization: AWS4-HMAC-SHA256 Credential=test/20240501/us-east-1/lambda/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date;x-amz-invocation-type, "
    "Signature=a93ba625acf99bee98b5816e5647bf089e015b751ae8042373eca4856bbd8b18\r\n"
    "Content-Length: 23\r\n"
    "User-Agent: python-urllib3/1.26.12\r\n"
    "\r\n"
    R"({"hello":"world","n":1})";

// Dot segments, a repeated slash, UTF-8 in path and query, a repeated name and a bare flag.
constexpr std::string_view kBotocoreOddPath =
    "GET /2015-03-31/functions/./a//b/../f%C3%A9?x=a%20b&%C3%A9=%E2%82%AC&x=a&flag HTTP/1.1\r\n"
    "Host: 127.0.0.1:9001\r\n"
    "Accept-Encoding: identity\r\n"
    "X-Amz-Target: x\r\n"
    "X-Amz-Date: 20240501T101112Z\r\n"
    "Authorization: AWS4-HMAC-SHA256 Credential=test/20240501/us-east-1/lambda/aws4_request, "
    "SignedHeaders=host;x-amz-date;x-amz-target, "
    "Signature=ea9acbb4b6965386df0176b0a5763976eaf659a03e73aac31f12789429847fed\r\n"
    "User-Agent: python-urllib3/1.26.12\r\n"
    "\r\n";

// S3SigV4Auth: path signed as sent, x-amz-content-sha256 present.
constexpr std::string_view kBotocoreS3Put =
    "PUT /bucket/some%20key%2Bplus.txt HTTP/1.1\r\n"
    "Host: 127.0.0.1:9001\r\n"
    "Accept-Encoding: identity\r\n"
    "Content-Type: text/plain\r\n"
    "X-Amz-Date: 20240501T101112Z\r\n"
    "X-Amz-Content-SHA256: f2ff189a4ef686231302becc266e6c8d5eee814b868d11631f7660073fc9b613\r\n"
    "Authorization: AWS4-HMAC-SHA256 Credential=test/20240501/us-east-1/s3/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, "
    "Signature=2f25cbefad5539f3c242e18bfc43715bde439ef05e7e5e8c11e9ab3d2fd67823\r\n"
    "Content-Length: 8\r\n"
    "User-Agent: python-urllib3/1.26.12\r\n"
    "\r\n"
    "hello s3";

// SigV4QueryAuth(expires=600) of GET .../f1?Qualifier=live&a=x%20y.
constexpr std::string_view kBotocorePresigned =
    "GET /2015-03-31/functions/f1?Qualifier=live&a=x%20y&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=test%2F20240501%2Fus-east-1%2Flambda%2Faws4_request&X-Amz-Date=20240501T101112Z"
    "&X-Amz-Expires=600&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=d4847e024873e4481ae7bff4f285336adbf93a85886514a0550b7268bfe87118 HTTP/1.1\r\n"
    "Host: 127.0.0.1:9001\r\n"
    "Accept-Encoding: identity\r\n"
    "User-Agent: python-urllib3/1.26.12\r\n"
    "\r\n";

void setHeader(Request& req, const std::string& name, std::string value) {
  for (auto& [k, v] : req.headers)
    if (k == name) v = std::move(value);
}

Code codeOf(const Result<VerifiedCaller>& r) { return r ? Code::kInternal : r.error().code(); }
std::string messageOf(const Result<VerifiedCaller>& r) { return r ? "(verified)" : r.error().message(); }

}  // namespace

// reference/lambda-control-api.md §13, computed with botocore 1.29.27.
TEST(SigV4, ReproducesReferenceWorkedVector) {
  Request req;
  req.method = "POST";
  req.target =
      "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn/"
      "invocations?Qualifier=live";
  req.headers = {{"host", "lambda.us-east-1.amazonaws.com"},
                 {"x-amz-date", "20150830T123600Z"},
                 {"x-amz-invocation-type", "RequestResponse"}};
  req.body = R"({"k":"v"})";
  std::string canonical = canonicalRequest(req, {"host", "x-amz-date", "x-amz-invocation-type"}, "lambda");
  EXPECT_EQ(canonical,
            "POST\n"
            "/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A123456789012%253Afunction%253Amy-fn/"
            "invocations\n"
            "Qualifier=live\n"
            "host:lambda.us-east-1.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n"
            "x-amz-invocation-type:RequestResponse\n"
            "\n"
            "host;x-amz-date;x-amz-invocation-type\n"
            "666c1aa02e8068c6d5cc1d3295009432c16790bec28ec8ce119d0d1a18d61319");
  std::string sts = stringToSign("20150830T123600Z", "20150830/us-east-1/lambda/aws4_request", canonical);
  EXPECT_EQ(sts,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/lambda/aws4_request\n"
            "1263400f38ed86d8cb3b12725842fd4181f56c5b61d2fcae31ab904c6c87ad11");
  auto key = signingKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "lambda");
  EXPECT_EQ(core::toHex(key), "3106a83fe4d44212160af579a59cf1055851bea14b6ce0713413fb777d6ff7ed");
  EXPECT_EQ(core::toHex(core::hmacSha256(core::digestBytes(key), sts)),
            "9e067be5b701b7690e92558f53317db3d7f6e9edf926d8c3bbfaed8525bbd230");

  req.headers.emplace_back("authorization",
                           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request, "
                           "SignedHeaders=host;x-amz-date;x-amz-invocation-type, "
                           "Signature=9e067be5b701b7690e92558f53317db3d7f6e9edf926d8c3bbfaed8525bbd230");
  auto ok = verify(req, {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}, 1440938160 + 60);
  ASSERT_TRUE(ok) << messageOf(ok);
  EXPECT_EQ(ok->accessKeyId, "AKIDEXAMPLE");
  EXPECT_EQ(ok->region, "us-east-1");
  EXPECT_EQ(ok->service, "lambda");
}

TEST(SigV4, VerifiesBotocoreInvokeFromTheWire) {
  Request req = fromWire(kBotocoreInvoke);
  auto auth = parseAuthorization(req.header("authorization"));
  ASSERT_TRUE(auth) << auth.error().message();
  // botocore's own SigV4Auth.canonical_request / string_to_sign output for this request.
  std::string canonical = canonicalRequest(req, auth->signedHeaders, "lambda");
  EXPECT_EQ(canonical,
            "POST\n"
            "/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A000000000000%253Afunction%253Af1/"
            "invocations\n"
            "Qualifier=live\n"
            "content-type:application/json\n"
            "host:127.0.0.1:9001\n"
            "x-amz-date:20240501T101112Z\n"
            "x-amz-invocation-type:RequestResponse\n"
            "\n"
            "content-type;host;x-amz-date;x-amz-invocation-type\n"
            "32b769982a3a6e2df120530b06dcbaf1e8f75e004ceea92ac3e91bd7a248d728");
  EXPECT_EQ(stringToSign("20240501T101112Z", "20240501/us-east-1/lambda/aws4_request", canonical),
            "AWS4-HMAC-SHA256\n20240501T101112Z\n20240501/us-east-1/lambda/aws4_request\n"
            "41a0e46773ea1e8cc80ef51c1f356341ef792918808aad9da5c420a7186d622a");
  auto ok = verify(req, kCreds, kNow);
  ASSERT_TRUE(ok) << messageOf(ok);
  EXPECT_EQ(ok->accessKeyId, "test");
  EXPECT_EQ(ok->region, "us-east-1");
  EXPECT_EQ(ok->service, "lambda");
  EXPECT_TRUE(verify(req, kCreds, kNow + 300));
  EXPECT_TRUE(verify(req, kCreds, kNow - 300));

  Request body = req;
  body.body = R"({"hello":"World","n":1})";
  EXPECT_EQ(codeOf(verify(body, kCreds, kNow)), Code::kInvalidSignature);
  Request unsignedHeaderChanged = req;
  setHeader(unsignedHeaderChanged, "user-agent", "curl/8");
  EXPECT_TRUE(verify(unsignedHeaderChanged, kCreds, kNow));
}

TEST(SigV4, VerifiesBotocoreDotSegmentsUnicodeAndRepeatedQuery) {
  Request req = fromWire(kBotocoreOddPath);
  EXPECT_EQ(canonicalRequest(req, {"host", "x-amz-date", "x-amz-target"}, "lambda"),
            "GET\n"
            "/2015-03-31/functions/a/f%25C3%25A9\n"
            "%C3%A9=%E2%82%AC&flag=&x=a&x=a%20b\n"
            "host:127.0.0.1:9001\n"
            "x-amz-date:20240501T101112Z\n"
            "x-amz-target:x\n"
            "\n"
            "host;x-amz-date;x-amz-target\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auto ok = verify(req, kCreds, kNow);
  EXPECT_TRUE(ok) << messageOf(ok);
}

TEST(SigV4, VerifiesBotocoreS3PathAsSent) {
  Request req = fromWire(kBotocoreS3Put);
  std::string canonical = canonicalRequest(req, {"host"}, "s3");
  EXPECT_EQ(canonical.substr(0, canonical.find('\n', 4) + 1), "PUT\n/bucket/some%20key%2Bplus.txt\n");
  auto ok = verify(req, kCreds, kNow);
  ASSERT_TRUE(ok) << messageOf(ok);
  EXPECT_EQ(ok->service, "s3");
  Request body = req;
  body.body = "hello S3";
  auto r = verify(body, kCreds, kNow);
  EXPECT_EQ(codeOf(r), Code::kInvalidSignature);
  EXPECT_EQ(messageOf(r), "The provided 'x-amz-content-sha256' header does not match what was computed.");
}

TEST(SigV4, VerifiesBotocorePresignedUrl) {
  Request req = fromWire(kBotocorePresigned);
  auto ok = verify(req, kCreds, kNow + 599);
  ASSERT_TRUE(ok) << messageOf(ok);
  EXPECT_EQ(ok->service, "lambda");
  auto late = verify(req, kCreds, kNow + 601);
  EXPECT_EQ(codeOf(late), Code::kInvalidSignature);
  EXPECT_EQ(messageOf(late),
            "Signature expired: 20240501T101112Z is now earlier than 20240501T101113Z (20240501T102113Z - 10 min.)");
  Request tampered = req;
  tampered.target.replace(tampered.target.find("live"), 4, "dead");
  EXPECT_EQ(codeOf(verify(tampered, kCreds, kNow)), Code::kInvalidSignature);
  EXPECT_EQ(codeOf(verify(req, {"other", "test"}, kNow)), Code::kUnrecognizedClient);
}

// @smithy/signature-v4 (the signer of AWS SDK for JavaScript v3) with signingDate at kNow: it signs
// x-amz-content-sha256 and its amz-sdk-* headers, and presigns a bodyless GET with the hash of "".
TEST(SigV4, VerifiesJavaScriptV3Signatures) {
  Request post;
  post.method = "POST";
  post.target = "/2015-03-31/functions/f1/invocations";
  post.headers = {{"host", "127.0.0.1:9001"},
                  {"content-type", "application/json"},
                  {"amz-sdk-invocation-id", "11111111-2222-3333-4444-555555555555"},
                  {"amz-sdk-request", "attempt=1; max=3"},
                  {"x-amz-date", "20240501T101112Z"},
                  {"x-amz-content-sha256", "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"},
                  {"authorization",
                   "AWS4-HMAC-SHA256 Credential=test/20240501/us-east-1/lambda/aws4_request, "
                   "SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-type;host;x-amz-content-sha256;"
                   "x-amz-date, Signature=23996a90da5b9354dec6bc63b027486dc99cb251052f1977e1fa32105a602c14"}};
  post.body = R"({"a":1})";
  auto ok = verify(post, kCreds, kNow);
  EXPECT_TRUE(ok) << messageOf(ok);

  Request presigned;
  presigned.method = "GET";
  presigned.target =
      "/2015-03-31/functions/?MaxItems=5&X-Amz-Algorithm=AWS4-HMAC-SHA256"
      "&X-Amz-Credential=test%2F20240501%2Fus-east-1%2Flambda%2Faws4_request&X-Amz-Date=20240501T101112Z"
      "&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
      "&X-Amz-Signature=1e68be55a0a64a06d33bb7e76ce3610b37a219691ecbdca8de685ed4121ef40e";
  presigned.headers = {{"host", "127.0.0.1:9001"}};
  ok = verify(presigned, kCreds, kNow + 30);
  EXPECT_TRUE(ok) << messageOf(ok);
}

TEST(SigV4, SignThenVerifyRoundTrips) {
  for (std::string_view service : {"lambda", "s3", "logs"}) {
    Request req;
    req.method = "POST";
    req.target = "/2015-03-31/functions/my%3Afn/invocations?b=a%20b%2Bc&name=%E2%82%AC&name=%C3%A9&name=a&flag&x=a+b";
    req.headers = {
        {"host", "127.0.0.1:9001"}, {"x-amz-invocation-type", "  Event   now "}, {"content-type", "application/json"}};
    req.body = R"({"emoji":"é€"})";
    sign(req, kCreds, "eu-west-1", service, kNow);
    auto ok = verify(req, kCreds, kNow + 10);
    ASSERT_TRUE(ok) << service << ": " << messageOf(ok);
    EXPECT_EQ(ok->region, "eu-west-1");
    EXPECT_EQ(ok->service, service);
    auto auth = parseAuthorization(req.header("authorization"));
    ASSERT_TRUE(auth);
    EXPECT_EQ(auth->signedHeaders,
              (std::vector<std::string>{"host", "x-amz-content-sha256", "x-amz-date", "x-amz-invocation-type"}));
  }
}

TEST(SigV4, SigningAgainReplacesTheOldHeaders) {
  Request req;
  req.method = "GET";
  req.target = "/2015-03-31/functions";
  req.headers = {{"host", "h"}};
  sign(req, kCreds, "us-east-1", "lambda", kNow - 1000);
  sign(req, kCreds, "us-east-1", "lambda", kNow);
  EXPECT_EQ(req.headers.size(), 4u);
  EXPECT_EQ(req.header("x-amz-date"), "20240501T101112Z");
  EXPECT_EQ(req.header("x-amz-content-sha256"), core::toHex(core::sha256("")));
  EXPECT_TRUE(verify(req, kCreds, kNow));
}

TEST(SigV4, TamperingIsDetected) {
  Request req;
  req.method = "POST";
  req.target = "/2015-03-31/functions/f/invocations?Qualifier=1";
  req.headers = {{"host", "127.0.0.1:9001"}, {"x-amz-invocation-type", "Event"}};
  req.body = "{}";
  sign(req, kCreds, "us-east-1", "lambda", kNow);
  ASSERT_TRUE(verify(req, kCreds, kNow));
  const std::string mismatch =
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
      "Key and signing method. Consult the service documentation for details.";

  Request body = req;
  body.body = "{\"x\":1}";
  EXPECT_EQ(codeOf(verify(body, kCreds, kNow)), Code::kInvalidSignature);
  Request bodyAndHash = body;
  setHeader(bodyAndHash, "x-amz-content-sha256", core::toHex(core::sha256(body.body)));
  EXPECT_EQ(messageOf(verify(bodyAndHash, kCreds, kNow)), mismatch);
  Request header = req;
  setHeader(header, "x-amz-invocation-type", "RequestResponse");
  EXPECT_EQ(messageOf(verify(header, kCreds, kNow)), mismatch);
  Request path = req;
  path.target = "/2015-03-31/functions/g/invocations?Qualifier=1";
  EXPECT_EQ(messageOf(verify(path, kCreds, kNow)), mismatch);
  Request query = req;
  query.target = "/2015-03-31/functions/f/invocations?Qualifier=2";
  EXPECT_EQ(messageOf(verify(query, kCreds, kNow)), mismatch);
  Request method = req;
  method.method = "PUT";
  EXPECT_EQ(codeOf(verify(method, kCreds, kNow)), Code::kInvalidSignature);
  Request droppedSignedHeader = req;
  std::erase_if(droppedSignedHeader.headers, [](const auto& h) { return h.first == "x-amz-invocation-type"; });
  EXPECT_EQ(messageOf(verify(droppedSignedHeader, kCreds, kNow)), mismatch);
  EXPECT_EQ(messageOf(verify(req, {"test", "wrong"}, kNow)), mismatch);
  // Only s3 may leave its payload unsigned.
  Request unsignedPayload = req;
  setHeader(unsignedPayload, "x-amz-content-sha256", "UNSIGNED-PAYLOAD");
  EXPECT_EQ(codeOf(verify(unsignedPayload, kCreds, kNow)), Code::kInvalidSignature);
}

TEST(SigV4, UnknownAccessKeyIsUnrecognized) {
  Request req = fromWire(kBotocoreInvoke);
  auto r = verify(req, {"AKIDOTHER", "test"}, kNow);
  EXPECT_EQ(codeOf(r), Code::kUnrecognizedClient);
  EXPECT_EQ(messageOf(r), "The security token included in the request is invalid.");
  EXPECT_EQ(httpStatus(Code::kUnrecognizedClient), 403);
}

TEST(SigV4, ClockSkewBeyondFiveMinutesIsRejected) {
  Request req = fromWire(kBotocoreInvoke);
  auto late = verify(req, kCreds, kNow + 6 * 60);
  EXPECT_EQ(codeOf(late), Code::kInvalidSignature);
  EXPECT_EQ(messageOf(late),
            "Signature expired: 20240501T101112Z is now earlier than 20240501T101212Z (20240501T101712Z - 5 min.)");
  auto early = verify(req, kCreds, kNow - 6 * 60);
  EXPECT_EQ(codeOf(early), Code::kInvalidSignature);
  EXPECT_EQ(messageOf(early),
            "Signature not yet current: 20240501T101112Z is still later than 20240501T101012Z (20240501T100512Z + 5 "
            "min.)");
}

TEST(SigV4, DateHeaderServesWhenXAmzDateIsAbsent) {
  Request req;
  req.method = "GET";
  req.target = "/2015-03-31/functions";
  req.headers = {{"host", "h"}, {"date", "Wed, 01 May 2024 10:11:12 GMT"}};
  std::string canonical = canonicalRequest(req, {"date", "host"}, "lambda");
  auto key = signingKey("test", "20240501", "us-east-1", "lambda");
  std::string sts = stringToSign("20240501T101112Z", "20240501/us-east-1/lambda/aws4_request", canonical);
  req.headers.emplace_back("authorization",
                           "AWS4-HMAC-SHA256 Credential=test/20240501/us-east-1/lambda/aws4_request, "
                           "SignedHeaders=date;host, Signature=" +
                               core::toHex(core::hmacSha256(core::digestBytes(key), sts)));
  auto ok = verify(req, kCreds, kNow);
  EXPECT_TRUE(ok) << messageOf(ok);
  EXPECT_NE(messageOf(verify(req, kCreds, kNow + 400)).find("Signature expired"), std::string::npos);
}

TEST(SigV4, MissingAuthenticationToken) {
  Request req;
  req.method = "GET";
  req.target = "/2015-03-31/functions?Marker=x";
  req.headers = {{"host", "h"}};
  auto r = verify(req, kCreds, kNow);
  EXPECT_EQ(codeOf(r), Code::kMissingAuthenticationToken);
  EXPECT_EQ(messageOf(r), "Missing Authentication Token");
  EXPECT_EQ(httpStatus(Code::kMissingAuthenticationToken), 403);
}

TEST(SigV4, MalformedAuthorizationIsIncomplete) {
  for (std::string_view garbage : {"", "Bearer xyz", "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential",
                                   "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00",
                                   "AWS4-HMAC-SHA256 Credential=test/2024/us-east-1/lambda/aws4_request, "
                                   "SignedHeaders=host, Signature=00",
                                   "AWS4-HMAC-SHA256 Credential=test/20240501/us-east-1/lambda/aws5_request, "
                                   "SignedHeaders=host, Signature=00",
                                   "AWS4-HMAC-SHA256 Credential=test/20240501//lambda/aws4_request, "
                                   "SignedHeaders=host, Signature=00",
                                   "\xff\xfe\x01"}) {
    Request req;
    req.method = "GET";
    req.target = "/";
    req.headers = {{"host", "h"}, {"x-amz-date", "20240501T101112Z"}, {"authorization", std::string(garbage)}};
    auto r = verify(req, kCreds, kNow);
    EXPECT_EQ(codeOf(r), Code::kIncompleteSignature) << garbage;
    EXPECT_NE(messageOf(r).find("Authorization="), std::string::npos) << messageOf(r);
  }
  auto r = parseAuthorization("AWS4-HMAC-SHA256 Credential=test/20240501/us-east-1/lambda/aws4_request");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' "
            "parameter. Authorization=AWS4-HMAC-SHA256 Credential=test/20240501/us-east-1/lambda/aws4_request");
}

TEST(SigV4, ParsesAuthorizationFields) {
  auto a = parseAuthorization(
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request,SignedHeaders=Host;X-Amz-Date,"
      "Signature=9e06");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->accessKeyId, "AKIDEXAMPLE");
  EXPECT_EQ(a->date, "20150830");
  EXPECT_EQ(a->region, "us-east-1");
  EXPECT_EQ(a->service, "lambda");
  EXPECT_EQ(a->signedHeaders, (std::vector<std::string>{"host", "x-amz-date"}));
  EXPECT_EQ(a->signature, "9e06");
}

TEST(SigV4, RequestDateAndScopeRules) {
  Request req = fromWire(kBotocoreInvoke);
  Request noDate = req;
  std::erase_if(noDate.headers, [](const auto& h) { return h.first == "x-amz-date"; });
  auto r = verify(noDate, kCreds, kNow);
  EXPECT_EQ(codeOf(r), Code::kIncompleteSignature);
  EXPECT_NE(messageOf(r).find("requires existence of either a 'X-Amz-Date' or a 'Date' header"), std::string::npos);
  Request badDate = req;
  setHeader(badDate, "x-amz-date", "2024-05-01T10:11:12Z");
  EXPECT_EQ(codeOf(verify(badDate, kCreds, kNow)), Code::kIncompleteSignature);
  Request otherDay = req;
  setHeader(otherDay, "x-amz-date", "20240502T000000Z");
  auto scope = verify(otherDay, kCreds, 1714608000);
  EXPECT_EQ(codeOf(scope), Code::kInvalidSignature);
  EXPECT_NE(messageOf(scope).find("'20240501' != '20240502'"), std::string::npos) << messageOf(scope);
  Request hostless = req;
  setHeader(hostless, "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20240501/us-east-1/lambda/aws4_request, SignedHeaders=x-amz-date, "
            "Signature=00");
  EXPECT_EQ(codeOf(verify(hostless, kCreds, kNow)), Code::kIncompleteSignature);
}

namespace {

// A presigned GET in the shape botocore's SigV4QueryAuth produces, signed with the public pieces.
Request presign(std::string_view query, std::string_view expires) {
  Request req;
  req.method = "GET";
  req.headers = {{"host", "127.0.0.1:9001"}};
  req.target = "/2015-03-31/functions/f%3A1?" + std::string(query) +
               "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20240501%2Fus-east-1%2Flambda%2Faws4_request"
               "&X-Amz-Date=20240501T101112Z&X-Amz-Expires=" +
               std::string(expires) + "&X-Amz-SignedHeaders=host";
  std::string canonical = canonicalRequest(req, {"host"}, "lambda");
  canonical = canonical.substr(0, canonical.rfind('\n') + 1) + "UNSIGNED-PAYLOAD";
  std::string sts = stringToSign("20240501T101112Z", "20240501/us-east-1/lambda/aws4_request", canonical);
  auto key = signingKey("test", "20240501", "us-east-1", "lambda");
  req.target += "&X-Amz-Signature=" + core::toHex(core::hmacSha256(core::digestBytes(key), sts));
  return req;
}

}  // namespace

TEST(SigV4, PresignedUrlRoundTrips) {
  Request req = presign("Qualifier=a%20b&x=%E2%82%AC&x=1", "120");
  auto ok = verify(req, kCreds, kNow + 119);
  ASSERT_TRUE(ok) << messageOf(ok);
  EXPECT_EQ(ok->region, "us-east-1");
  EXPECT_EQ(messageOf(verify(req, kCreds, kNow + 121)),
            "Signature expired: 20240501T101112Z is now earlier than 20240501T101113Z (20240501T101313Z - 2 min.)");
  EXPECT_EQ(codeOf(verify(req, kCreds, kNow - 301)), Code::kInvalidSignature);
  Request tampered = req;
  tampered.target.replace(tampered.target.find("x=1"), 3, "x=2");
  EXPECT_EQ(codeOf(verify(tampered, kCreds, kNow)), Code::kInvalidSignature);
  for (std::string_view expires : {"0", "604801", "ten", "-5"})
    EXPECT_EQ(codeOf(verify(presign("a=1", expires), kCreds, kNow)), Code::kIncompleteSignature) << expires;
  Request partial;
  partial.method = "GET";
  partial.target = "/?X-Amz-Signature=00";
  partial.headers = {{"host", "h"}};
  auto r = verify(partial, kCreds, kNow);
  EXPECT_EQ(codeOf(r), Code::kIncompleteSignature);
  EXPECT_EQ(messageOf(r),
            "AWS query-string parameters must include 'X-Amz-Algorithm'. Re-examine the query-string parameters.");
}

}  // namespace lamina::http::sigv4
