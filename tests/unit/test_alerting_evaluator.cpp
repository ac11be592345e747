// The built-in evaluator's state machine (alerting/evaluator.h) with an
// injected clock: Prometheus's pending/firing/resolved semantics, `for: 0`,
// flapping, keep_firing_for, resolved retention, a failed collector, identity.
#include <catch2/catch.hpp>

#include "alerting/evaluator.h"
#include "metrics/snapshot_store.h"

using namespace dora;
using namespace dora::alerting;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

struct Fixture {
  SysTime now = SysTime(seconds(1'700'000'000));
  AlertingConfig config;
  std::unique_ptr<Evaluator> eval;
  void Make() {
    eval = std::make_unique<Evaluator>(config, nullptr, [this] { return now; });
  }
  // One published consumer_groups run with each group's lag (one topic).
  void Lag(std::map<std::string, double> groups, bool published = true) {
    RunInputs run;
    run.collector = "consumer_groups";
    run.published = published;
    run.success = published;
    if (published) {
      auto& s = run.samples["kafka_consumergroup_lag_sum"];
      for (auto& [g, v] : groups) s.push_back({{{"consumergroup", g}, {"topic", "t"}}, v});
    }
    eval->OnRun(std::move(run));
  }
  std::vector<Alert> Alerts() const { return eval->Current()->alerts.ToVector(); }
  const Alert* Find(const std::string& group) const {
    static Alert found;
    for (const Alert& a : eval->Current()->alerts) {
      auto it = a.labels.find("consumergroup");
      if (it != a.labels.end() && it->second == group) {
        found = a;
        return &found;
      }
    }
    return nullptr;
  }
};

}  // namespace

TEST_CASE("an alert is pending from the first true evaluation and fires once for has elapsed", "[alerting]") {
  Fixture f;
  f.Make();
  const SysTime start = f.now;
  f.Lag({{"orders", 20000}});
  REQUIRE(f.Alerts().size() == 1);
  CHECK(f.Alerts()[0].state == AlertState::kPending);
  CHECK(f.Alerts()[0].active_at == start);
  CHECK(f.Alerts()[0].value == 20000);
  f.now += minutes(4) + seconds(59);
  f.Lag({{"orders", 20000}});
  CHECK(f.Alerts()[0].state == AlertState::kPending);
  f.now = start + minutes(5);
  f.Lag({{"orders", 21000}});
  REQUIRE(f.Alerts().size() == 1);
  const Alert a = f.Alerts()[0];
  CHECK(a.state == AlertState::kFiring);
  CHECK(a.fired_at == start + minutes(5));
  CHECK(a.active_at == start);
  CHECK(a.value == 21000);
  CHECK(a.labels == Labels{{"alertname", "KafkaConsumerGroupLagHigh"},
                           {"consumergroup", "orders"},
                           {"severity", "ticket"}});
  CHECK(a.annotations.at("summary") == "Consumer group orders lags more than 10,000 messages");
  CHECK(
      a.annotations.at("description") ==
      "Consumer group orders is 21000 messages behind (sum over its topics) on , above the 10,000 threshold "
      "for 5 minutes.");
}

TEST_CASE("for 0 fires at the first true evaluation", "[alerting]") {
  Fixture f;
  f.Make();
  RunInputs run;
  run.collector = "consumer_groups";
  run.published = run.success = true;
  run.samples["kafka_consumergroup_expired_messages"] = {
      {{{"consumergroup", "g"}, {"topic", "t"}, {"partition", "0"}}, 3},
      {{{"consumergroup", "g"}, {"topic", "t"}, {"partition", "1"}}, 4}};
  f.eval->OnRun(run);
  REQUIRE(f.Alerts().size() == 1);
  CHECK(f.Alerts()[0].state == AlertState::kFiring);
  CHECK(f.Alerts()[0].fired_at == f.now);
  CHECK(f.Alerts()[0].value == 7);
  CHECK(f.Alerts()[0].labels.at("severity") == "page");
  CHECK(
      f.Alerts()[0].annotations.at("description") ==
      "7 message(s) of topic t were deleted by retention before consumer group g read them (committed offset "
      "below the log start offset).");
}

TEST_CASE("a pending alert that turns false is dropped and starts over", "[alerting]") {
  Fixture f;
  f.Make();
  const SysTime start = f.now;
  f.Lag({{"orders", 20000}});
  f.now += minutes(3);
  f.Lag({{"orders", 5000}});
  CHECK(f.Alerts().empty());
  f.now += minutes(1);
  f.Lag({{"orders", 20000}});
  REQUIRE(f.Alerts().size() == 1);
  CHECK(f.Alerts()[0].active_at == start + minutes(4));
  f.now = start + minutes(8);  // 5 minutes after the first start, 4 after the second
  f.Lag({{"orders", 20000}});
  CHECK(f.Alerts()[0].state == AlertState::kPending);
  f.now = start + minutes(9);
  f.Lag({{"orders", 20000}});
  CHECK(f.Alerts()[0].state == AlertState::kFiring);
}

TEST_CASE("a firing alert resolves, is kept for 15 minutes, then dropped", "[alerting]") {
  Fixture f;
  f.config.rules["KafkaConsumerGroupLagHigh"].for_duration = Millis(0);
  f.Make();
  f.Lag({{"orders", 20000}});
  REQUIRE(f.Alerts()[0].state == AlertState::kFiring);
  f.now += minutes(1);
  const SysTime resolved = f.now;
  f.Lag({{"orders", 0}});
  REQUIRE(f.Alerts().size() == 1);
  CHECK(f.Alerts()[0].state == AlertState::kResolved);
  CHECK(f.Alerts()[0].resolved_at == resolved);
  CHECK(f.Alerts()[0].value == 20000);  // the last true value
  f.now = resolved + kResolvedRetention;
  f.Lag({{"orders", 0}});
  CHECK(f.Alerts().size() == 1);
  f.now += seconds(1);
  f.Lag({{"orders", 0}});
  CHECK(f.Alerts().empty());
}

TEST_CASE("a resolved alert that turns true again is a new pending alert", "[alerting]") {
  Fixture f;
  f.config.rules["KafkaConsumerGroupLagHigh"].for_duration = Millis(60000);
  f.Make();
  f.Lag({{"orders", 20000}});
  f.now += minutes(1);
  f.Lag({{"orders", 20000}});
  REQUIRE(f.Alerts()[0].state == AlertState::kFiring);
  f.now += minutes(1);
  f.Lag({{"orders", 0}});
  REQUIRE(f.Alerts()[0].state == AlertState::kResolved);
  f.now += minutes(1);
  f.Lag({{"orders", 20000}});
  REQUIRE(f.Alerts().size() == 1);
  CHECK(f.Alerts()[0].state == AlertState::kPending);
  CHECK(f.Alerts()[0].active_at == f.now);
  CHECK(f.Alerts()[0].resolved_at == SysTime{});
}

TEST_CASE("keep_firing_for holds a firing alert after its condition stops", "[alerting]") {
  Fixture f;
  f.config.rules["KafkaConsumerGroupLagHigh"].for_duration = Millis(0);
  f.config.rules["KafkaConsumerGroupLagHigh"].keep_firing_for = Millis(120000);
  f.Make();
  f.Lag({{"orders", 20000}});
  f.now += minutes(1);
  const SysTime first_false = f.now;
  f.Lag({{"orders", 0}});
  CHECK(f.Alerts()[0].state == AlertState::kFiring);
  f.now = first_false + minutes(1) + seconds(59);
  f.Lag({{"orders", 0}});
  CHECK(f.Alerts()[0].state == AlertState::kFiring);
  f.now = first_false + minutes(2);
  f.Lag({{"orders", 0}});
  CHECK(f.Alerts()[0].state == AlertState::kResolved);
  CHECK(f.Alerts()[0].resolved_at == first_false + minutes(2));

  SECTION("a true evaluation in between restarts the hold") {
    Fixture g;
    g.config = f.config;
    g.Make();
    g.Lag({{"orders", 20000}});
    g.now += minutes(1);
    g.Lag({{"orders", 0}});
    g.now += minutes(1);
    g.Lag({{"orders", 20000}});
    g.now += minutes(1);
    const SysTime again = g.now;
    g.Lag({{"orders", 0}});
    g.now = again + minutes(1);
    g.Lag({{"orders", 0}});
    CHECK(g.Alerts()[0].state == AlertState::kFiring);
    g.now = again + minutes(2);
    g.Lag({{"orders", 0}});
    CHECK(g.Alerts()[0].state == AlertState::kResolved);
  }
}

TEST_CASE("a failed collector keeps the state of the alerts it feeds", "[alerting]") {
  Fixture f;
  f.Make();
  const SysTime start = f.now;
  f.Lag({{"orders", 20000}, {"billing", 30000}});
  f.now = start + minutes(5);
  f.Lag({{"orders", 20000}, {"billing", 30000}});
  REQUIRE(f.Find("orders")->state == AlertState::kFiring);
  f.now = start + minutes(6);
  f.Lag({{"orders", 20000}, {"ledger", 50000}});  // billing's lag is gone: it resolves
  CHECK(f.Find("billing")->state == AlertState::kResolved);
  REQUIRE(f.Find("ledger")->state == AlertState::kPending);
  // The collector fails for 20 minutes: nothing resolves, nothing advances.
  for (int i = 1; i <= 20; ++i) {
    f.now = start + minutes(6 + i);
    f.Lag({}, /*published=*/false);
  }
  REQUIRE(f.Find("orders") != nullptr);
  REQUIRE(f.Find("ledger") != nullptr);
  REQUIRE(f.Find("billing") != nullptr);
  CHECK(f.Find("orders")->state == AlertState::kFiring);
  CHECK(f.Find("ledger")->state == AlertState::kPending);
  CHECK(f.Find("ledger")->active_at == start + minutes(6));
  CHECK(f.Find("billing")->state == AlertState::kResolved);  // kept past its 15 minutes: not evaluated
  // ... while the collector's own failure is seen (for 5m: pending at once).
  bool failing = false;
  for (const Alert& a : f.Alerts()) {
    if (a.name() != "KafkaExporterCollectorFailing") continue;
    failing = true;
    CHECK(a.labels.at("collector") == "consumer_groups");
    CHECK(a.state == AlertState::kFiring);
    CHECK(a.active_at == start + minutes(7));
  }
  CHECK(failing);
  // It publishes again: orders is gone, so it resolves; ledger fires.
  f.now = start + minutes(27);
  f.Lag({{"ledger", 50000}});
  CHECK(f.Find("orders")->state == AlertState::kResolved);
  CHECK(f.Find("ledger")->state == AlertState::kFiring);
  CHECK(f.Find("billing") == nullptr);
}

TEST_CASE("identity: the rule's labels win over the series' labels, configured labels over both",
          "[alerting]") {
  Fixture f;
  f.config.rules["KafkaConsumerGroupLagHigh"].for_duration = Millis(0);
  f.Make();
  RunInputs run;
  run.collector = "consumer_groups";
  run.published = run.success = true;
  run.samples["kafka_consumergroup_lag_sum"] = {
      {{{"consumergroup", "g"}, {"topic", "a"}, {"severity", "none"}, {"alertname", "x"}}, 6000},
      {{{"consumergroup", "g"}, {"topic", "b"}, {"severity", "none"}, {"alertname", "x"}}, 6000}};
  f.eval->OnRun(run);
  REQUIRE(f.Alerts().size() == 1);
  CHECK(f.Alerts()[0].labels ==
        Labels{{"alertname", "KafkaConsumerGroupLagHigh"}, {"consumergroup", "g"}, {"severity", "ticket"}});
  CHECK(f.Alerts()[0].value == 12000);

  f.config.rules["KafkaConsumerGroupLagHigh"].labels = {{"severity", "page"}, {"team", "payments"}};
  f.eval->Configure(f.config);
  f.now += minutes(1);
  f.eval->OnRun(run);
  // A new identity: the old alert (severity ticket) resolves, the new one fires.
  REQUIRE(f.Alerts().size() == 2);
  CHECK(f.Alerts()[0].labels == Labels{{"alertname", "KafkaConsumerGroupLagHigh"},
                                       {"consumergroup", "g"},
                                       {"severity", "page"},
                                       {"team", "payments"}});
  CHECK(f.Alerts()[0].state == AlertState::kFiring);
  CHECK(f.Alerts()[1].labels.at("severity") == "ticket");
  CHECK(f.Alerts()[1].state == AlertState::kResolved);
}

TEST_CASE("a reload keeps the state of alerts still enabled and drops disabled ones", "[alerting]") {
  Fixture f;
  f.Make();
  const SysTime start = f.now;
  f.Lag({{"orders", 20000}});
  f.eval->Configure(f.config);
  f.now = start + minutes(5);
  f.Lag({{"orders", 20000}});
  REQUIRE(f.Find("orders")->state == AlertState::kFiring);
  CHECK(f.Find("orders")->active_at == start);
  f.config.rules["KafkaConsumerGroupLagHigh"].threshold = 50000;
  f.eval->Configure(f.config);
  f.now += minutes(1);
  f.Lag({{"orders", 20000}});
  CHECK(f.Find("orders")->state == AlertState::kResolved);
  f.config.rules["KafkaConsumerGroupLagHigh"].enabled = false;
  f.eval->Configure(f.config);  // no evaluation needed: gone from the snapshot at once
  CHECK(f.Find("orders") == nullptr);
  CHECK(f.Alerts().empty());
}

TEST_CASE("evaluations on unchanged inputs still move the clocks, take a reload and see a forget",
          "[alerting]") {
  Fixture f;
  f.Make();
  const SysTime start = f.now;
  f.Lag({{"orders", 20000}, {"billing", 15000}});
  // Only another collector publishes from here on: the rules' inputs stay.
  auto other = [&f] {
    RunInputs run;
    run.collector = "offsets";
    run.published = run.success = true;
    f.eval->OnRun(std::move(run));
  };
  f.now = start + minutes(4);
  other();
  CHECK(f.Find("orders")->state == AlertState::kPending);
  CHECK(f.eval->Current()->rules_evaluated.at("KafkaConsumerGroupLagHigh") == f.now);
  f.now = start + minutes(5);
  other();
  CHECK(f.Find("orders")->state == AlertState::kFiring);
  CHECK(f.Find("orders")->fired_at == f.now);
  CHECK(f.eval->Current()->rules_evaluated.at("KafkaConsumerGroupLagHigh") == f.now);

  // A reload's threshold applies at the next evaluation, inputs unchanged.
  f.config.rules["KafkaConsumerGroupLagHigh"].threshold = 18000;
  f.eval->Configure(f.config);
  f.now += minutes(1);
  f.eval->Evaluate();
  CHECK(f.Find("orders")->state == AlertState::kFiring);
  CHECK(f.Find("billing")->state == AlertState::kResolved);

  // The same samples again change nothing; a new value, its annotations.
  f.Lag({{"orders", 20000}, {"billing", 15000}});
  CHECK(f.Find("orders")->annotations.at("description").find(" is 20000 messages behind") !=
        std::string::npos);
  f.Lag({{"orders", 25000}, {"billing", 15000}});
  CHECK(f.Find("orders")->value == 25000);
  CHECK(f.Find("orders")->annotations.at("description").find(" is 25000 messages behind") !=
        std::string::npos);
  CHECK(f.Find("orders")->state == AlertState::kFiring);

  // A collector no longer configured: its series are gone at the next evaluation.
  f.eval->Forget("consumer_groups");
  f.now += minutes(1);
  f.eval->Evaluate();
  CHECK(f.Find("orders")->state == AlertState::kResolved);
}

TEST_CASE("ALERTS and ALERTS_FOR_STATE are published as Prometheus writes them", "[alerting]") {
  SnapshotStore store;
  SysTime now = SysTime(seconds(1'700'000'000));
  AlertingConfig config;
  Evaluator eval(config, &store, [&] { return now; });
  RunInputs run;
  run.collector = "cluster";
  run.published = run.success = true;
  run.samples["kafka_topic_partition_offline"] = {{{{"topic", "payments"}, {"partition", "0"}}, 1},
                                                  {{{"topic", "payments"}, {"partition", "1"}}, 0}};
  eval.OnRun(run);
  now += minutes(1);
  run.samples["kafka_topic_partition_offline"].push_back({{{"topic", "audit"}, {"partition", "2"}}, 1});
  eval.OnRun(run);
  CHECK(
      store.Render() ==
      "# HELP ALERTS Alerts the daemon evaluates itself that are pending or firing; always 1.\n"
      "# TYPE ALERTS gauge\n"
      "ALERTS{alertname=\"KafkaTopicPartitionOffline\",partition=\"0\",severity=\"page\",topic=\"payments\","
      "alertstate=\"firing\"} 1\n"
      "ALERTS{alertname=\"KafkaTopicPartitionOffline\",partition=\"2\",severity=\"page\",topic=\"audit\","
      "alertstate=\"pending\"} 1\n"
      "# HELP ALERTS_FOR_STATE Unix time an alert the daemon evaluates itself became active (pending or "
      "firing).\n"
      "# TYPE ALERTS_FOR_STATE gauge\n"
      "ALERTS_FOR_STATE{alertname=\"KafkaTopicPartitionOffline\",partition=\"0\",severity=\"page\",topic="
      "\"payments\"} 1700000000\n"
      "ALERTS_FOR_STATE{alertname=\"KafkaTopicPartitionOffline\",partition=\"2\",severity=\"page\",topic="
      "\"audit\"} 1700000060\n");
  CHECK(eval.RenderSeries() == store.Render());
  CHECK(eval.Current()->generation == 2);
  CHECK(eval.Current()->evaluated_at == now);
}

TEST_CASE("probe produce latency p99 comes from the bucket increases over 5 minutes", "[alerting]") {
  Fixture f;
  f.config.rules["KafkaReplicationLatencyHigh"].for_duration = Millis(0);
  f.Make();
  // Cumulative buckets 1s, 5s, 10s, +Inf per broker; observations between runs.
  auto run = [&](double le1, double le5, double le10, double inf) {
    RunInputs r;
    r.collector = "probe";
    r.published = r.success = true;
    auto& s = r.samples["kafka_probe_produce_latency_seconds"];
    s.push_back({{{"broker", "1"}, {"le", "1"}}, le1});
    s.push_back({{{"broker", "1"}, {"le", "5"}}, le5});
    s.push_back({{{"broker", "1"}, {"le", "10"}}, le10});
    s.push_back({{{"broker", "1"}, {"le", "+Inf"}}, inf});
    f.eval->OnRun(std::move(r));
  };
  run(1000, 1000, 1000, 1000);  // history before: only one point, no rate yet
  CHECK(f.Alerts().empty());
  f.now += minutes(1);
  run(1100, 1100, 1100, 1100);  // 100 fast acks
  CHECK(f.Alerts().empty());
  f.now += minutes(1);
  run(1150, 1150, 1160, 1160);  // +50 fast, +10 between 5 and 10 s: 10 of 160 slow
  REQUIRE(f.Alerts().size() == 1);
  const Alert a = f.Alerts()[0];
  CHECK(a.labels.at("broker") == "1");
  CHECK(a.state == AlertState::kFiring);
  // rank 0.99 * 160 = 158.4 in (5, 10]: 5 + 5 * (158.4 - 150) / 10 = 9.2
  CHECK(a.value == Approx(9.2));
  CHECK(a.annotations.at("description") ==
        "The p99 acks=all ack latency of probe messages led by broker 1 is 9.2s over 5 minutes (threshold 5 "
        "s): "
        "followers of this leader replicate more than 5 s behind.");
  // Four minutes later the points before the slow acks have left the window:
  // over (2m, 6m] only 100 fast acks remain.
  f.now += minutes(4);
  run(1250, 1250, 1260, 1260);
  CHECK(f.Alerts()[0].state == AlertState::kResolved);
}

TEST_CASE("brokers missing compares with the maximum of the last day the evaluator keeps", "[alerting]") {
  Fixture f;
  f.Make();
  auto brokers = [&](double n) {
    RunInputs r;
    r.collector = "cluster";
    r.published = r.success = true;
    r.samples["kafka_brokers"] = {{{}, n}};
    f.eval->OnRun(std::move(r));
  };
  const SysTime start = f.now;
  brokers(3);
  f.now += minutes(1);
  brokers(2);
  REQUIRE(f.Alerts().size() == 1);
  CHECK(f.Alerts()[0].state == AlertState::kPending);
  CHECK(f.Alerts()[0].value == 2);
  f.now = start + minutes(6);
  brokers(2);
  CHECK(f.Alerts()[0].state == AlertState::kFiring);
  CHECK(f.Alerts()[0].annotations.at("summary") ==
        "Kafka cluster has fewer brokers than during the last day");
  // A day after the 3 was seen it has left the window: resolved.
  f.now = start + std::chrono::hours(24);
  brokers(2);
  CHECK(f.Alerts()[0].state == AlertState::kResolved);
}

TEST_CASE("an evaluation that changes no alert shares the last snapshot's alerts, a change copies them",
          "[alerting]") {
  Fixture f;
  f.Make();
  const SysTime start = f.now;
  f.Lag({{"orders", 20000}, {"billing", 15000}});
  const auto first = f.eval->Current();
  REQUIRE(first->alerts.size() == 2);
  // Same inputs a minute later: new snapshot (time, generation), same alerts.
  f.now += minutes(1);
  f.Lag({{"orders", 20000}, {"billing", 15000}});
  const auto second = f.eval->Current();
  CHECK(second->generation == first->generation + 1);
  CHECK(second->evaluated_at == f.now);
  CHECK(second->rules_evaluated.at("KafkaConsumerGroupLagHigh") == f.now);
  CHECK(second->alerts.shared() == first->alerts.shared());
  CHECK(f.Find("orders")->state == AlertState::kPending);
  // A value changes: the alerts are copied, the earlier snapshot keeps its own.
  f.now += minutes(1);
  f.Lag({{"orders", 25000}, {"billing", 15000}});
  const auto third = f.eval->Current();
  CHECK(third->alerts.shared() != second->alerts.shared());
  CHECK(f.Find("orders")->value == 25000);
  CHECK(f.Find("orders")->annotations.at("description").find("25000") != std::string::npos);
  CHECK(second->alerts[1].value == 20000);  // ordered by labels: billing, orders
  // Only the changed alert is copied: billing's is the very same object.
  CHECK(&third->alerts[0] == &second->alerts[0]);
  CHECK(&third->alerts[1] != &second->alerts[1]);
  // `for` elapses on unchanged inputs: a state change is a change too.
  f.now = start + minutes(5);
  f.Lag({{"orders", 25000}, {"billing", 15000}});
  CHECK(f.eval->Current()->alerts.shared() != third->alerts.shared());
  CHECK(f.Find("orders")->state == AlertState::kFiring);
  CHECK(f.Find("orders")->fired_at == f.now);
  CHECK(third->alerts[1].state == AlertState::kPending);
  // A collector that fails freezes its rules: their time stays.
  const SysTime evaluated = f.now;
  f.now += minutes(1);
  f.Lag({}, false);
  CHECK(f.eval->Current()->rules_evaluated.at("KafkaConsumerGroupLagHigh") == evaluated);
  CHECK(f.eval->Current()->evaluated_at == f.now);
}
