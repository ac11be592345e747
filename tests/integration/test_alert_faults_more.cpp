// The daemon pages by itself, part 2 (part 1: test_alert_faults.cpp): the
// seed thresholds part 1 leaves out, each caused by a real fault, evaluated
// by the daemon's built-in evaluator, pushed to a real Alertmanager (Debian's,
// the shipped config/alertmanager.yml with group_wait and group_interval 1 s)
// and routed to a webhook (HookServer). No Prometheus anywhere. Each fault is
// timed from the moment the test causes it to the webhook POST that carries
// the alert, and each recovery to the webhook POST whose status is
// "resolved".
//
// Bound: collection interval + the alert's `for` + 5 s, with `for` shortened
// through alerting.rules.<name>.for and the shipped thresholds kept:
//   KafkaBrokerDiskUsageHigh: a real broker's only log dir on a 20 MB file
//     system, filled past 80% by producing to it, freed by deleting the topic.
//   KafkaSchemaRegistryDown: the registry stops listening, then listens
//     again on the same port.
//   KafkaReplicationLatencyHigh: a follower frozen (SIGSTOP) for 5.5 s holds
//     acks=all probe acks of its leaders above 5 s. Its p99 is over 5 minutes,
//     so its recovery is when the slow acks are no more than 1% of the
//     window's (see that TEST_CASE).

// GCC 12 at -O2 sees a null dereference inside nlohmann's getters (a false
// positive, as in test_alertmanager.cpp).
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "support/alert_webhook.h"
#include "support/alertmanager.h"
#include "support/daemon.h"
#include "support/fake_registry.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"
#include "support/small_fs.h"
#include "support/temp_dir.h"

using namespace dora::test;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

using Clock = HookClock;

// After recovery the daemon needs one collection to see it, then the push and
// one Alertmanager group_interval (1 s).
constexpr auto kSlack = 5s;

// A webhook (HookServer), a real Alertmanager routing to it, and the
// daemon's configuration file: it pushes to that Alertmanager.
struct Pager {
  HookServer hook;
  AlertmanagerProcess am{hook.port()};
  TempDir dir;
  explicit Pager(const std::string& name) : dir(name) {}
  // Starts Alertmanager (bounded); on failure says why.
  bool Start() {
    if (am.Start()) return true;
    UNSCOPED_INFO(am.log());
    return false;
  }
  // The configuration with `collectors` (lines under "collectors:", besides
  // offsets, consumer_groups and broker_stats, which are off) and `rules`
  // (lines under "alerting.rules:").
  std::string Config(const std::string& collectors, const std::string& rules) const {
    std::ostringstream config;
    config << "collectors:\n"
              "  offsets: {enabled: false}\n"
              "  consumer_groups: {enabled: false}\n"
              "  broker_stats: {enabled: false}\n"
           << collectors << "retry: {initial_backoff: 200ms, max_backoff: 1s}\n"
           << "alerting:\n"
              "  alertmanagers: [{name: am, url: '"
           << am.url() << "', timeout: 5s}]\n"
           << "  rules:\n"
           << rules;
    return dir.Write("exporter.yaml", config.str());
  }
};

// Waits (bounded) for the first webhook notification since `since` that carries
// `name` with `labels` in `status`.
std::optional<Notification> WaitNotified(HookServer& hook, Clock::time_point since, const std::string& status,
                                         const std::string& name, const LabelMatch& labels,
                                         std::chrono::milliseconds timeout) {
  hook.WaitFor([&](const auto& p) { return First(p, since, status, name, labels).has_value(); }, timeout);
  return First(hook.posts(), since, status, name, labels);
}

// The checks every firing and resolved notification of these tests passes.
void CheckNotification(const Notification& n, const std::string& receiver, const std::string& name,
                       const LabelMatch& labels, const json& want_labels) {
  CHECK(n.path == "/" + receiver);
  CHECK(n.body["receiver"] == receiver);
  const json a = AlertIn(n, name, labels);
  REQUIRE(a.is_object());
  CHECK(a["labels"] == want_labels);
}

// After the test: nothing but `alert` reached the webhook, every push was
// accepted, and the daemon is quiet again and still running.
void CheckQuiet(Daemon& d, const HookServer& hook, const std::string& alert, std::vector<Sample>* s) {
  CHECK(AlertNames(hook.posts()) == std::set<std::string>{alert});
  REQUIRE(d.WaitFor([&](const auto&) { return DaemonAlerts(d.port()).empty(); }, 20s, s));
  CHECK(Find(*s, "kafka_exporter_notifications_failed_total", {{"alertmanager", "am"}}) == 0.0);
  CHECK(d.Running());
}

}  // namespace

TEST_CASE("alert faults: a broker log dir filled past 80% pages KafkaBrokerDiskUsageHigh, then resolves",
          "[alert-faults-2][kafka][alertmanager][disk]") {
  REQUIRE_FALSE(AlertmanagerProcess::Binary().empty());
  SmallFs small;
  if (!small.mounted) {
    WARN("cannot mount a loop or tmpfs file system here (not root?): skipped");
    return;
  }
  constexpr auto kInterval = 1s;  // log_dirs
  constexpr auto kFor = 10s;      // shipped: 5m
  INFO(small.kind);
  const auto t_begin = Clock::now();
  // A directory below the mount point: ext4's lost+found is no partition
  // directory, and Kafka refuses to load a log dir holding one.
  const std::string log_dir = small.dir + "/kafka";
  fs::create_directories(log_dir);
  // The broker's only log dir (and its KRaft metadata log) is on the small
  // file system. A deleted topic's files go at once, not after a minute.
  auto kafka = KafkaCluster::Start(1, KafkaCluster::DefaultVersion(),
                                   {"log.dirs=" + log_dir, "log.segment.delete.delay.ms=0"});
  const std::string bs = kafka->bootstrap();
  kafka->CreateTopic("filler", 1, 1);
  Pager pager("dora-alert-disk");
  REQUIRE(pager.Start());
  HookServer& hook = pager.hook;
  const std::string cfg = pager.Config(
      "  cluster: {interval: 1s, timeout: 5s}\n"
      "  log_dirs: {enabled: true, interval: 1s, broker_id: \"1\", paths: ['" +
          log_dir + "']}\n",
      "    KafkaBrokerDiskUsageHigh: {for: 10s}\n");
  Daemon d({"--config", cfg, "--kafka.server=" + bs});
  REQUIRE(d.WaitHealthy());
  INFO(d.Log());
  const double used_before = StatvfsUsed(log_dir);
  std::vector<Sample> s;
  REQUIRE(d.WaitFor(
      [&](const auto& x) {
        auto r = Find(x, "kafka_log_dir_used_ratio", {{"broker", "1"}, {"log_dir", log_dir}});
        return r && *r < 0.8;
      },
      20s, &s));
  REQUIRE(used_before < 0.5);

  // ---- Fault: produce 512 KiB at a time (8 records of 64 KiB, acks=all)
  // into the broker's log until the file system is more than 84% used (it
  // must not fill: a full log dir takes the broker down). The fault starts
  // with the step that crosses 80%.
  Clock::time_point t_fault{};
  double used = used_before;
  int steps = 0;
  for (; steps < 60 && used <= 0.84; ++steps) {
    const auto t_step = Clock::now();
    REQUIRE(ProduceMessages(bs, "filler", 8, 0, 0, 64 * 1024) == 8);
    used = StatvfsUsed(log_dir);
    if (used > 0.8 && t_fault == Clock::time_point{}) t_fault = t_step;
  }
  REQUIRE(used > 0.84);
  REQUIRE(used < 0.95);
  const LabelMatch labels = {{"broker", "1"}, {"log_dir", log_dir}, {"severity", "ticket"}};
  const auto fired = WaitNotified(hook, t_fault, "firing", "KafkaBrokerDiskUsageHigh", labels, 60s);
  REQUIRE(fired);
  const double fire_s = Seconds(fired->at - t_fault);
  CHECK(fire_s <= Seconds(kInterval + kFor + kSlack));
  CheckNotification(*fired, "ticket", "KafkaBrokerDiskUsageHigh", labels,
                    {{"alertname", "KafkaBrokerDiskUsageHigh"},
                     {"broker", "1"},
                     {"log_dir", log_dir},
                     {"severity", "ticket"}});
  const json a = AlertIn(*fired, "KafkaBrokerDiskUsageHigh", labels);
  CHECK(a["annotations"]["summary"] == "Broker 1 log dir " + log_dir + " is more than 80% full");
  const std::string description = a["annotations"]["description"];
  CHECK(description.rfind("Log dir " + log_dir + " of broker 1 is 8", 0) == 0);  // 80-89%
  CHECK(description.find("% full, above the 80% threshold") != std::string::npos);

  // ---- Recovery: the topic is deleted, and the broker deletes its files.
  // Recovered when the file system is no more than 80% used (polled every 50 ms).
  const auto t_delete = Clock::now();
  kafka->DeleteTopic("filler");
  Clock::time_point t_freed{};
  for (int i = 0; i < 600 && t_freed == Clock::time_point{}; ++i) {
    if (StatvfsUsed(log_dir) <= 0.8)
      t_freed = Clock::now();
    else
      std::this_thread::sleep_for(50ms);
  }
  REQUIRE(t_freed != Clock::time_point{});
  const auto resolved = WaitNotified(hook, t_freed, "resolved", "KafkaBrokerDiskUsageHigh", labels, 30s);
  REQUIRE(resolved);
  const double resolve_s = Seconds(resolved->at - t_freed);
  CHECK(resolve_s <= Seconds(kInterval + kSlack));
  CheckNotification(*resolved, "ticket", "KafkaBrokerDiskUsageHigh", labels,
                    {{"alertname", "KafkaBrokerDiskUsageHigh"},
                     {"broker", "1"},
                     {"log_dir", log_dir},
                     {"severity", "ticket"}});

  CheckQuiet(d, hook, "KafkaBrokerDiskUsageHigh", &s);
  std::printf(
      "[alert-faults-2] KafkaBrokerDiskUsageHigh (%s, interval %.0fs, for %.0fs, bound %.0fs): used "
      "%.0f%% -> %.0f%% in %d produce steps; the step crossing 80%% -> firing webhook %.1fs; topic deleted "
      "-> <= 80%% in %.1fs -> resolved webhook %.1fs; whole test %.0fs\n",
      small.kind.c_str(), Seconds(kInterval), Seconds(kFor), Seconds(kInterval + kFor + kSlack),
      used_before * 100, used * 100, steps, fire_s, Seconds(t_freed - t_delete), resolve_s,
      Seconds(Clock::now() - t_begin));
  std::fflush(stdout);
}

// The registry is FakeRegistry, an in-process fake of the Confluent Schema
// Registry REST API (support/fake_registry.h). That is fair here: what is
// under test is the daemon noticing that the registry no longer answers and
// paging, not the registry; the fault is a real one at the daemon's end (the
// port refuses connections), as when a registry process dies. No Kafka is
// needed: only the schema_registry collector runs.
TEST_CASE("alert faults: a schema registry that stops listening pages KafkaSchemaRegistryDown, then resolves",
          "[alert-faults-2][alertmanager][schema_registry]") {
  REQUIRE_FALSE(AlertmanagerProcess::Binary().empty());
  constexpr auto kInterval = 1s;  // schema_registry
  constexpr auto kFor = 10s;      // shipped: 2m
  const auto t_begin = Clock::now();
  auto reg = std::make_unique<FakeRegistry>();
  REQUIRE(reg->running());
  reg->SetSubject("orders-value", 2);
  const int reg_port = reg->port();
  const std::string registry = reg->url();  // --schema-registry.url names the registry by its URL
  Pager pager("dora-alert-registry");
  REQUIRE(pager.Start());
  HookServer& hook = pager.hook;
  const std::string cfg = pager.Config(
      "  cluster: {enabled: false}\n"
      "  schema_registry: {interval: 1s, timeout: 2s}\n",
      "    KafkaSchemaRegistryDown: {for: 10s}\n");
  Daemon d({"--config", cfg, DeadBroker(), "--schema-registry.url=" + registry});
  REQUIRE(d.WaitHealthy());
  INFO(d.Log());
  std::vector<Sample> s;
  REQUIRE(d.WaitFor(
      [&](const auto& x) {
        return Find(x, "kafka_schema_registry_up", {{"registry", registry}}) == 1.0;
      },
      20s, &s));

  // ---- Fault: the registry stops listening (Stop returns once it has).
  const auto t_fault = Clock::now();
  reg->Stop();
  reg.reset();
  const LabelMatch labels = {{"registry", registry}, {"severity", "page"}};
  const json want = {{"alertname", "KafkaSchemaRegistryDown"}, {"registry", registry}, {"severity", "page"}};
  const auto fired = WaitNotified(hook, t_fault, "firing", "KafkaSchemaRegistryDown", labels, 60s);
  REQUIRE(fired);
  const double fire_s = Seconds(fired->at - t_fault);
  CHECK(fire_s <= Seconds(kInterval + kFor + kSlack));
  CheckNotification(*fired, "pager", "KafkaSchemaRegistryDown", labels, want);
  CHECK(AlertIn(*fired, "KafkaSchemaRegistryDown", labels)["annotations"]["summary"] ==
        "Schema registry " + registry + " is unavailable");
  REQUIRE(d.WaitFor(
      [&](const auto& x) {
        return Find(x, "kafka_schema_registry_up", {{"registry", registry}}) == 0.0;
      },
      5s, &s));

  // ---- Recovery: a registry listens on the same port again.
  FakeRegistry::Options options;
  options.port = reg_port;
  FakeRegistry back(options);
  REQUIRE(back.running());
  back.SetSubject("orders-value", 2);
  const auto t_back = Clock::now();
  const auto resolved = WaitNotified(hook, t_back, "resolved", "KafkaSchemaRegistryDown", labels, 30s);
  REQUIRE(resolved);
  const double resolve_s = Seconds(resolved->at - t_back);
  CHECK(resolve_s <= Seconds(kInterval + kSlack));
  CheckNotification(*resolved, "pager", "KafkaSchemaRegistryDown", labels, want);

  CheckQuiet(d, hook, "KafkaSchemaRegistryDown", &s);
  CHECK(Find(s, "kafka_schema_registry_up", {{"registry", registry}}) == 1.0);
  std::printf(
      "[alert-faults-2] KafkaSchemaRegistryDown (interval %.0fs, for %.0fs, bound %.0fs): registry stopped "
      "-> "
      "firing webhook %.1fs; listening again -> resolved webhook %.1fs; whole test %.0fs\n",
      Seconds(kInterval), Seconds(kFor), Seconds(kInterval + kFor + kSlack), fire_s, resolve_s,
      Seconds(Clock::now() - t_begin));
  std::fflush(stdout);
}

namespace {

const std::string kProbeTopic = "__dora_kafka_exporter_probe";

// The pid of node `id`'s JVM, as kafkactl recorded it (0 if unknown).
pid_t NodePid(const KafkaCluster& kafka, int id) {
  std::ifstream f(kafka.dir() + "/node-" + std::to_string(id) + "/pid");
  pid_t pid = 0;
  f >> pid;
  return pid;
}

// The daemon's kafka_probe_produce_latency_seconds of each broker as /metrics
// shows it, read every 100 ms while it lives (at most 6 minutes): the
// cumulative counts of the le="5" and le="+Inf" buckets.
class LatencyHistory {
 public:
  struct Point {
    Clock::time_point at;
    double le5 = 0, all = 0;
  };
  explicit LatencyHistory(int port) {
    thread_ = std::thread([this, port] {
      const auto end = Clock::now() + 6min;
      while (!stop_ && Clock::now() < end) {
        const auto now = Clock::now();
        const auto s = ParseExposition(HttpGet(port, "/metrics").body);
        {
          std::lock_guard<std::mutex> lock(mu_);
          for (const auto& inf : FindAll(s, "kafka_probe_produce_latency_seconds_bucket", {{"le", "+Inf"}})) {
            const std::string b = inf.labels.at("broker");
            const auto le5 =
                Find(s, "kafka_probe_produce_latency_seconds_bucket", {{"broker", b}, {"le", "5"}});
            if (le5) points_[b].push_back({now, *le5, inf.value});
          }
        }
        std::this_thread::sleep_for(100ms);
      }
    });
  }
  ~LatencyHistory() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Acks of `broker` over 5 s and in all within the 5 minutes before `t`, as
  // the evaluator's increase() counts them.
  std::pair<double, double> Window(const std::string& broker, Clock::time_point t) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = points_.find(broker);
    if (it == points_.end()) return {0, 0};
    const Point* first = nullptr;
    const Point* last = nullptr;
    for (const Point& p : it->second) {
      if (p.at <= t - 5min || p.at > t) continue;
      if (first == nullptr) first = &p;
      last = &p;
    }
    if (first == nullptr) return {0, 0};
    return {(last->all - last->le5) - (first->all - first->le5), last->all - first->all};
  }
  // After the first reading since `since` at which more than 1% of the
  // window's acks of `broker` took over 5 s (p99 above 5 s), the first at
  // which no more than 1% did, i.e. the p99 is 5 s or less again (the le="5"
  // bucket holds the 99th percentile), if any.
  std::optional<Clock::time_point> P99AtMost5s(const std::string& broker, Clock::time_point since) const {
    std::vector<Clock::time_point> times;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = points_.find(broker);
      if (it == points_.end()) return std::nullopt;
      for (const Point& p : it->second)
        if (p.at >= since) times.push_back(p.at);
    }
    bool above = false;
    for (const auto t : times) {
      const auto [slow, all] = Window(broker, t);
      if (all > 0 && slow > 0.01 * all) above = true;
      if (above && slow <= 0.01 * all) return t;
    }
    return std::nullopt;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<Point>> points_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

// The fault of test_faults.cpp's "a follower frozen for 6 s": SIGSTOP of a
// broker that follows the probe partitions of the other two, so their
// acks=all acks wait for it. The probe sends every 100 ms; the messages sent
// in the first ~0.5 s of a 5.5 s freeze (plus the time the thawed follower
// takes to fetch) are acked more than 5 s later, so the p99 over 5 minutes goes above 5 s for every leader
// whose follower froze (the frozen broker's own partition too: it answers nothing). The acks, and so the
// latencies, arrive at the thaw: the fire bound is the freeze + interval + `for` + 5 s.
//
// The alert is on the p99 over 5 minutes: it ends when the slow acks are no
// more than 1% of the window's (or when they leave it, 5 minutes after the
// thaw), i.e. once 100x as many acks came as were slow, 10 s of probing per
// slow ack here. The test reads that moment from the daemon's histogram
// itself (LatencyHistory): the resolve bound is interval + 5 s from it. The
// freeze is kept just over 5 s so that the slow acks are few (2-11) and the
// test short; the window is not configurable, and not shortened for the test.
// (With a full window, i.e. a daemon up for 5 minutes, it takes over 3 s of
// acks above 5 s to page at all.)
//
// It takes 55-172 s; it passed 8 of 9 runs on a loaded machine in earlier
// forms, and its final form passed every run so far (101 s in session 10).
TEST_CASE("alert faults: a follower frozen for 5.5 s pages KafkaReplicationLatencyHigh, then resolves",
          "[alert-faults-latency][kafka][alertmanager][probe]") {
  REQUIRE_FALSE(AlertmanagerProcess::Binary().empty());
  constexpr auto kInterval = 100ms;  // probe
  constexpr auto kFor = 5s;          // shipped: 5m
  constexpr auto kFreeze = 5500ms;
  const auto t_begin = Clock::now();
  auto kafka = KafkaCluster::Start(3);
  Pager pager("dora-alert-latency");
  REQUIRE(pager.Start());
  HookServer& hook = pager.hook;
  const std::string cfg = pager.Config(
      "  cluster: {interval: 1s, timeout: 3s}\n"
      "  probe: {enabled: true, interval: 100ms, timeout: 5s, sla: 20s, "
      "topic_check_interval: 5s}\n",
      "    KafkaReplicationLatencyHigh: {for: 5s}\n");
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  LatencyHistory history(d.port());
  INFO(d.Log());
  std::vector<Sample> s;
  const int frozen = 3;
  // Healthy: every probe partition has all three replicas in sync (so the
  // frozen broker follows the partitions led by 1 and 2) and acks come.
  REQUIRE(d.WaitFor(
      [&](const auto& x) {
        auto isr = FindAll(x, "kafka_topic_partition_in_sync_replica", {{"topic", kProbeTopic}});
        bool all_in_sync = isr.size() == 3;
        for (const auto& i : isr) all_in_sync = all_in_sync && i.value == 3.0;
        return all_in_sync &&
               Find(x, "kafka_probe_produce_latency_seconds_count", {{"broker", "1"}}).value_or(0) >= 20 &&
               Find(x, "kafka_probe_produce_latency_seconds_count", {{"broker", "2"}}).value_or(0) >= 20;
      },
      90s, &s));
  std::set<std::string> followed;  // leaders of a probe partition the frozen broker follows
  for (const auto& l : FindAll(s, "kafka_topic_partition_leader", {{"topic", kProbeTopic}}))
    if (l.value >= 1 && l.value != frozen) followed.insert(std::to_string(static_cast<int>(l.value)));
  REQUIRE_FALSE(followed.empty());
  CHECK(Find(s, "kafka_probe_failures_total") == 0.0);
  CHECK(hook.posts().empty());

  // ---- Fault. The signals go straight to the broker's JVM (the pid kafkactl
  // recorded), not through kafkactl, whose start-up (0.3-0.6 s here) would
  // make the freeze, and so the number of slow acks, vary.
  const pid_t pid = NodePid(*kafka, frozen);
  REQUIRE(pid > 1);
  const auto t_freeze = Clock::now();
  REQUIRE(kill(pid, SIGSTOP) == 0);
  ThawGuard guard{kafka.get(), frozen};
  std::this_thread::sleep_for(kFreeze);
  REQUIRE(kill(pid, SIGCONT) == 0);
  guard.armed = false;
  const auto t_thaw = Clock::now();
  const auto fire_bound = (t_thaw - t_freeze) + kInterval + kFor + kSlack;

  // Every leader the frozen broker follows pages.
  const auto page = [](const std::string& b) { return LabelMatch{{"broker", b}, {"severity", "page"}}; };
  REQUIRE(hook.WaitFor(
      [&](const auto& p) {
        for (const auto& b : followed)
          if (!First(p, t_freeze, "firing", "KafkaReplicationLatencyHigh", page(b))) return false;
        return true;
      },
      60s));
  // The frozen broker's own partition may page too (it answers nothing while
  // frozen): the brokers paged so far.
  const auto paged = [&](const std::vector<HookServer::Post>& p) {
    std::set<std::string> out;
    for (const auto& n : Notifications(p, t_freeze))
      for (const json& a : n.body["alerts"])
        if (Matches(a, "KafkaReplicationLatencyHigh", {{"severity", "page"}}))
          out.insert(a["labels"]["broker"]);
    return out;
  };
  std::map<std::string, double> fire_s;
  for (const auto& b : paged(hook.posts())) {
    const auto n = *First(hook.posts(), t_freeze, "firing", "KafkaReplicationLatencyHigh", page(b));
    fire_s[b] = Seconds(n.at - t_freeze);
    CHECK(fire_s[b] <= Seconds(fire_bound));
    CheckNotification(n, "pager", "KafkaReplicationLatencyHigh", page(b),
                      {{"alertname", "KafkaReplicationLatencyHigh"}, {"broker", b}, {"severity", "page"}});
    const json a = AlertIn(n, "KafkaReplicationLatencyHigh", page(b));
    CHECK(a["annotations"]["summary"] == "acks=all produce latency on broker " + b + " is above 5 s");
    const std::string description = a["annotations"]["description"];
    CHECK(description.rfind("The p99 acks=all ack latency of probe messages led by broker " + b + " is ",
                            0) == 0);
    CHECK(description.find("s over 5 minutes (threshold 5 s)") != std::string::npos);
  }

  // ---- Recovery: each paged broker's alert resolves once its p99 over the
  // window is 5 s or less again, at most 5 minutes after the thaw.
  const auto resolved_all = [&](const std::vector<HookServer::Post>& p) {
    for (const auto& b : paged(p))
      if (!First(p, t_thaw, "resolved", "KafkaReplicationLatencyHigh", page(b))) return false;
    return true;
  };
  REQUIRE(hook.WaitFor(resolved_all, 5min + 1s + kSlack));
  // The daemon may resolve on the very ack count the test has not read yet:
  // it reads on a while longer.
  std::this_thread::sleep_for(2s);
  history.Stop();
  const std::set<std::string> brokers_paged = paged(hook.posts());
  CHECK(brokers_paged.size() <= 3);
  std::map<std::string, double> recovered_s, resolve_s;
  for (const auto& b : brokers_paged) {
    if (!fire_s.count(b)) {  // paged after the others
      const auto n = *First(hook.posts(), t_freeze, "firing", "KafkaReplicationLatencyHigh", page(b));
      fire_s[b] = Seconds(n.at - t_freeze);
      CHECK(fire_s[b] <= Seconds(fire_bound));
    }
    const auto n = *First(hook.posts(), t_thaw, "resolved", "KafkaReplicationLatencyHigh", page(b));
    CheckNotification(n, "pager", "KafkaReplicationLatencyHigh", page(b),
                      {{"alertname", "KafkaReplicationLatencyHigh"}, {"broker", b}, {"severity", "page"}});
    const auto recovered = history.P99AtMost5s(b, t_thaw);
    INFO("broker " << b << ": " << history.Window(b, t_thaw + 2s).first << " of "
                   << history.Window(b, t_thaw + 2s).second << " acks over 5 s at the thaw");
    REQUIRE(recovered);
    recovered_s[b] = Seconds(*recovered - t_thaw);
    resolve_s[b] = Seconds(n.at - *recovered);
    CHECK(resolve_s[b] <= Seconds(kInterval + kSlack));
    // Not before the window allows: the daemon and the test read the same
    // counters, the test every 100 ms (later under load).
    CHECK(resolve_s[b] >= -2.0);
  }

  CheckQuiet(d, hook, "KafkaReplicationLatencyHigh", &s);
  CHECK(Find(s, "kafka_probe_messages_lost_total") == 0.0);
  std::string per_broker;
  for (const auto& b : brokers_paged) {
    const auto [slow, all] = history.Window(b, t_thaw + 2s);
    char line[256];
    std::snprintf(
        line, sizeof line,
        "\n[alert-faults-2]   broker %s%s: %.0f of %.0f acks over 5 s at the thaw; firing webhook %.1fs "
        "after the freeze; p99 <= 5 s %.1fs after the thaw -> resolved webhook %.1fs",
        b.c_str(), followed.count(b) ? "" : " (the frozen one)", slow, all, fire_s[b], recovered_s[b],
        resolve_s[b]);
    per_broker += line;
  }
  std::printf(
      "[alert-faults-2] KafkaReplicationLatencyHigh (probe interval %.1fs, for %.0fs, fire bound freeze + "
      "%.1fs, resolve bound %.1fs): broker %d frozen %.1fs, brokers paged %zu:%s\n"
      "[alert-faults-2] whole test %.0fs\n",
      Seconds(kInterval), Seconds(kFor), Seconds(kInterval + kFor + kSlack), Seconds(kInterval + kSlack),
      frozen, Seconds(t_thaw - t_freeze), brokers_paged.size(), per_broker.c_str(),
      Seconds(Clock::now() - t_begin));
  std::fflush(stdout);
}
