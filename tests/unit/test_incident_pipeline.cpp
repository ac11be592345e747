// The incident events' pipeline (incidents/pipeline.h, incidents/publisher.h)
// over a temp-dir spool and a fake topic (tests/support/fake_producer.h):
// events in order per incident, nothing lost while Kafka is down or across a
// restart, failed deliveries and a fatal producer error sent again,
// re-notifications, a full spool, a spool that cannot be opened.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "incidents/pipeline.h"
#include "support/fake_producer.h"
#include "support/temp_dir.h"

using namespace dora;
using namespace dora::incidents;
using dora::test::FakeProducerFactory;
using dora::test::FakeTopic;
using dora::test::TempDir;
using namespace std::chrono_literals;

namespace {

class FakeAlerts : public alerting::AlertSource {
 public:
  std::shared_ptr<const alerting::AlertsSnapshot> Current() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return snap_;
  }
  void Set(std::vector<alerting::Alert> alerts) {
    std::sort(alerts.begin(), alerts.end(),
              [](const alerting::Alert& a, const alerting::Alert& b) { return a.labels < b.labels; });
    auto s = std::make_shared<alerting::AlertsSnapshot>();
    s->alerts = std::move(alerts);
    std::lock_guard<std::mutex> lock(mu_);
    snap_ = std::move(s);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const alerting::AlertsSnapshot> snap_ = std::make_shared<alerting::AlertsSnapshot>();
};

alerting::Alert Lagging(const std::string& group, alerting::SysTime active_at) {
  alerting::Alert a;
  a.labels = {{"alertname", "KafkaConsumerGroupLagHigh"}, {"severity", "ticket"}, {"consumergroup", group}};
  a.annotations = {{"summary", "Consumer group " + group + " lags"}};
  a.state = alerting::AlertState::kFiring;
  a.value = 12000;
  a.active_at = active_at;
  a.fired_at = active_at + 5min;
  return a;
}

alerting::Alert Resolved(alerting::Alert a, alerting::SysTime at) {
  a.state = alerting::AlertState::kResolved;
  a.resolved_at = at;
  return a;
}

struct Rig {
  TempDir dir{"dora-incidents"};
  std::shared_ptr<FakeTopic> topic = std::make_shared<FakeTopic>();
  prometheus::Registry registry;
  IncidentMetrics metrics{registry};
  std::atomic<int64_t> now_ms{1'700'000'000'000};
  PipelineOptions Options() {
    PipelineOptions o;
    o.config.enabled = true;
    o.config.instance = "unit";
    o.config.renotify_interval = Millis(0);
    o.config.spool.directory = dir.P("spool");
    o.cluster_id = [] { return std::string("cluster-1"); };
    o.publisher.make_producer = FakeProducerFactory(topic);
    o.publisher.initial_backoff = Millis(20);
    o.publisher.max_backoff = Millis(100);
    o.initial_backoff = Millis(20);
    o.max_backoff = Millis(100);
    o.clock = [this] { return alerting::SysTime(std::chrono::milliseconds(now_ms.load())); };
    return o;
  }
  alerting::SysTime Now() const { return alerting::SysTime(std::chrono::milliseconds(now_ms.load())); }
};

bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {  // bounded
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

std::vector<nlohmann::json> Events(const FakeTopic& t) {
  std::vector<nlohmann::json> out;
  for (const auto& m : t.messages()) {
    nlohmann::json j = nlohmann::json::parse(m.payload);
    CHECK(m.key == j["incident_id"]);  // the key is the incident id
    out.push_back(std::move(j));
  }
  return out;
}

// The first copy of each event, in topic order.
std::vector<nlohmann::json> Deduplicated(const std::vector<nlohmann::json>& events) {
  std::set<std::string> seen;
  std::vector<nlohmann::json> out;
  for (const auto& e : events)
    if (seen.insert(e["event_id"].get<std::string>()).second) out.push_back(e);
  return out;
}

double Value(prometheus::Counter& c) { return c.Value(); }

}  // namespace

TEST_CASE("an incident's opened and closed events reach the topic in order, keyed by its id",
          "[incidents][pipeline]") {
  Rig rig;
  Pipeline p(rig.Options(), &rig.metrics);
  p.Start();
  const auto detected = rig.Now() - 5min;
  const alerting::Alert a = Lagging("orders", detected);
  p.Submit(a, false);
  rig.now_ms += 60000;
  p.Submit(Resolved(a, rig.Now()), false);
  REQUIRE(WaitUntil([&] { return rig.topic->messages().size() == 2; }));
  auto ev = Events(*rig.topic);
  CHECK(ev[0]["event_type"] == "opened");
  CHECK(ev[0]["sequence"] == 0);
  CHECK(ev[1]["event_type"] == "closed");
  CHECK(ev[1]["sequence"] == 1);
  CHECK(ev[0]["incident_id"] == ev[1]["incident_id"]);
  CHECK(ev[0]["incident_id"] == IncidentId(a.labels, detected));
  CHECK(ev[0]["event_id"] != ev[1]["event_id"]);
  CHECK(ev[0]["cluster_id"] == "cluster-1");
  CHECK(ev[0]["instance"] == "unit");
  CHECK(ev[1]["resolved_at"] == "2023-11-14T22:14:20.000Z");
  CHECK(WaitUntil([&] { return Value(rig.metrics.delivered()) == 2; }));
  CHECK(Value(rig.metrics.events(EventType::kOpened)) == 1);
  CHECK(Value(rig.metrics.events(EventType::kClosed)) == 1);
  CHECK(Value(rig.metrics.spooled(EventType::kOpened)) == 1);
  CHECK(Value(rig.metrics.spooled(EventType::kClosed)) == 1);
  p.Stop();
  // Acknowledged: nothing is left to send.
  std::vector<std::string> warnings;
  auto spool = Spool::Open({rig.dir.P("spool"), 1 << 20, 0}, &warnings);
  REQUIRE(spool.ok());
  CHECK(spool.value()->pending_records() == 0);
}

TEST_CASE("events accepted while Kafka is down are all delivered after a restart, in order per incident",
          "[incidents][pipeline]") {
  Rig rig;
  rig.topic->SetMode(FakeTopic::Mode::kDown);
  std::vector<alerting::Alert> alerts;
  {
    Pipeline p(rig.Options(), &rig.metrics);
    p.Start();
    for (const char* g : {"a", "b", "c"}) {
      alerts.push_back(Lagging(g, rig.Now()));
      p.Submit(alerts.back(), false);
    }
    for (const auto& a : alerts) p.Submit(Resolved(a, rig.Now() + 1min), false);
    REQUIRE(WaitUntil([&] { return p.accepted() == 6; }));
    std::this_thread::sleep_for(200ms);
    CHECK(rig.topic->messages().empty());
    p.Stop();
  }
  CHECK(Value(rig.metrics.delivered()) == 0);
  rig.topic->SetMode(FakeTopic::Mode::kUp);
  Pipeline p(rig.Options(), &rig.metrics);
  p.Start();
  REQUIRE(WaitUntil([&] { return rig.topic->messages().size() >= 6; }));
  const auto ev = Deduplicated(Events(*rig.topic));
  REQUIRE(ev.size() == 6);
  std::map<std::string, std::vector<std::string>> by_incident;
  for (const auto& e : ev) by_incident[e["incident_id"]].push_back(e["event_type"]);
  REQUIRE(by_incident.size() == 3);
  for (const auto& [id, types] : by_incident) CHECK(types == std::vector<std::string>{"opened", "closed"});
  p.Stop();
}

TEST_CASE("a failed delivery is produced again from the oldest unacknowledged event",
          "[incidents][pipeline]") {
  Rig rig;
  rig.topic->SetMode(FakeTopic::Mode::kReject);
  Pipeline p(rig.Options(), &rig.metrics);
  p.Start();
  const alerting::Alert a = Lagging("orders", rig.Now());
  p.Submit(a, false);
  p.Submit(Resolved(a, rig.Now() + 1min), false);
  REQUIRE(WaitUntil([&] { return Value(rig.metrics.failed()) >= 2; }));
  CHECK(rig.topic->messages().empty());
  rig.topic->SetMode(FakeTopic::Mode::kUp);
  REQUIRE(WaitUntil([&] { return Value(rig.metrics.delivered()) >= 2; }));
  const auto ev = Deduplicated(Events(*rig.topic));
  REQUIRE(ev.size() == 2);
  CHECK(ev[0]["event_type"] == "opened");
  CHECK(ev[1]["event_type"] == "closed");
  p.Stop();
}

TEST_CASE("a fatal producer error rebuilds the producer and loses nothing", "[incidents][pipeline]") {
  Rig rig;
  rig.topic->SetMode(FakeTopic::Mode::kDown);
  Pipeline p(rig.Options(), &rig.metrics);
  p.Start();
  const alerting::Alert a = Lagging("orders", rig.Now());
  p.Submit(a, false);
  REQUIRE(WaitUntil([&] { return p.accepted() == 1; }));
  rig.topic->SetFatal("Broker: Producer attempted an operation with an old epoch");
  rig.topic->SetMode(FakeTopic::Mode::kUp);
  p.Submit(Resolved(a, rig.Now() + 1min), false);
  REQUIRE(WaitUntil([&] { return Deduplicated(Events(*rig.topic)).size() == 2; }));
  CHECK(rig.topic->producers_made() >= 2);
  const auto ev = Deduplicated(Events(*rig.topic));
  CHECK(ev[0]["event_type"] == "opened");
  CHECK(ev[1]["event_type"] == "closed");
  p.Stop();
}

TEST_CASE("re-notifications repeat a firing incident and are the first dropped when the spool fills",
          "[incidents][pipeline]") {
  Rig rig;
  rig.topic->SetMode(FakeTopic::Mode::kDown);  // nothing leaves the spool
  FakeAlerts source;
  std::vector<alerting::Alert> alerts;
  for (int i = 0; i < 10; ++i) alerts.push_back(Lagging("group-" + std::to_string(i), rig.Now()));
  source.Set(alerts);
  // Room for 26 events: opened (10) + re-notified up to half, closed (10) in the rest.
  IncidentEvent sample = EventFromAlert(EventType::kRenotified, alerts[0], rig.Now());
  sample.event_id = NewEventId();
  sample.cluster_id = "cluster-1";
  sample.instance = "unit";
  const size_t event_size = ToJson(sample).size() + 24 + 36 + 8;
  PipelineOptions o = rig.Options();
  o.alerts = &source;
  o.config.renotify_interval = Millis(3600 * 1000);
  o.config.spool.max_bytes = static_cast<int>(26 * event_size);
  Pipeline p(std::move(o), &rig.metrics);
  p.Start();
  for (const auto& a : alerts) p.Submit(a, false);
  REQUIRE(WaitUntil([&] { return p.accepted() == 10; }));
  // An hour later every incident is re-notified; the spool takes them up to half its bound.
  rig.now_ms += 3601 * 1000;
  REQUIRE(WaitUntil([&] { return Value(rig.metrics.events(EventType::kRenotified)) == 10; }));
  REQUIRE(WaitUntil([&] {
    return Value(rig.metrics.spooled(EventType::kRenotified)) +
               Value(rig.metrics.dropped(EventType::kRenotified, kDropSpoolFull)) ==
           10;
  }));
  const double renotified = Value(rig.metrics.spooled(EventType::kRenotified));
  CHECK(renotified >= 1);
  CHECK(renotified <= 4);
  CHECK(Value(rig.metrics.dropped(EventType::kRenotified, kDropSpoolFull)) >= 6);
  // The incidents close: every closed event is kept.
  for (const auto& a : alerts) p.Submit(Resolved(a, rig.Now()), false);
  REQUIRE(WaitUntil([&] { return Value(rig.metrics.spooled(EventType::kClosed)) == 10; }));
  CHECK(Value(rig.metrics.dropped(EventType::kOpened, kDropSpoolFull)) == 0);
  CHECK(Value(rig.metrics.dropped(EventType::kClosed, kDropSpoolFull)) == 0);
  // Delivered in order per incident: opened, re-notified (when kept), closed.
  rig.topic->SetMode(FakeTopic::Mode::kUp);
  REQUIRE(WaitUntil([&] { return rig.topic->messages().size() == static_cast<size_t>(20 + renotified); }));
  std::map<std::string, std::vector<int>> sequences;
  for (const auto& e : Deduplicated(Events(*rig.topic))) sequences[e["incident_id"]].push_back(e["sequence"]);
  REQUIRE(sequences.size() == 10);
  for (const auto& entry : sequences) {
    const auto& seq = entry.second;
    CHECK(std::is_sorted(seq.begin(), seq.end()));
    CHECK(seq.front() == 0);
  }
  p.Stop();
}

TEST_CASE("without a usable spool directory events wait in memory, bounded, and nothing crashes",
          "[incidents][pipeline]") {
  Rig rig;
  PipelineOptions o = rig.Options();
  o.config.spool.directory = rig.dir.Write("file", "x") + "/spool";  // under a file: cannot be created
  o.queue_capacity = 4;
  Pipeline p(std::move(o), &rig.metrics);
  p.Start();
  for (int i = 0; i < 6; ++i) p.Submit(Lagging("g" + std::to_string(i), rig.Now()), false);
  REQUIRE(WaitUntil([&] { return Value(rig.metrics.dropped(EventType::kOpened, kDropQueueFull)) == 2; }));
  CHECK(p.accepted() == 0);
  p.Stop();
  CHECK(rig.topic->messages().empty());
}

TEST_CASE("an incident open across a restart goes on with its id when its alert fires again",
          "[incidents][pipeline]") {
  Rig rig;
  const alerting::Alert first = Lagging("orders", rig.Now() - 5min);
  {
    Pipeline p(rig.Options(), &rig.metrics);
    p.Start();
    p.Submit(first, false);
    REQUIRE(WaitUntil([&] { return rig.topic->messages().size() == 1; }));
    p.Stop();  // the daemon restarts: its evaluator starts afresh
  }
  rig.now_ms += 60000;
  const alerting::Alert again = Lagging("orders", rig.Now());  // a new pending start
  Pipeline p(rig.Options(), &rig.metrics);
  p.Start();
  p.Submit(again, false);
  p.Submit(Resolved(again, rig.Now() + 1min), false);
  REQUIRE(WaitUntil([&] { return rig.topic->messages().size() == 3; }));
  const auto ev = Events(*rig.topic);
  CHECK(ev[0]["event_type"] == "opened");
  CHECK(ev[1]["event_type"] == "renotified");
  CHECK(ev[2]["event_type"] == "closed");
  for (const auto& e : ev) {
    CHECK(e["incident_id"] == IncidentId(first.labels, first.active_at));
    CHECK(e["detected_at"] == ev[0]["detected_at"]);
    CHECK(e["started_at"] == ev[0]["started_at"]);
  }
  CHECK(ev[1]["sequence"] == 1);
  CHECK(ev[2]["sequence"] == 2);
  CHECK(ev[2]["close_reason"] == "resolved");
  p.Stop();
}

TEST_CASE("an incident whose alert does not fire again after a restart is closed with close_reason restart",
          "[incidents][pipeline]") {
  Rig rig;
  FakeAlerts source;
  const alerting::Alert a = Lagging("orders", rig.Now());
  {
    PipelineOptions o = rig.Options();
    o.alerts = &source;
    Pipeline p(std::move(o), &rig.metrics);
    p.Start();
    p.Submit(a, false);
    REQUIRE(WaitUntil([&] { return rig.topic->messages().size() == 1; }));
    p.Stop();
  }
  // After the restart the alert is pending again: the incident waits.
  alerting::Alert pending = a;
  pending.state = alerting::AlertState::kPending;
  pending.active_at = rig.Now() + 1min;
  source.Set({pending});
  rig.now_ms += 120000;
  PipelineOptions o = rig.Options();
  o.alerts = &source;
  o.orphan_grace = Millis(0);
  Pipeline p(std::move(o), &rig.metrics);
  p.Start();
  std::this_thread::sleep_for(1500ms);  // the writer looks every second
  CHECK(rig.topic->messages().size() == 1);
  // The condition went away before `for` elapsed: the incident is closed.
  source.Set({});
  REQUIRE(WaitUntil([&] { return rig.topic->messages().size() == 2; }));
  const auto ev = Events(*rig.topic);
  CHECK(ev[1]["event_type"] == "closed");
  CHECK(ev[1]["close_reason"] == "restart");
  CHECK(ev[1]["incident_id"] == ev[0]["incident_id"]);
  CHECK(ev[1]["sequence"] == 1);
  CHECK(ev[1]["resolved_at"] == "2023-11-14T22:15:20.000Z");
  CHECK(ev[1]["annotations"] == ev[0]["annotations"]);
  p.Stop();
  // Closed for good: a third start has nothing left open.
  PipelineOptions third = rig.Options();
  third.orphan_grace = Millis(0);
  Pipeline q(std::move(third), &rig.metrics);
  q.Start();
  std::this_thread::sleep_for(1500ms);
  CHECK(rig.topic->messages().size() == 2);
  q.Stop();
}
