#include "core/time.h"

#include <gtest/gtest.h>

namespace lamina::core {

TEST(Time, LambdaTimestampFormat) {
  EXPECT_EQ(lambdaTimestamp(1565821571234), "2019-08-14T22:26:11.234+0000");
  EXPECT_EQ(isoTimestamp(1565821571234), "2019-08-14T22:26:11.234Z");
  EXPECT_EQ(logStreamDate(1565821571234), "2019/08/14");
}

TEST(Time, ParseAmzDate) {
  EXPECT_EQ(parseAmzDate("20150830T123600Z"), 1440938160);
  EXPECT_EQ(parseAmzDate("2015-08-30"), -1);
  EXPECT_EQ(parseAmzDate("20150830T123600"), -1);
}

}  // namespace lamina::core
