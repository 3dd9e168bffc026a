// The keep-alive policies on a virtual clock: fixed for everyone; adaptive from a function's own
// idle gaps once its histogram is trusted.
#include "scheduler/keep_alive.h"

#include <gtest/gtest.h>

namespace lamina::scheduler {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;

KeepAliveOptions adaptive() {
  KeepAliveOptions o;
  o.adaptive = true;
  o.fixed = minutes(10);
  o.binWidth = minutes(1);
  o.range = std::chrono::hours(4);
  return o;
}

TEST(KeepAlive, FixedIgnoresHistory) {
  KeepAlivePolicy p({.adaptive = false, .fixed = minutes(10)});
  for (int i = 0; i < 100; ++i) p.arrived("f", minutes(i * 2));
  EXPECT_EQ(p.keepAlive("f"), minutes(10));
  EXPECT_EQ(p.windows("f").prewarm, milliseconds(0));
  EXPECT_EQ(p.keepAlive("never-seen"), minutes(10));
}

TEST(KeepAlive, RegularGapsGiveATightWindow) {
  KeepAlivePolicy p(adaptive());
  // Every 2 minutes (bin 2): unload, pre-warm at the 5th percentile's bin (2 min) less 10 %, keep
  // until the 99th percentile's bin edge (3 min) plus 10 %.
  for (int i = 0; i <= 30; ++i) p.arrived("cron", minutes(i * 2) + milliseconds(500));
  auto w = p.windows("cron");
  EXPECT_EQ(w.prewarm, milliseconds(108000 - 2000));  // 2 s early: Init must be done in time
  EXPECT_EQ(w.prewarm + w.keepAlive, milliseconds(198000));
  EXPECT_EQ(p.keepAlive("cron"), w.keepAlive);
}

TEST(KeepAlive, LongRegularGapsArePrewarmedInsteadOfKeptWarm) {
  KeepAlivePolicy p(adaptive());
  for (int i = 0; i <= 30; ++i) p.arrived("halfhourly", minutes(i * 30));  // fixed 10 min always misses
  auto w = p.windows("halfhourly");
  EXPECT_EQ(w.prewarm, minutes(27) - milliseconds(2000));
  EXPECT_EQ(w.prewarm + w.keepAlive, milliseconds(minutes(31)) + milliseconds(minutes(31)) / 10);
}

TEST(KeepAlive, ShortGapsAreKeptWarmNotPrewarmed) {
  KeepAliveOptions o = adaptive();
  o.binWidth = milliseconds(100);
  KeepAlivePolicy p(o);
  for (int i = 0; i <= 30; ++i) p.arrived("fast", milliseconds(i * 500 + 20));
  auto w = p.windows("fast");
  EXPECT_EQ(w.prewarm, milliseconds(0));  // 0.45 s is less than the 2 s lead
  EXPECT_EQ(w.keepAlive, milliseconds(660));
}

TEST(KeepAlive, TooFewGapsOrAFlatHistogramFallBackToFixed) {
  KeepAlivePolicy p(adaptive());
  for (int i = 0; i < 5; ++i) p.arrived("young", minutes(i));
  EXPECT_EQ(p.keepAlive("young"), minutes(10));  // 4 gaps < 10
  // Gaps spread evenly over the whole range: no pattern (coefficient of variation < 2).
  std::chrono::milliseconds t{0};
  for (int i = 0; i < 240; ++i) {
    t += minutes(i % 240) + milliseconds(1);
    p.arrived("flat", t);
  }
  EXPECT_EQ(p.keepAlive("flat"), minutes(10));
}

TEST(KeepAlive, GapsBeyondTheRangeFallBackToFixed) {
  KeepAlivePolicy p(adaptive());
  for (int i = 0; i <= 30; ++i) p.arrived("rare", std::chrono::hours(i * 5));
  EXPECT_EQ(p.keepAlive("rare"), minutes(10));
  p.forget("rare");
  EXPECT_EQ(p.keepAlive("rare"), minutes(10));
}

}  // namespace
}  // namespace lamina::scheduler
