#include "api/function_record.h"

#include <gtest/gtest.h>

namespace lamina::api {

TEST(FunctionRecord, StorageRoundTripKeepsEveryField) {
  FunctionRecord r;
  r.name = "hello";
  r.region = "eu-west-1";
  r.runtime = "provided.al2023";
  r.role = "arn:aws:iam::000000000000:role/x";
  r.handler = "bootstrap";
  r.timeout = 9;
  r.memorySize = 512;
  r.variables = {{"A", "1"}};
  r.codeSha256Hex = std::string(64, 'a');
  r.codeSha256Base64 = "qqqq";
  r.codeSize = 123;
  r.lastModifiedMs = 1565821571234;
  r.revisionId = "rev";
  r.tags = {{"team", "x"}};
  auto back = FunctionRecord::fromStorage(r.toStorage()).value();
  EXPECT_EQ(back.arn(), "arn:aws:lambda:eu-west-1:000000000000:function:hello");
  EXPECT_EQ(back.timeout, 9);
  EXPECT_EQ(back.memorySize, 512);
  EXPECT_EQ(back.variables, r.variables);
  EXPECT_EQ(back.codeSha256Hex, r.codeSha256Hex);
  EXPECT_EQ(back.tags, r.tags);
  EXPECT_EQ(back.lastModifiedMs, r.lastModifiedMs);
}

TEST(FunctionRecord, ConfigurationHasLambdaShape) {
  FunctionRecord r;
  r.name = "f";
  r.region = "us-east-1";
  r.lastModifiedMs = 1565821571234;
  auto c = r.toConfiguration();
  EXPECT_EQ(c.at("Version").as_string(), "$LATEST");
  EXPECT_EQ(c.at("State").as_string(), "Active");
  EXPECT_EQ(c.at("LastUpdateStatus").as_string(), "Successful");
  EXPECT_EQ(c.at("LastModified").as_string(), "2019-08-14T22:26:11.234+0000");
  EXPECT_FALSE(c.contains("Environment"));  // omitted when there are no variables
}

TEST(EventInvokeConfig, ShowsOnlyWhatWasSetAndRoundTrips) {
  EventInvokeConfig c;
  c.maxRetries = 0;
  c.onFailure = "arn:aws:lambda:us-east-1:000000000000:function:dlq";
  c.lastModifiedMs = 1573686021479;
  auto shown = c.toJson("arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST");
  EXPECT_EQ(shown.at("MaximumRetryAttempts").as_int64(), 0);
  EXPECT_FALSE(shown.contains("MaximumEventAgeInSeconds"));
  EXPECT_DOUBLE_EQ(shown.at("LastModified").as_double(), 1573686021.479);  // seconds, as a number
  EXPECT_TRUE(shown.at("DestinationConfig").at("OnSuccess").as_object().empty());
  EXPECT_EQ(shown.at("DestinationConfig").at("OnFailure").at("Destination").as_string(), c.onFailure);
  auto back = EventInvokeConfig::fromStorage(c.toStorage());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->maxRetries, 0);
  EXPECT_EQ(back->maxAgeSec, -1);
  EXPECT_EQ(back->onFailure, c.onFailure);
  EXPECT_EQ(back->onSuccess, "");
  EXPECT_EQ(back->lastModifiedMs, c.lastModifiedMs);
}

}  // namespace lamina::api
