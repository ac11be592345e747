// KafkaMs: durations to librdkafka's int milliseconds without overflow.
#include <catch2/catch.hpp>
#include <chrono>
#include <climits>

#include "kafka/types.h"

using namespace dora;
using std::chrono::hours;
using std::chrono::milliseconds;

TEST_CASE("KafkaMs adds its slack in 64 bits and clamps to librdkafka's int", "[kafka_ms]") {
  CHECK(KafkaMs(milliseconds(1500)) == 1500);
  CHECK(KafkaMs(milliseconds(1500), 500) == 2000);
  CHECK(KafkaMs(milliseconds(-20)) == 0);
  CHECK(KafkaMs(milliseconds(-20), 200) == 180);
  // 24.8 days is INT_MAX ms: static_cast<int>(d.count()) + 500 overflowed there.
  CHECK(KafkaMs(milliseconds(INT_MAX), 500) == INT_MAX);
  CHECK(KafkaMs(hours(24 * 30)) == INT_MAX);
  CHECK(KafkaMs(hours(24)) == 86400000);
}
