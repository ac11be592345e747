// A narrow regression test on librdkafka's mock cluster (its error injection is
// what makes this deterministic; the integration test that stops a group's
// coordinator broker covers the real thing, where the crash is a race).
//
// librdkafka 2.0.2 answers an OffsetFetch response carrying NOT_COORDINATOR by
// queueing a coordinator query on the handle's own consumer group; a handle
// without group.id has none, and the process dies (rdkafka_request.c:860).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <catch2/catch.hpp>
#include <memory>
#include <thread>

#include "config/config.h"
#include "kafka/client.h"
#include "kafka/groups.h"

using namespace dora;
using namespace std::chrono_literals;

namespace {

struct MockCluster {
  MockCluster() {
    char errstr[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    REQUIRE(rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr) == RD_KAFKA_CONF_OK);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    REQUIRE(rk != nullptr);
    mcluster = rd_kafka_mock_cluster_new(rk, 3);
    REQUIRE(mcluster != nullptr);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(mcluster);
    rd_kafka_destroy(rk);
  }
  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(mcluster); }
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* mcluster = nullptr;
};

// The client the daemon builds for group requests (with the admin group.id).
std::unique_ptr<KafkaClient> GroupClientOf(const MockCluster& mock) {
  KafkaConfig config;
  config.bootstrap_servers = {mock.bootstrap()};
  config.client_id = "mock-exporter";
  auto client = KafkaClient::Create(config, GroupClientProperties(config));
  REQUIRE(client.ok());
  return std::move(client.value());
}

}  // namespace

TEST_CASE("the admin group id is the client id plus -admin", "[kafka_client]") {
  KafkaConfig config;
  config.client_id = "exporter-eu-1";
  CHECK(AdminGroupId(config) == "exporter-eu-1-admin");
}

TEST_CASE("OffsetFetch answered NOT_COORDINATOR is an error for that group, not a crash", "[kafka_client]") {
  MockCluster mock;
  REQUIRE(rd_kafka_mock_topic_create(mock.mcluster, "task-requests", 3, 3) == RD_KAFKA_RESP_ERR_NO_ERROR);
  auto groups = GroupClientOf(mock);
  KafkaClient& group_client = *groups;

  // Every OffsetFetch in the next few requests says the coordinator moved.
  constexpr int kErrors = 6;
  std::vector<rd_kafka_resp_err_t> errors(kErrors, RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
  rd_kafka_mock_push_request_errors_array(mock.mcluster, 9 /* OffsetFetch */, errors.size(), errors.data());
  auto first = FetchCommittedOffsets(group_client, {"workers"}, 1, 5s);
  REQUIRE(first.size() == 1);
  CHECK(first[0].group == "workers");
  CHECK(first[0].error == RD_KAFKA_RESP_ERR_NOT_COORDINATOR);

  // The client is still usable: once the errors are used up, the same call answers.
  std::vector<GroupOffsets> later;
  for (int i = 0; i < 2 * kErrors; ++i) {
    later = FetchCommittedOffsets(group_client, {"workers"}, 1, 5s);
    if (later.size() == 1 && later[0].error == 0) break;
  }
  REQUIRE(later.size() == 1);
  CHECK(later[0].error == 0);
  CHECK(later[0].committed.empty());  // the group never committed
}

// librdkafka 2.0.2 caches each group's coordinator and, while that broker is
// up, never looks it up again on NOT_COORDINATOR: a group asked every run
// stayed pinned to its old coordinator. The group handle's cache lasts a run.
TEST_CASE("a group whose coordinator moved is asked at its new coordinator on the next run",
          "[kafka_client]") {
  MockCluster mock;
  REQUIRE(rd_kafka_mock_topic_create(mock.mcluster, "task-requests", 3, 3) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(rd_kafka_mock_coordinator_set(mock.mcluster, "group", "workers", 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  auto groups = GroupClientOf(mock);
  KafkaClient& group_client = *groups;
  auto first = FetchCommittedOffsets(group_client, {"workers"}, 1, 5s);
  REQUIRE(first.size() == 1);
  REQUIRE(first[0].error == 0);

  // The coordinatorship moves to broker 2; broker 1 stays up and answers
  // NOT_COORDINATOR (the mock's OffsetFetch does not check which broker it
  // runs on, so broker 1's answers are injected: five of them).
  REQUIRE(rd_kafka_mock_coordinator_set(mock.mcluster, "group", "workers", 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
  const auto nc = RD_KAFKA_RESP_ERR_NOT_COORDINATOR;
  REQUIRE(rd_kafka_mock_broker_push_request_error_rtts(mock.mcluster, 1, 9 /* OffsetFetch */, 5, nc, 0, nc, 0,
                                                       nc, 0, nc, 0, nc, 0) == RD_KAFKA_RESP_ERR_NO_ERROR);
  std::vector<int> errors;
  for (int run = 0; run < 3; ++run) {
    std::this_thread::sleep_for(1500ms);  // the next run, an interval later
    auto r = FetchCommittedOffsets(group_client, {"workers"}, 1, 5s);
    REQUIRE(r.size() == 1);
    errors.push_back(r[0].error);
  }
  INFO("errors of the three runs after the move: " << errors[0] << ", " << errors[1] << ", " << errors[2]);
  CHECK(errors == std::vector<int>{0, 0, 0});
}

// Issue 14 item 7: librdkafka 2.0.2 aborts the process
// (rd_kafka_enq_once_del_source_return: `eonce->refcnt > 0`) when a
// coordinator-bound admin request times out while it waits for its
// coordinator's broker, and that broker then comes back. A run's deadline must
// therefore never be the request's timeout (GroupRequests). Here the group's
// coordinator is down for longer than two runs' budgets; when it is back, the
// next run answers, and the process is still there to see it.
TEST_CASE("a coordinator down past the run's deadline neither aborts nor blocks the group when back",
          "[kafka_client][carry]") {
  MockCluster mock;
  REQUIRE(rd_kafka_mock_topic_create(mock.mcluster, "task-requests", 3, 3) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(rd_kafka_mock_coordinator_set(mock.mcluster, "group", "workers", 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
  auto groups = GroupClientOf(mock);
  KafkaClient& group_client = *groups;
  REQUIRE(FetchCommittedOffsets(group_client, {"workers"}, 1, 5s).at(0).error == 0);

  REQUIRE(rd_kafka_mock_broker_set_down(mock.mcluster, 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
  int timed_out = 0;
  for (int run = 0; run < 3; ++run) {
    auto r = FetchCommittedOffsets(group_client, {"workers"}, 1, 1s);
    REQUIRE(r.size() == 1);
    INFO("run " << run << " while the coordinator is down: " << KafkaErrorString(r[0].error));
    CHECK(r[0].error != 0);  // a transport error while it goes down, then no answer
    timed_out += r[0].error == RD_KAFKA_RESP_ERR__TIMED_OUT;
  }
  CHECK(timed_out >= 1);  // at least one request left waiting for the coordinator
  REQUIRE(rd_kafka_mock_broker_set_up(mock.mcluster, 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
  // The requests left waiting go out now; on the old code their timed-out
  // requests' replies abort the process here.
  int answered_after = -1;
  for (int run = 0; run < 10 && answered_after < 0; ++run) {
    auto r = FetchCommittedOffsets(group_client, {"workers"}, 1, 2s);
    REQUIRE(r.size() == 1);
    if (r[0].error == 0) answered_after = run;
  }
  INFO("runs after the coordinator came back before an answer: " << answered_after);
  CHECK(answered_after >= 0);
  CHECK(answered_after <= 2);
}
