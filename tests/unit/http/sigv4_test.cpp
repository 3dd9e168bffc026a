#include "http/sigv4.h"

#include <gtest/gtest.h>

#include "core/crypto.h"

namespace lamina::http::sigv4 {

namespace {

constexpr int64_t kVectorTime = 1440938160;  // 20150830T123600Z

Request vectorRequest() {
  Request req;
  req.method = "POST";
  req.target =
      "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn/invocations?Qualifier=live";
  req.headers = {{"host", "lambda.us-east-1.amazonaws.com"},
                 {"x-amz-date", "20150830T123600Z"},
                 {"x-amz-invocation-type", "RequestResponse"}};
  req.body = R"({"k":"v"})";
  return req;
}

}  // namespace

// The worked vector of reference/lambda-control-api.md §13, computed with botocore 1.29.27.
TEST(SigV4, ReproducesBotocoreWorkedVector) {
  Request req = vectorRequest();
  std::vector<std::string> names = {"host", "x-amz-date", "x-amz-invocation-type"};
  std::string canonical = canonicalRequest(req, names, "lambda");
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
  EXPECT_EQ(sts.substr(sts.rfind('\n') + 1), "1263400f38ed86d8cb3b12725842fd4181f56c5b61d2fcae31ab904c6c87ad11");
  auto key = signingKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "lambda");
  EXPECT_EQ(core::toHex(key), "3106a83fe4d44212160af579a59cf1055851bea14b6ce0713413fb777d6ff7ed");
  EXPECT_EQ(core::toHex(core::hmacSha256(core::digestBytes(key), sts)),
            "9e067be5b701b7690e92558f53317db3d7f6e9edf926d8c3bbfaed8525bbd230");

  req.headers.emplace_back("authorization",
                           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request, "
                           "SignedHeaders=host;x-amz-date;x-amz-invocation-type, "
                           "Signature=9e067be5b701b7690e92558f53317db3d7f6e9edf926d8c3bbfaed8525bbd230");
  auto ok = verify(req, {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}, kVectorTime + 60);
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(ok->region, "us-east-1");
  EXPECT_EQ(ok->service, "lambda");
}

TEST(SigV4, SignThenVerifyRoundTrips) {
  for (std::string_view service : {"lambda", "logs", "s3"}) {
    Request req;
    req.method = "GET";
    req.target = "/a%20b/c?z=1&a=x%20y&a=b&empty=";
    req.headers = {{"host", "127.0.0.1:9001"}, {"x-amz-target", "Logs_20140328.X"}};
    sign(req, {"test", "test"}, "eu-west-1", service, kVectorTime);
    auto ok = verify(req, {"test", "test"}, kVectorTime);
    ASSERT_TRUE(ok.has_value()) << service << ": " << ok.error().message();
    EXPECT_EQ(ok->region, "eu-west-1");
  }
}

TEST(SigV4, TamperingIsDetected) {
  Request req;
  req.method = "POST";
  req.target = "/2015-03-31/functions/f/invocations";
  req.headers = {{"host", "127.0.0.1:9001"}};
  req.body = "{}";
  sign(req, {"test", "test"}, "us-east-1", "lambda", kVectorTime);
  Request body = req;
  body.body = "{\"x\":1}";
  // The signed x-amz-content-sha256 still claims the old body: a different path must fail.
  Request path = req;
  path.target = "/2015-03-31/functions/g/invocations";
  auto r = verify(path, {"test", "test"}, kVectorTime);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kInvalidSignature);
  auto wrongSecret = verify(req, {"test", "other"}, kVectorTime);
  ASSERT_FALSE(wrongSecret.has_value());
  EXPECT_EQ(wrongSecret.error().code(), Code::kInvalidSignature);
  auto wrongKey = verify(req, {"someone", "test"}, kVectorTime);
  ASSERT_FALSE(wrongKey.has_value());
  EXPECT_EQ(wrongKey.error().code(), Code::kUnrecognizedClient);
}

TEST(SigV4, SkewAndMissingAndGarbage) {
  Request req;
  req.method = "GET";
  req.target = "/";
  req.headers = {{"host", "h"}};
  sign(req, {"test", "test"}, "us-east-1", "lambda", kVectorTime);
  auto late = verify(req, {"test", "test"}, kVectorTime + 6 * 60);
  ASSERT_FALSE(late.has_value());
  EXPECT_NE(late.error().message().find("Signature expired"), std::string::npos);

  Request none;
  none.method = "GET";
  none.target = "/";
  EXPECT_EQ(verify(none, {"test", "test"}, kVectorTime).error().code(), Code::kMissingAuthenticationToken);

  Request garbage = none;
  garbage.headers = {{"authorization", "Bearer xyz"}};
  EXPECT_EQ(verify(garbage, {"test", "test"}, kVectorTime).error().code(), Code::kIncompleteSignature);
  garbage.headers = {{"authorization", "AWS4-HMAC-SHA256 Credential=a/b"}, {"x-amz-date", "20150830T123600Z"}};
  EXPECT_EQ(verify(garbage, {"test", "test"}, kVectorTime).error().code(), Code::kIncompleteSignature);
}

}  // namespace lamina::http::sigv4
