// broker_stats: the parser on a real librdkafka 2.0.2 statistics JSON and on
// malformed input, and the rendering.
#include <catch2/catch.hpp>
#include <cmath>

#include "collectors/broker_stats.h"
#include "support/metrics_text.h"

using namespace dora;
using dora::test::Find;
using dora::test::FindAll;
using dora::test::ParseExposition;

namespace {

// Captured from the exporter's kind of client (consumer-type handle, no group,
// statistics.interval.ms=1000) against a 3-broker Kafka 3.9.1 cluster,
// bootstrapped through "localhost:<port of node 1>": that entry stays a
// bootstrap broker (nodeid -1) next to the three learned ones. Only line
// breaks were added.
const char* const kRealStats = R"json(
{ "name": "dora-kafka-exporter#consumer-1", "client_id": "dora-kafka-exporter", "type": "consumer",
"ts":1361875880, "time":1795751868, "age":3003004, "replyq":0, "msg_cnt":0, "msg_size":0,
"msg_max":0, "msg_size_max":0, "simple_cnt":0, "metadata_cache_cnt":1,
"brokers":{ "127.0.0.1:34533/3": { "name":"127.0.0.1:34533/3", "nodeid":3,
"nodename":"127.0.0.1:34533", "source":"learned", "state":"UP", "stateage":2990542, "outbuf_cnt":0,
"outbuf_msg_cnt":0, "waitresp_cnt":1, "waitresp_msg_cnt":0, "tx":39, "txbytes":2476, "txerrs":0,
"txretries":0, "txidle":5443, "req_timeouts":0, "rx":38, "rxbytes":4484, "rxerrs":0,
"rxcorriderrs":0, "rxpartial":0, "rxidle":111033, "zbuf_grow":0, "buf_grow":0, "wakeups":113,
"connects":1, "disconnects":0, "int_latency": { "min":0, "max":0, "avg":0, "sum":0, "stddev": 0,
"p50": 0, "p75": 0, "p90": 0, "p95": 0, "p99": 0, "p99_99": 0, "outofrange": 0, "hdrsize": 11376,
"cnt":0 }, "outbuf_latency": { "min":5, "max":3365, "avg":584, "sum":7010, "stddev": 1119, "p50": 15,
"p75": 96, "p90": 2703, "p95": 2703, "p99": 3375, "p99_99": 3375, "outofrange": 0, "hdrsize": 11376,
"cnt":12 }, "rtt": { "min":14, "max":6019, "avg":3467, "sum":38144, "stddev": 1950, "p50": 3791,
"p75": 4159, "p90": 5983, "p95": 5983, "p99": 6047, "p99_99": 6047, "outofrange": 0,
"hdrsize": 13424, "cnt":11 }, "throttle": { "min":0, "max":0, "avg":0, "sum":0, "stddev": 0,
"p50": 0, "p75": 0, "p90": 0, "p95": 0, "p99": 0, "p99_99": 0, "outofrange": 0, "hdrsize": 17520,
"cnt":0 }, "req": { "Fetch": 0, "ListOffsets": 28, "Metadata": 10, "OffsetCommit": 0,
"OffsetFetch": 0, "FindCoordinator": 0, "JoinGroup": 0, "Heartbeat": 0, "LeaveGroup": 0,
"SyncGroup": 0, "SaslHandshake": 0, "ApiVersion": 1, "SaslAuthenticate": 0, "OffsetDeleteRequest": 0,
"DescribeClientQuotasRequest": 0, "AlterClientQuotasRequest": 0,
"DescribeUserScramCredentialsRequest": 0 }, "toppars":{ } } ,
"127.0.0.1:55709/2": { "name":"127.0.0.1:55709/2", "nodeid":2, "nodename":"127.0.0.1:55709",
"source":"learned", "state":"UP", "stateage":2982464, "outbuf_cnt":0, "outbuf_msg_cnt":0,
"waitresp_cnt":1, "waitresp_msg_cnt":0, "tx":38, "txbytes":2438, "txerrs":0, "txretries":0,
"txidle":5421, "req_timeouts":0, "rx":37, "rxbytes":4225, "rxerrs":0, "rxcorriderrs":0,
"rxpartial":0, "rxidle":109738, "zbuf_grow":0, "buf_grow":0, "wakeups":111, "connects":1,
"disconnects":0, "int_latency": { "min":0, "max":0, "avg":0, "sum":0, "stddev": 0, "p50": 0,
"p75": 0, "p90": 0, "p95": 0, "p99": 0, "p99_99": 0, "outofrange": 0, "hdrsize": 11376, "cnt":0 },
"outbuf_latency": { "min":6, "max":811, "avg":86, "sum":1205, "stddev": 201, "p50": 20, "p75": 61,
"p90": 68, "p95": 68, "p99": 811, "p99_99": 811, "outofrange": 0, "hdrsize": 11376, "cnt":14 },
"rtt": { "min":1431, "max":5344, "avg":3494, "sum":45425, "stddev": 1346, "p50": 3871, "p75": 4511,
"p90": 5215, "p95": 5215, "p99": 5375, "p99_99": 5375, "outofrange": 0, "hdrsize": 13424, "cnt":13 },
"throttle": { "min":0, "max":0, "avg":0, "sum":0, "stddev": 0, "p50": 0, "p75": 0, "p90": 0,
"p95": 0, "p99": 0, "p99_99": 0, "outofrange": 0, "hdrsize": 17520, "cnt":0 }, "req": { "Fetch": 0,
"ListOffsets": 28, "Metadata": 9, "OffsetCommit": 0, "OffsetFetch": 0, "FindCoordinator": 0,
"JoinGroup": 0, "Heartbeat": 0, "LeaveGroup": 0, "SyncGroup": 0, "SaslHandshake": 0, "ApiVersion": 1,
"SaslAuthenticate": 0, "OffsetDeleteRequest": 0, "DescribeClientQuotasRequest": 0,
"AlterClientQuotasRequest": 0, "DescribeUserScramCredentialsRequest": 0 }, "toppars":{ } } ,
"127.0.0.1:42635/1": { "name":"127.0.0.1:42635/1", "nodeid":1, "nodename":"127.0.0.1:42635",
"source":"learned", "state":"UP", "stateage":2994247, "outbuf_cnt":0, "outbuf_msg_cnt":0,
"waitresp_cnt":0, "waitresp_msg_cnt":0, "tx":40, "txbytes":2514, "txerrs":0, "txretries":0,
"txidle":5412, "req_timeouts":0, "rx":40, "rxbytes":4800, "rxerrs":0, "rxcorriderrs":0,
"rxpartial":0, "rxidle":0, "zbuf_grow":0, "buf_grow":0, "wakeups":118, "connects":1, "disconnects":0,
"int_latency": { "min":0, "max":0, "avg":0, "sum":0, "stddev": 0, "p50": 0, "p75": 0, "p90": 0,
"p95": 0, "p99": 0, "p99_99": 0, "outofrange": 0, "hdrsize": 11376, "cnt":0 },
"outbuf_latency": { "min":4, "max":3739, "avg":502, "sum":7035, "stddev": 1178, "p50": 19, "p75": 56,
"p90": 3007, "p95": 3007, "p99": 3743, "p99_99": 3743, "outofrange": 0, "hdrsize": 11376, "cnt":14 },
"rtt": { "min":10, "max":12121, "avg":3761, "sum":52665, "stddev": 2961, "p50": 2991, "p75": 5151,
"p90": 6335, "p95": 6335, "p99": 12159, "p99_99": 12159, "outofrange": 0, "hdrsize": 13424,
"cnt":14 }, "throttle": { "min":0, "max":0, "avg":0, "sum":0, "stddev": 0, "p50": 0, "p75": 0,
"p90": 0, "p95": 0, "p99": 0, "p99_99": 0, "outofrange": 0, "hdrsize": 17520, "cnt":0 },
"req": { "Fetch": 0, "ListOffsets": 28, "Metadata": 11, "OffsetCommit": 0, "OffsetFetch": 0,
"FindCoordinator": 0, "JoinGroup": 0, "Heartbeat": 0, "LeaveGroup": 0, "SyncGroup": 0,
"SaslHandshake": 0, "ApiVersion": 1, "SaslAuthenticate": 0, "OffsetDeleteRequest": 0,
"DescribeClientQuotasRequest": 0, "AlterClientQuotasRequest": 0,
"DescribeUserScramCredentialsRequest": 0 }, "toppars":{ } } ,
"localhost:42635/bootstrap": { "name":"localhost:42635/bootstrap", "nodeid":-1,
"nodename":"localhost:42635", "source":"configured", "state":"UP", "stateage":2999999,
"outbuf_cnt":0, "outbuf_msg_cnt":0, "waitresp_cnt":0, "waitresp_msg_cnt":0, "tx":3, "txbytes":128,
"txerrs":0, "txretries":0, "txidle":2999936, "req_timeouts":0, "rx":3, "rxbytes":873, "rxerrs":0,
"rxcorriderrs":0, "rxpartial":0, "rxidle":2996568, "zbuf_grow":0, "buf_grow":0, "wakeups":11,
"connects":1, "disconnects":0, "int_latency": { "min":0, "max":0, "avg":0, "sum":0, "stddev": 0,
"p50": 0, "p75": 0, "p90": 0, "p95": 0, "p99": 0, "p99_99": 0, "outofrange": 0, "hdrsize": 11376,
"cnt":0 }, "outbuf_latency": { "min":0, "max":0, "avg":0, "sum":0, "stddev": 0, "p50": 0, "p75": 0,
"p90": 0, "p95": 0, "p99": 0, "p99_99": 0, "outofrange": 0, "hdrsize": 11376, "cnt":0 },
"rtt": { "min":0, "max":0, "avg":0, "sum":0, "stddev": 0, "p50": 0, "p75": 0, "p90": 0, "p95": 0,
"p99": 0, "p99_99": 0, "outofrange": 0, "hdrsize": 13424, "cnt":0 }, "throttle": { "min":0, "max":0,
"avg":0, "sum":0, "stddev": 0, "p50": 0, "p75": 0, "p90": 0, "p95": 0, "p99": 0, "p99_99": 0,
"outofrange": 0, "hdrsize": 17520, "cnt":0 }, "req": { "Fetch": 0, "ListOffsets": 0, "Metadata": 2,
"OffsetCommit": 0, "OffsetFetch": 0, "FindCoordinator": 0, "JoinGroup": 0, "Heartbeat": 0,
"LeaveGroup": 0, "SyncGroup": 0, "SaslHandshake": 0, "ApiVersion": 1, "SaslAuthenticate": 0,
"OffsetDeleteRequest": 0, "DescribeClientQuotasRequest": 0, "AlterClientQuotasRequest": 0,
"DescribeUserScramCredentialsRequest": 0 }, "toppars":{ } } }, "topics":{ } , "tx":120,
"tx_bytes":7556, "rx":118, "rx_bytes":14382, "txmsgs":0, "txmsg_bytes":0, "rxmsgs":0,
"rxmsg_bytes":0}
)json";

}  // namespace

TEST_CASE("broker_stats parses a real statistics JSON", "[broker_stats]") {
  auto parsed = ParseBrokerStats(kRealStats);
  REQUIRE(parsed.ok());
  const auto& b = parsed.value();
  // The bootstrap entry (nodeid -1) is not a broker of its own.
  REQUIRE(b.size() == 3);
  CHECK(b[0].nodeid == 1);
  CHECK(b[1].nodeid == 2);
  CHECK(b[2].nodeid == 3);
  CHECK(b[0].name == "127.0.0.1:42635/1");
  CHECK(b[0].state == "UP");
  // rtt is in microseconds in the JSON.
  REQUIRE(b[0].rtt_p50_seconds.has_value());
  CHECK(*b[0].rtt_p50_seconds == Approx(0.002991));
  CHECK(*b[0].rtt_p99_seconds == Approx(0.012159));
  CHECK(*b[1].rtt_p50_seconds == Approx(0.003871));
  CHECK(*b[2].rtt_p99_seconds == Approx(0.006047));
  // No throttling was recorded (an empty throttle window): 0, not "unknown".
  CHECK(b[0].throttle_p50_seconds == 0.0);
  CHECK(b[0].throttle_p99_seconds == 0.0);
  CHECK(b[0].request_timeouts == 0);
  CHECK(b[0].outbuf_requests == 0);
  CHECK(b[0].waitresp_requests == 0);
  CHECK(b[1].waitresp_requests == 1);
  CHECK(b[2].waitresp_requests == 1);
}

TEST_CASE("broker_stats renders one series set per broker", "[broker_stats]") {
  auto parsed = ParseBrokerStats(kRealStats);
  REQUIRE(parsed.ok());
  MetricsBuilder out;
  RenderBrokerStats(parsed.value(), out);
  auto s = ParseExposition(out.Render());
  CHECK(Find(s, "kafka_client_broker_rtt_seconds", {{"broker", "1"}, {"quantile", "0.5"}}) ==
        Approx(0.002991));
  CHECK(Find(s, "kafka_client_broker_rtt_seconds", {{"broker", "1"}, {"quantile", "0.99"}}) ==
        Approx(0.012159));
  CHECK(Find(s, "kafka_client_broker_throttle_seconds", {{"broker", "3"}, {"quantile", "0.99"}}) == 0.0);
  CHECK(Find(s, "kafka_client_broker_request_timeouts_total", {{"broker", "2"}}) == 0.0);
  CHECK(Find(s, "kafka_client_broker_connection_state", {{"broker", "2"}, {"state", "UP"}}) == 1.0);
  CHECK(Find(s, "kafka_client_broker_outbuf_requests", {{"broker", "3"}}) == 0.0);
  CHECK(Find(s, "kafka_client_broker_waitresp_requests", {{"broker", "3"}}) == 1.0);
  CHECK(FindAll(s, "kafka_client_broker_rtt_seconds", {{"broker", "-1"}}).empty());
  CHECK(FindAll(s, "kafka_client_broker_connection_state").size() == 3);
  std::string text = out.Render();
  CHECK(text.find("# TYPE kafka_client_broker_request_timeouts_total counter") != std::string::npos);
}

TEST_CASE("broker_stats: a down broker with an empty rtt window and timeouts", "[broker_stats]") {
  const char* json = R"({"brokers":{
    "127.0.0.1:9092/1":{"name":"127.0.0.1:9092/1","nodeid":1,"state":"DOWN","req_timeouts":7,
      "outbuf_cnt":3,"waitresp_cnt":2,
      "rtt":{"p50":0,"p99":0,"cnt":0},"throttle":{"p50":20,"p99":250,"cnt":4}},
    "GroupCoordinator":{"name":"GroupCoordinator","nodeid":-1,"state":"UP"}}})";
  auto parsed = ParseBrokerStats(json);
  REQUIRE(parsed.ok());
  REQUIRE(parsed.value().size() == 1);
  const auto& b = parsed.value()[0];
  CHECK(b.state == "DOWN");
  CHECK_FALSE(b.rtt_p50_seconds.has_value());  // no request in the window: unknown, not 0
  CHECK(*b.throttle_p50_seconds == Approx(0.020));
  CHECK(*b.throttle_p99_seconds == Approx(0.250));
  CHECK(b.request_timeouts == 7);
  CHECK(b.outbuf_requests == 3);
  MetricsBuilder out;
  RenderBrokerStats(parsed.value(), out);
  auto s = ParseExposition(out.Render());
  auto rtt = Find(s, "kafka_client_broker_rtt_seconds", {{"broker", "1"}, {"quantile", "0.5"}});
  REQUIRE(rtt.has_value());
  CHECK(std::isnan(*rtt));
  CHECK(Find(s, "kafka_client_broker_connection_state", {{"broker", "1"}, {"state", "DOWN"}}) == 1.0);
  CHECK(Find(s, "kafka_client_broker_request_timeouts_total", {{"broker", "1"}}) == 7.0);
}

TEST_CASE("broker_stats rejects malformed statistics with a clean error", "[broker_stats]") {
  for (const char* bad : {"", "{", "not json", "[1,2,3]", "{\"brokers\": 5}", "{\"name\": \"x\"}",
                          "{\"brokers\":{\"a\":{\"nodeid\":1,\"name\":5}}}"}) {
    INFO(bad);
    auto parsed = ParseBrokerStats(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().reason == Reason::kInternal);
    CHECK(parsed.status().message.find("librdkafka statistics") != std::string::npos);
  }
  // Truncated real statistics (as if cut mid-write) are an error too, not a crash.
  std::string cut(kRealStats);
  cut.resize(cut.size() / 2);
  CHECK_FALSE(ParseBrokerStats(cut).ok());
  // Odd but valid shapes are skipped rather than failing the run.
  auto odd = ParseBrokerStats(R"({"brokers":{"x":5,"y":{"nodeid":"two"},"z":{"nodeid":4}}})");
  REQUIRE(odd.ok());
  REQUIRE(odd.value().size() == 1);
  CHECK(odd.value()[0].nodeid == 4);
  CHECK(odd.value()[0].name == "z");
  // Numbers outside the integer types (a fuzz finding: the conversion was
  // undefined, and aborts the sanitizer build): a node id beyond int32 is no
  // broker, counts are clamped.
  auto huge =
      ParseBrokerStats(R"({"brokers":{"a":{"nodeid":18888888888888888888888888884,"state":"UP"},)"
                       R"("b":{"nodeid":2,"req_timeouts":1e300,"outbuf_cnt":-1e300,"waitresp_cnt":3}}})");
  REQUIRE(huge.ok());
  REQUIRE(huge.value().size() == 1);
  CHECK(huge.value()[0].nodeid == 2);
  CHECK(huge.value()[0].request_timeouts == 9000000000000000000ULL);
  CHECK(huge.value()[0].outbuf_requests == -9000000000000000000LL);
  CHECK(huge.value()[0].waitresp_requests == 3);
}

TEST_CASE("BrokerStatsStore keeps the latest statistics", "[broker_stats]") {
  BrokerStatsStore store;
  std::chrono::steady_clock::time_point at;
  CHECK(store.Get(&at).empty());
  store.Set("{\"a\":1}");
  store.Set("{\"a\":2}");
  CHECK(store.Get(&at) == "{\"a\":2}");
  CHECK(at.time_since_epoch().count() > 0);
}
