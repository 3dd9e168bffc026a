#include "core/strings.h"

#include <gtest/gtest.h>

namespace lamina::core {

TEST(Strings, UriEncodeKeepsUnreservedOnly) {
  EXPECT_EQ(uriEncode("a b/c:$~", false), "a%20b%2Fc%3A%24~");
  EXPECT_EQ(uriEncode("a b/c", true), "a%20b/c");
}

TEST(Strings, UriDecodeRejectsTruncatedEscapes) {
  EXPECT_EQ(uriDecode("arn%3Aaws").value(), "arn:aws");
  EXPECT_FALSE(uriDecode("%").has_value());
  EXPECT_FALSE(uriDecode("%4").has_value());
  EXPECT_FALSE(uriDecode("%zz").has_value());
  EXPECT_EQ(uriDecode("a+b", true).value(), "a b");
}

TEST(Strings, ParseQueryDecodesPairsInOrder) {
  auto q = parseQuery("Qualifier=%24LATEST&MaxItems=5&flag");
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].second, "$LATEST");
  EXPECT_EQ(q[1].first, "MaxItems");
  EXPECT_EQ(q[2].first, "flag");
  EXPECT_EQ(q[2].second, "");
}

}  // namespace lamina::core
