#include "api/validation.h"

#include <gtest/gtest.h>

#include "core/json.h"

namespace lamina::api {

namespace {
boost::json::object obj(std::string_view text) { return core::parseJsonObject(text).value(); }
}  // namespace

TEST(FunctionRef, AcceptsNamesPartialAndFullArns) {
  EXPECT_EQ(parseFunctionRef("hello").value().name, "hello");
  auto q = parseFunctionRef("hello:prod").value();
  EXPECT_EQ(q.name, "hello");
  EXPECT_EQ(q.qualifier, "prod");
  EXPECT_EQ(parseFunctionRef("000000000000:function:hello").value().name, "hello");
  auto arn = parseFunctionRef("arn:aws:lambda:us-east-1:000000000000:function:hello:$LATEST").value();
  EXPECT_EQ(arn.name, "hello");
  EXPECT_EQ(arn.qualifier, "$LATEST");
}

TEST(FunctionRef, RejectsBadNamesWithValidationException) {
  for (const std::string& bad :
       std::vector<std::string>{"", "has space", "a/b", "arn:aws:lambda:us-east-1:123456789012:function:x",
                                "f:", "x:y:z", std::string(65, 'a')}) {
    auto r = parseFunctionRef(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), Code::kValidation) << bad;
  }
}

TEST(Configuration, AppliesFieldsAndDefaults) {
  FunctionRecord r;
  auto ok = applyConfiguration(obj(R"({"Role":"arn:aws:iam::000000000000:role/x","Runtime":"python3.11",
      "Handler":"app.handler","MemorySize":256,"Timeout":30,"Environment":{"Variables":{"STAGE":"dev"}}})"),
                               r, true);
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(r.memorySize, 256);
  EXPECT_EQ(r.timeout, 30);
  EXPECT_EQ(r.variables.at("STAGE"), "dev");
  EXPECT_EQ(r.ephemeralStorage, 512);
}

TEST(Configuration, ReportsEveryConstraintViolationLikeAws) {
  FunctionRecord r;
  auto res = applyConfiguration(obj(R"({"Role":"arn:aws:iam::000000000000:role/x","Runtime":"python3.11",
      "Handler":"a.b","MemorySize":20000,"Timeout":1000})"),
                                r, true);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code(), Code::kValidation);
  EXPECT_NE(res.error().message().find("2 validation errors detected"), std::string::npos);
  EXPECT_NE(
      res.error().message().find(
          "Value '1000' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900"),
      std::string::npos);
  EXPECT_NE(res.error().message().find("'memorySize'"), std::string::npos);
}

TEST(Configuration, RejectsReservedAndOversizeVariables) {
  FunctionRecord r;
  auto reserved = applyConfiguration(obj(R"({"Environment":{"Variables":{"AWS_REGION":"x"}}})"), r, false);
  ASSERT_FALSE(reserved.has_value());
  EXPECT_EQ(reserved.error().code(), Code::kInvalidParameterValue);
  EXPECT_NE(reserved.error().message().find("Reserved keys used in this request: AWS_REGION"), std::string::npos);

  std::string big = R"({"Environment":{"Variables":{"BIG":")" + std::string(5000, 'x') + R"("}}})";
  auto oversize = applyConfiguration(obj(big), r, false);
  ASSERT_FALSE(oversize.has_value());
  EXPECT_NE(oversize.error().message().find("exceeded the 4KB limit"), std::string::npos);
}

TEST(Configuration, CreateRequiresRuntimeAndHandler) {
  FunctionRecord r;
  auto res = applyConfiguration(obj(R"({"Role":"arn:aws:iam::000000000000:role/x"})"), r, true);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code(), Code::kInvalidParameterValue);
}

TEST(Configuration, WrongTypesAreRequestContentErrors) {
  FunctionRecord r;
  auto res = applyConfiguration(obj(R"({"Timeout":"ten"})"), r, false);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code(), Code::kInvalidRequestContent);
}

}  // namespace lamina::api
