// The daemon pages by itself: real faults on a real 3-node KRaft cluster, the
// real daemon evaluating its built-in alerts and pushing them to a real
// Alertmanager (Debian's, the shipped config/alertmanager.yml with group_wait
// and group_interval 1 s), which routes them to a webhook (HookServer). No
// Prometheus anywhere. Each fault is timed from the moment the test causes it
// to the webhook POST that carries the alert, and each recovery to the webhook
// POST whose status is "resolved".
//
// Bound: collection interval + the alert's `for` + 5 s. `for` is shortened to
// 10 s through alerting.rules.<name>.for (shipped: 1m for the partition
// alerts, 5m for the others) so the file runs in 85-120 s; the bound is
// relative to the configured `for`, so it checks the same thing. The lag
// threshold is the shipped 10,000.
//
// Brokers: one is stopped (SIGTERM, controlled shutdown), then another is
// killed (SIGKILL). A broker stays in the cluster metadata until the active
// controller fences it: at the end of its controlled shutdown (seconds after
// SIGTERM), or for a kill when broker.session.timeout.ms (9 s by default,
// kept) runs out; that part is Kafka's, not the daemon's. So
// KafkaBrokersMissing is timed from the fencing (the controller's log line),
// and the signal -> fencing time is printed next to it. The partition alerts
// are timed from SIGTERM for the stop (the controlled shutdown takes the
// broker out of every ISR and off its sole-replica leaderships at once) and
// from the fencing for the kill. Neither victim is the active controller,
// whose loss would add an election.

// GCC 12 at -O2 sees a null dereference inside nlohmann's getters (a false
// positive, as in test_alertmanager.cpp).
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "support/alert_webhook.h"
#include "support/alertmanager.h"
#include "support/daemon.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"
#include "support/temp_dir.h"

using namespace dora::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kInterval = 1s;  // cluster and consumer_groups collectors
constexpr auto kFor = 10s;      // every alert under test
constexpr auto kFireBound = kInterval + kFor + 5s;
// After recovery the daemon needs one collection to see it, then the push and
// one Alertmanager group_interval (1 s).
constexpr auto kResolveBound = kInterval + 5s;
// Under min ISR resolves when the restarted follower is back in the ISR,
// which is Kafka's to decide (replication catch-up).
constexpr auto kIsrRejoin = 20s;

const std::set<std::string> kExpectedAlerts = {"KafkaBrokersMissing", "KafkaTopicPartitionUnderMinISR",
                                               "KafkaTopicPartitionOffline", "KafkaConsumerGroupLagHigh"};

// The `partition` labels of the alerts of `name` on `topic` in notifications
// of `status` since `since`.
std::set<std::string> Partitions(const std::vector<HookServer::Post>& posts, Clock::time_point since,
                                 const std::string& status, const std::string& name,
                                 const std::string& topic) {
  std::set<std::string> out;
  for (const auto& n : Notifications(posts, since)) {
    if (n.body.value("status", "") != status) continue;
    for (const json& a : n.body["alerts"])
      if (a.value("status", "") == status && Matches(a, name, {{"topic", topic}}))
        out.insert(a["labels"].value("partition", ""));
  }
  return out;
}

std::string WriteConfig(const TempDir& dir, const std::string& am_url) {
  std::ostringstream config;
  // config_refresh_interval keeps its default (5m): a full refresh asks every
  // listed broker for its config, and one that was just killed (listed until
  // it is fenced) holds that run for the whole timeout, delaying the cluster
  // view and its alerts by up to that much (seen here: 5 s with a 5 s refresh).
  config << "collectors:\n"
            "  cluster: {interval: 1s, timeout: 5s}\n"
            "  offsets: {interval: 1s, timeout: 5s}\n"
            "  consumer_groups: {interval: 1s, timeout: 8s}\n"
            "  broker_stats: {enabled: false}\n"
            "retry: {initial_backoff: 200ms, max_backoff: 1s}\n"
            "alerting:\n"
            "  alertmanagers: [{name: am, url: '"
         << am_url
         << "', timeout: 5s}]\n"
            "  rules:\n"
            "    KafkaBrokersMissing: {for: 10s}\n"
            "    KafkaTopicPartitionUnderMinISR: {for: 10s}\n"
            "    KafkaTopicPartitionOffline: {for: 10s}\n"
            "    KafkaConsumerGroupLagHigh: {for: 10s}\n";
  return dir.Write("exporter.yaml", config.str());
}

// Consumes `n` messages of `topic` as `group` and commits them, in up to four
// bounded attempts of 30 s, each a new consumer going on from the last
// commit: once in eight runs a consumer started a few seconds after the
// cluster got nothing at all within 60 s (cause not found; a new one works).
int64_t ConsumeAndCommitAll(const std::string& bs, const std::string& topic, const std::string& group,
                            int64_t n) {
  int64_t got = 0;
  for (int attempt = 0; attempt < 4 && got < n; ++attempt)
    got += ConsumeAndCommit(bs, topic, group, n - got, 30s);
  return got;
}

// The node id of the active KRaft controller (MetadataQuorumCommand).
int ActiveController(KafkaCluster& kafka) {
  const std::string out =
      kafka.Ctl({"tool", "--dir", kafka.dir(), "--main", "org.apache.kafka.tools.MetadataQuorumCommand", "--",
                 "--bootstrap-server", "{bootstrap}", "describe", "--status"});
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(R"(LeaderId:\s+(\d+))"))) return -1;
  return std::stoi(m[1]);
}

// When the active controller fenced `broker`, after a controlled shutdown or
// a timed-out session (the last such line of the other nodes' server.log,
// local time with milliseconds), if it did.
std::optional<std::chrono::system_clock::time_point> FencedAt(const KafkaCluster& kafka, int broker) {
  std::string log;
  for (int id = 1; id <= kafka.node_count(); ++id)
    if (id != broker) log += kafka.NodeLogTail(id, 5000);
  // "[2026-12-07 11:16:40,123] INFO [QuorumController id=2] Fencing broker 3 because its session ..."
  const std::string b = std::to_string(broker);
  const std::regex line(R"(\[(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d),(\d{3})\] INFO (\[[^\]]*\] )?)"
                        "(Fencing broker " +
                        b + " because its session has timed out|The request from broker " + b +
                        " to shut down has been granted)");
  std::optional<std::chrono::system_clock::time_point> last;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    std::tm tm{};
    tm.tm_year = std::stoi(m[1]) - 1900;
    tm.tm_mon = std::stoi(m[2]) - 1;
    tm.tm_mday = std::stoi(m[3]);
    tm.tm_hour = std::stoi(m[4]);
    tm.tm_min = std::stoi(m[5]);
    tm.tm_sec = std::stoi(m[6]);
    tm.tm_isdst = -1;
    const auto at =
        std::chrono::system_clock::from_time_t(std::mktime(&tm)) + std::chrono::milliseconds(std::stoi(m[7]));
    if (!last || at > *last) last = at;
  }
  return last;
}

// A broker that leads a scratch partition and is not `controller`; another
// than `avoid` if there is one. -1 if none.
int PickVictim(const std::vector<Sample>& s, int controller, int avoid) {
  std::set<int> leaders;
  for (const auto& l : FindAll(s, "kafka_topic_partition_leader", {{"topic", "scratch"}}))
    if (l.value >= 1) leaders.insert(static_cast<int>(l.value));
  int pick = -1;
  for (int b : leaders)
    if (b != controller && (pick < 0 || pick == avoid)) pick = b;
  return pick;
}

// The longest kafka_exporter_collector_duration_seconds{collector="cluster"}
// seen while it lives (/metrics read every 250 ms, for at most 5 minutes):
// a slow run delays everything the cluster collector feeds.
class SlowestClusterRun {
 public:
  explicit SlowestClusterRun(int port) {
    thread_ = std::thread([this, port] {
      const auto end = Clock::now() + 5min;
      while (!stop_ && Clock::now() < end) {
        const auto v = Find(ParseExposition(HttpGet(port, "/metrics").body),
                            "kafka_exporter_collector_duration_seconds", {{"collector", "cluster"}});
        if (v && *v * 1000 > slowest_ms_) slowest_ms_ = static_cast<int64_t>(*v * 1000);
        std::this_thread::sleep_for(250ms);
      }
    });
  }
  ~SlowestClusterRun() { Stop(); }
  double Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return static_cast<double>(slowest_ms_) / 1000;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> slowest_ms_{0};
  std::thread thread_;
};

// Latencies of one broker outage, in seconds.
struct Outage {
  int broker = 0;
  bool kill = false;
  double signal_to_exit = 0;
  double signal_to_fenced = 0;  // until the controller fenced the broker (Kafka's part)
  double brokers_missing = 0, under_min_isr = 0, offline = 0;  // fault -> firing webhook
  size_t offline_partitions = 0;
  double slowest_cluster_run = 0;  // between the fault and the firing webhooks
  double restart = 0;              // StartNode until unfenced
  double brokers_resolved = 0, isr_resolved = 0, offline_resolved = 0;  // back -> resolved webhook
};

double Sum(const std::vector<Sample>& s, const std::string& name, const LabelMatch& l) {
  double t = 0;
  for (const auto& x : FindAll(s, name, l)) t += x.value;
  return t;
}

// Waits until the cluster is whole again as the daemon sees it: 3 brokers,
// ledger fully in sync, scratch led, and no alert pending or firing.
void WaitHealthy(Daemon& d, std::vector<Sample>* s) {
  REQUIRE(d.WaitFor(
      [&](const auto& x) {
        return Find(x, "kafka_brokers") == 3.0 &&
               Find(x, "kafka_topic_partition_in_sync_replica", {{"topic", "ledger"}, {"partition", "0"}}) ==
                   3.0 &&
               Find(x, "kafka_cluster_partition_underminisr", {{"topic", "ledger"}}) == 0.0 &&
               FindAll(x, "kafka_topic_partition_offline", {{"topic", "scratch"}}).size() == 3 &&
               Sum(x, "kafka_topic_partition_offline", {{"topic", "scratch"}}) == 0 &&
               DaemonAlerts(d.port()).empty();
      },
      60s, s));
}

// Stops (or kills) `victim`, waits for the three broker alerts at the webhook,
// restarts it and waits for their resolved notifications. A kill is timed
// from the moment the controller fenced the victim.
Outage RunOutage(KafkaCluster& kafka, Daemon& d, HookServer& hook, int victim, bool kill) {
  Outage o;
  o.broker = victim;
  o.kill = kill;
  std::vector<Sample> s;
  WaitHealthy(d, &s);
  // scratch (RF 1) goes offline where the victim leads it.
  std::set<std::string> offline_expected;
  for (const auto& l : FindAll(s, "kafka_topic_partition_leader", {{"topic", "scratch"}}))
    if (static_cast<int>(l.value) == victim) offline_expected.insert(l.labels.at("partition"));
  REQUIRE_FALSE(offline_expected.empty());
  o.offline_partitions = offline_expected.size();

  SlowestClusterRun slowest(d.port());
  const auto t_fault = Clock::now();
  const auto t_fault_wall = std::chrono::system_clock::now();
  kafka.StopNode(victim, kill);  // returns once the JVM has exited
  o.signal_to_exit = Seconds(Clock::now() - t_fault);
  const LabelMatch page = {{"severity", "page"}};
  const LabelMatch ledger = {{"severity", "page"}, {"topic", "ledger"}, {"partition", "0"}};
  const bool fired = hook.WaitFor(
      [&](const auto& p) {
        return First(p, t_fault, "firing", "KafkaBrokersMissing", page) &&
               First(p, t_fault, "firing", "KafkaTopicPartitionUnderMinISR", ledger) &&
               Partitions(p, t_fault, "firing", "KafkaTopicPartitionOffline", "scratch") == offline_expected;
      },
      90s);
  o.slowest_cluster_run = slowest.Stop();
  INFO(kafka.NodeLogTail(victim == 1 ? 2 : 1));
  REQUIRE(fired);
  const auto posts = hook.posts();
  const Notification brokers = *First(posts, t_fault, "firing", "KafkaBrokersMissing", page);
  const Notification isr = *First(posts, t_fault, "firing", "KafkaTopicPartitionUnderMinISR", ledger);
  Clock::time_point offline_at = t_fault;  // the last partition's first notification
  for (const std::string& partition : offline_expected) {
    auto n = First(posts, t_fault, "firing", "KafkaTopicPartitionOffline",
                   {{"severity", "page"}, {"topic", "scratch"}, {"partition", partition}});
    REQUIRE(n);
    CHECK(n->path == "/pager");
    offline_at = std::max(offline_at, n->at);
  }
  // The broker leaves the metadata when the controller fences it.
  const auto fenced = FencedAt(kafka, victim);
  REQUIRE(fenced);
  REQUIRE(*fenced >= t_fault_wall - 1s);
  const Clock::time_point t_fenced =
      t_fault + std::chrono::duration_cast<Clock::duration>(*fenced - t_fault_wall);
  o.signal_to_fenced = Seconds(t_fenced - t_fault);
  o.brokers_missing = Seconds(brokers.at - t_fenced);
  o.under_min_isr = Seconds(isr.at - (kill ? t_fenced : t_fault));
  o.offline = Seconds(offline_at - (kill ? t_fenced : t_fault));
  const double bound = Seconds(kFireBound);
  CHECK(o.brokers_missing <= bound);
  CHECK(o.under_min_isr <= bound);
  CHECK(o.offline <= bound);
  CHECK(brokers.path == "/pager");
  CHECK(brokers.body["receiver"] == "pager");
  CHECK(isr.path == "/pager");
  for (const json& a : brokers.body["alerts"]) {
    if (!Matches(a, "KafkaBrokersMissing", page)) continue;
    CHECK(a["labels"] == json({{"alertname", "KafkaBrokersMissing"}, {"severity", "page"}}));
    CHECK(a["annotations"]["description"].get<std::string>().rfind("Only 2 brokers are in the cluster", 0) ==
          0);
  }
  for (const json& a : isr.body["alerts"]) {
    if (!Matches(a, "KafkaTopicPartitionUnderMinISR", ledger)) continue;
    CHECK(a["labels"] == json({{"alertname", "KafkaTopicPartitionUnderMinISR"},
                               {"partition", "0"},
                               {"severity", "page"},
                               {"topic", "ledger"}}));
    CHECK(a["annotations"]["summary"] == "Partition ledger/0 is under min.insync.replicas");
  }

  const auto t_restart = Clock::now();
  kafka.StartNode(victim);  // returns once it is registered and unfenced
  const auto t_back = Clock::now();
  o.restart = Seconds(t_back - t_restart);
  REQUIRE(hook.WaitFor(
      [&](const auto& p) {
        return First(p, t_back, "resolved", "KafkaBrokersMissing", page) &&
               First(p, t_back, "resolved", "KafkaTopicPartitionUnderMinISR", ledger) &&
               Partitions(p, t_back, "resolved", "KafkaTopicPartitionOffline", "scratch") == offline_expected;
      },
      90s));
  const auto done = hook.posts();
  o.brokers_resolved = Seconds(First(done, t_back, "resolved", "KafkaBrokersMissing", page)->at - t_back);
  o.isr_resolved =
      Seconds(First(done, t_back, "resolved", "KafkaTopicPartitionUnderMinISR", ledger)->at - t_back);
  Clock::time_point offline_resolved_at = t_back;
  for (const std::string& partition : offline_expected)
    offline_resolved_at =
        std::max(offline_resolved_at, First(done, t_back, "resolved", "KafkaTopicPartitionOffline",
                                            {{"topic", "scratch"}, {"partition", partition}})
                                          ->at);
  o.offline_resolved = Seconds(offline_resolved_at - t_back);
  // BrokersMissing and Offline: Kafka has recovered when StartNode returns.
  CHECK(o.brokers_resolved <= Seconds(kResolveBound));
  CHECK(o.offline_resolved <= Seconds(kResolveBound));
  CHECK(o.isr_resolved <= Seconds(kResolveBound + kIsrRejoin));
  return o;
}

void Print(const char* how, const Outage& o) {
  std::printf(
      "[alert-faults] broker %d %s: signal -> exited %.1fs, -> fenced %.1fs; firing webhook: "
      "KafkaBrokersMissing %.1fs after the fencing, KafkaTopicPartitionOffline %.1fs (%zu partition(s)) and "
      "KafkaTopicPartitionUnderMinISR %.1fs after the %s (slowest cluster run meanwhile %.1fs); "
      "restarted in %.1fs -> resolved: KafkaBrokersMissing %.1fs, KafkaTopicPartitionUnderMinISR %.1fs, "
      "KafkaTopicPartitionOffline %.1fs\n",
      o.broker, how, o.signal_to_exit, o.signal_to_fenced, o.brokers_missing, o.offline, o.offline_partitions,
      o.under_min_isr, o.kill ? "fencing" : "signal", o.slowest_cluster_run, o.restart, o.brokers_resolved,
      o.isr_resolved, o.offline_resolved);
}

}  // namespace

TEST_CASE("alert faults: lag, a stopped and a killed broker page via Alertmanager, then resolve",
          "[alert-faults][kafka][alertmanager]") {
  REQUIRE_FALSE(AlertmanagerProcess::Binary().empty());
  const auto t_begin = Clock::now();
  auto kafka = KafkaCluster::Start(3);
  const std::string bs = kafka->bootstrap();
  kafka->CreateTopic("payments", 1, 3);                           // the lagging group's topic
  kafka->CreateTopic("ledger", 1, 3, {"min.insync.replicas=3"});  // under min ISR without any one broker
  kafka->CreateTopic("scratch", 3, 1);                            // RF 1: offline with its broker
  HookServer hook;
  AlertmanagerProcess am(hook.port());
  INFO(am.log());
  REQUIRE(am.Start());
  const TempDir dir("dora-alert-faults");
  const std::string cfg = WriteConfig(dir, am.url());
  Daemon d({"--config", cfg, "--kafka.server=" + bs});
  REQUIRE(d.WaitHealthy());
  INFO(d.Log());

  // The group commits at the start of its topic: offset 1 of 1.
  REQUIRE(ProduceMessages(bs, "payments", 1) == 1);
  REQUIRE(ConsumeAndCommitAll(bs, "payments", "settlement", 1) == 1);
  std::vector<Sample> s;
  WaitHealthy(d, &s);
  REQUIRE(d.WaitFor(
      [](const auto& x) {
        return Find(x, "kafka_consumergroup_lag_sum", {{"consumergroup", "settlement"}}) == 0.0;
      },
      30s, &s));
  CHECK(hook.posts().empty());

  // ---- Lag: 12,000 messages behind the group's commit; the shipped 10,000 threshold.
  const auto t_lag = Clock::now();
  REQUIRE(ProduceMessages(bs, "payments", 12000) == 12000);
  const double produce_s = Seconds(Clock::now() - t_lag);
  const LabelMatch lag_labels = {{"consumergroup", "settlement"}, {"severity", "ticket"}};
  REQUIRE(hook.WaitFor(
      [&](const auto& p) {
        return First(p, t_lag, "firing", "KafkaConsumerGroupLagHigh", lag_labels).has_value();
      },
      60s));
  const Notification lag_fired =
      *First(hook.posts(), t_lag, "firing", "KafkaConsumerGroupLagHigh", lag_labels);
  const double lag_fire_s = Seconds(lag_fired.at - t_lag);
  CHECK(lag_fire_s <= Seconds(kFireBound));
  CHECK(lag_fired.path == "/ticket");
  CHECK(lag_fired.body["receiver"] == "ticket");
  for (const json& a : lag_fired.body["alerts"]) {
    if (!Matches(a, "KafkaConsumerGroupLagHigh", lag_labels)) continue;
    // sum without (topic): the group's label, the rule's severity, nothing else.
    CHECK(a["labels"] == json({{"alertname", "KafkaConsumerGroupLagHigh"},
                               {"consumergroup", "settlement"},
                               {"severity", "ticket"}}));
    CHECK(a["annotations"]["summary"] == "Consumer group settlement lags more than 10,000 messages");
    CHECK(a["annotations"]["description"].get<std::string>().find("is 12000 messages behind") !=
          std::string::npos);
  }

  // The group catches up: it commits the end of the topic.
  REQUIRE(ConsumeAndCommitAll(bs, "payments", "settlement", 12000) == 12000);
  const auto t_caught_up = Clock::now();
  REQUIRE(hook.WaitFor(
      [&](const auto& p) {
        return First(p, t_caught_up, "resolved", "KafkaConsumerGroupLagHigh", lag_labels).has_value();
      },
      60s));
  const Notification lag_resolved =
      *First(hook.posts(), t_caught_up, "resolved", "KafkaConsumerGroupLagHigh", lag_labels);
  const double lag_resolve_s = Seconds(lag_resolved.at - t_caught_up);
  CHECK(lag_resolve_s <= Seconds(kResolveBound));
  CHECK(lag_resolved.path == "/ticket");

  // ---- Brokers: one stopped, then another killed. Each leads a scratch
  // partition (which goes offline with it) and is not the active controller.
  int controller = ActiveController(*kafka);
  REQUIRE(controller >= 1);
  WaitHealthy(d, &s);
  const int stopped = PickVictim(s, controller, -1);
  INFO("controller " << controller << ", stopped " << stopped);
  REQUIRE(stopped >= 1);
  const Outage graceful = RunOutage(*kafka, d, hook, stopped, /*kill=*/false);

  controller = ActiveController(*kafka);
  REQUIRE(controller >= 1);
  WaitHealthy(d, &s);
  const int killed = PickVictim(s, controller, stopped);
  INFO("controller " << controller << ", killed " << killed);
  REQUIRE(killed >= 1);
  const Outage crash = RunOutage(*kafka, d, hook, killed, /*kill=*/true);

  // Nothing else paged, every push was accepted, and the daemon is quiet again.
  CHECK(AlertNames(hook.posts()) == kExpectedAlerts);
  REQUIRE(d.WaitFor([&](const auto&) { return DaemonAlerts(d.port()).empty(); }, 20s, &s));
  CHECK(Find(s, "kafka_exporter_notifications_failed_total", {{"alertmanager", "am"}}) == 0.0);
  CHECK(Find(s, "kafka_exporter_notifications_dropped_total", {{"alertmanager", "am"}}) == 0.0);
  CHECK(d.Running());
  std::printf(
      "[alert-faults] interval %.0fs, for %.0fs: bound %.0fs; "
      "Alertmanager group_wait/group_interval 1s\n"
      "[alert-faults] KafkaConsumerGroupLagHigh: produce start -> firing webhook %.1fs (12,000 produced in "
      "%.1fs), committed to the end -> resolved webhook %.1fs\n",
      Seconds(kInterval), Seconds(kFor), Seconds(kFireBound), lag_fire_s, produce_s, lag_resolve_s);
  Print("stopped (SIGTERM)", graceful);
  Print("killed (SIGKILL)", crash);
  std::printf("[alert-faults] %zu webhook posts, whole test %.0fs\n", hook.posts().size(),
              Seconds(Clock::now() - t_begin));
  std::fflush(stdout);
}
