// The decode traffic model: mean KV bytes grow with the positions attended.
#include <gtest/gtest.h>

#include "tessera/core/decode_bound.hpp"
#include "tessera/core/memory_bandwidth.hpp"

TEST(DecodeBound, MeanBytesCountTheAttendedPositions) {
  const tessera::DecodeTraffic t{1000, 10};
  // After a 1-token prompt, 4 tokens sit at positions 1..4 and attend to 2..5.
  EXPECT_DOUBLE_EQ(tessera::mean_bytes_per_token(t, 1, 4), 1000.0 + 10.0 * 3.5);
  EXPECT_DOUBLE_EQ(tessera::mean_bytes_per_token(t, 0, 1), 1010.0);
}

TEST(DecodeBound, BoundIsBandwidthOverBytes) {
  EXPECT_DOUBLE_EQ(tessera::decode_bound_tokens_per_second(10.0, 1e9), 10.0);
  EXPECT_EQ(tessera::decode_bound_tokens_per_second(0.0, 1e9), 0.0);
}

TEST(MemoryBandwidth, HostReadTestGivesAPlausibleRate) {
  // 64 MiB keeps the test short; the rate only has to be sane.
  const double gbs = tessera::measure_host_read_bandwidth(2, std::size_t{64} << 20);
  EXPECT_GT(gbs, 0.1);
  EXPECT_LT(gbs, 100000.0);
}
