#include "coordinator/link_survey.h"

#include "gtest/gtest.h"

namespace tessera::coordinator {
namespace {

TEST(LinkSurveyTest, SmallClustersMeasureEveryOrderedPair) {
  EXPECT_TRUE(PairsToSurvey(1, 8).empty());
  auto pairs = PairsToSurvey(3, 8);
  ASSERT_EQ(pairs.size(), 6u);
  for (const auto& [a, b] : pairs) EXPECT_NE(a, b);
  EXPECT_EQ(PairsToSurvey(8, 8).size(), 56u);
}

TEST(LinkSurveyTest, LargeClustersMeasureARing) {
  auto pairs = PairsToSurvey(10, 8);
  ASSERT_EQ(pairs.size(), 10u);
  EXPECT_EQ(pairs[0], std::make_pair(0, 1));
  EXPECT_EQ(pairs[9], std::make_pair(9, 0));
}

TEST(LinkSurveyTest, ConvertsRoundTripsToOneWayLatency) {
  v1::MeasureLinkResponse m;
  m.set_latency_us(300);
  m.set_bytes_per_second(2e9);
  partitioner::LinkProfile l = LinkFromMeasurement("a", "b", m);
  EXPECT_EQ(l.from, "a");
  EXPECT_EQ(l.to, "b");
  EXPECT_DOUBLE_EQ(l.latency_ms, 0.15);
  EXPECT_DOUBLE_EQ(l.bandwidth_bytes_per_s, 2e9);
}

TEST(LinkSurveyTest, MedianOfEachFigure) {
  EXPECT_FALSE(MedianLink({}).has_value());
  auto m = MedianLink({{"a", "b", 1, 100}, {"b", "a", 9, 50}, {"a", "c", 2, 70}});
  ASSERT_TRUE(m.has_value());
  EXPECT_DOUBLE_EQ(m->latency_ms, 2);
  EXPECT_DOUBLE_EQ(m->bandwidth_bytes_per_s, 70);
  auto even = MedianLink({{"a", "b", 1, 100}, {"b", "a", 3, 50}});
  EXPECT_DOUBLE_EQ(even->latency_ms, 2);
  EXPECT_DOUBLE_EQ(even->bandwidth_bytes_per_s, 75);
}

}  // namespace
}  // namespace tessera::coordinator
