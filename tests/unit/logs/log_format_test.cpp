#include "services/logs/log_format.h"

#include <gtest/gtest.h>

#include "services/logs/filter_pattern.h"

namespace lamina::services::logs {
namespace {

TEST(LogFormat, NamesEncodeToSafeFileNames) {
  EXPECT_EQ(encodeName("/aws/lambda/fn"), "%2Faws%2Flambda%2Ffn");
  EXPECT_EQ(encodeName("."), "%2E");
  EXPECT_EQ(encodeName(".."), "%2E%2E");
  EXPECT_EQ(encodeName("a.meta"), "a%2Emeta");
  for (std::string name : {"/aws/lambda/fn", "2024/05/01/[$LATEST]abc", "..", "ünï cødé", "a~b"})
    EXPECT_EQ(decodeName(encodeName(name)), name);
  EXPECT_FALSE(decodeName("bad%2").has_value());
  EXPECT_FALSE(decodeName("has.dot").has_value());  // never produced by encodeName
}

TEST(LogFormat, LongNamesAreCutAndHashed) {
  std::string a(300, '/'), b = a + "x";
  std::string da = diskName(a), db = diskName(b);
  EXPECT_LE(da.size(), kMaxEncodedName);
  EXPECT_NE(da, db);
  EXPECT_NE(da.find('~'), std::string::npos);
  EXPECT_FALSE(decodeName(da).has_value());
  EXPECT_EQ(diskName("short"), "short");
}

TEST(LogFormat, EscapingRoundTrips) {
  for (std::string m : {"", "plain", "a\nb", "\\", "\\n", "x\\\ny", "\n\n", "\\\\"})
    EXPECT_EQ(unescapeMessage(escapeMessage(m)), m) << m;
  EXPECT_EQ(escapeMessage("a\nb\\c"), "a\\nb\\\\c");
  EXPECT_EQ(escapeMessage("a\nb").find('\n'), std::string::npos);
  EXPECT_EQ(unescapeMessage("odd \\x escape\\"), "odd \\x escape\\");
}

TEST(LogFormat, LinesParse) {
  std::string line = formatLine(-5, 7, "hello world\nagain");
  auto p = parseLine(line);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->timestampMs, -5);
  EXPECT_EQ(p->ingestionMs, 7);
  EXPECT_EQ(unescapeMessage(p->escapedMessage), "hello world\nagain");
  auto empty = parseLine("1 2 ");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->escapedMessage, "");
  EXPECT_FALSE(parseLine("1 2").has_value());
  EXPECT_FALSE(parseLine("x 2 m").has_value());
  EXPECT_FALSE(parseLine("").has_value());
}

TEST(LogFormat, HexRoundTrips) {
  EXPECT_EQ(hexEncode("a/\xff"), "612fff");
  EXPECT_EQ(hexDecode("612fff"), std::string("a/\xff"));
  EXPECT_FALSE(hexDecode("6").has_value());
  EXPECT_FALSE(hexDecode("zz").has_value());
}

TEST(FilterPattern, Terms) {
  auto p = FilterPattern::parse("ERROR timeout");
  EXPECT_TRUE(p.matches("ERROR: request timeout after 3s"));
  EXPECT_FALSE(p.matches("ERROR: bad input"));
  EXPECT_FALSE(p.matches("error timeout"));  // case-sensitive, like AWS
  EXPECT_TRUE(FilterPattern::parse("").matchesEverything());
  EXPECT_TRUE(FilterPattern::parse("   ").matches("anything"));
}

TEST(FilterPattern, QuotedPhrasesExclusionsAndAlternatives) {
  auto phrase = FilterPattern::parse("\"Connection refused\" db");
  EXPECT_TRUE(phrase.matches("db: Connection refused"));
  EXPECT_FALSE(phrase.matches("db: Connection was refused"));
  auto quote = FilterPattern::parse(R"("say \"hi\"")");
  EXPECT_TRUE(quote.matches(R"(they say "hi")"));
  auto excl = FilterPattern::parse("ERROR -Retrying");
  EXPECT_TRUE(excl.matches("ERROR failed"));
  EXPECT_FALSE(excl.matches("ERROR failed; Retrying"));
  auto any = FilterPattern::parse("?ERROR ?WARN");
  EXPECT_TRUE(any.matches("WARN low disk"));
  EXPECT_TRUE(any.matches("ERROR boom"));
  EXPECT_FALSE(any.matches("INFO ok"));
  EXPECT_TRUE(FilterPattern::parse("a - b").matches("a - b"));  // a lone '-' is a term
}

TEST(FilterPattern, UnsupportedSyntaxIsALiteralSubstring) {
  auto json = FilterPattern::parse("{ $.level = \"ERROR\" }");
  EXPECT_FALSE(json.matches("{\"level\":\"ERROR\"}"));
  EXPECT_TRUE(json.matches("x { $.level = \"ERROR\" } y"));
}

}  // namespace
}  // namespace lamina::services::logs
