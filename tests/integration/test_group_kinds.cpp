// Kafka 4.x group kinds against a real 4.1.1 broker and Kafka's own
// kafka-consumer-groups: classic and new-protocol (KIP-848) consumer groups,
// Stable (a live consumer that no longer commits) and Empty, one that never
// commits, and a share group (KIP-932, share.version=1 enabled here). The
// consumers are Kafka's Java console consumers (librdkafka 2.0.2 cannot join
// a group on Kafka 4.x, and has no new-protocol or share consumer).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/daemon.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"

using namespace dora::test;
using namespace std::chrono_literals;

namespace {

// A Kafka tool JVM (kafkactl.py tool --exec) in its own process group,
// killed with it.
class JavaTool {
 public:
  JavaTool(const std::string& dir, const std::string& main_class, const std::vector<std::string>& args) {
    const char* py = std::getenv("DORA_PYTHON");
    std::vector<std::string> a = {py && *py ? py : "python3",
                                  KafkactlPath(),
                                  "tool",
                                  "--dir",
                                  dir,
                                  "--main",
                                  main_class,
                                  "--exec",
                                  "--"};
    a.insert(a.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      int devnull = open("/dev/null", O_RDWR);
      dup2(devnull, 0);
      dup2(devnull, 1);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    if (pid_ > 0) setpgid(pid_, pid_);
  }
  ~JavaTool() { Stop(); }
  void Stop() {
    if (pid_ <= 0) return;
    kill(-pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  bool Running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
};

std::vector<std::string> Words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> w;
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}

// `--describe --all-groups --state` (or a share group's): group -> state.
std::map<std::string, std::string> States(const std::string& out) {
  std::map<std::string, std::string> m;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto w = Words(line);
    if (w.size() >= 4 && w[0] != "GROUP") m[w[0]] = w[w.size() - 2];
  }
  return m;
}

// `--describe --all-groups`: (group, topic, partition) -> lag; "-" lags are left out.
std::map<std::string, double> Lags(const std::string& out) {
  std::map<std::string, double> m;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto w = Words(line);
    if (w.size() < 6 || w[0] == "GROUP" || w[5] == "-") continue;
    if (w[2].find_first_not_of("0123456789") != std::string::npos) continue;
    m[w[0] + "/" + w[1] + "/" + w[2]] = std::stod(w[5]);
  }
  return m;
}

}  // namespace

TEST_CASE("Kafka 4.1: classic, new-protocol and share groups as Kafka's own tool shows them",
          "[kafka][groups4]") {
  const std::string version = KafkaCluster::DefaultVersion();
  if (version.rfind("4.", 0) != 0) {
    WARN("needs Kafka 4.x (DORA_KAFKA_VERSION=4.1.1); skipped on " << version);
    return;
  }
  auto kafka = KafkaCluster::Start(1, version);
  // Share groups are off by default in 4.1: the test enables them.
  kafka->Ctl({"tool", "--main", "org.apache.kafka.tools.FeatureCommand", "--", "--bootstrap-server",
              "{bootstrap}", "upgrade", "--feature", "share.version=1"});
  kafka->CreateTopic("orders", 2, 1);
  for (int32_t p = 0; p < 2; ++p) REQUIRE(ProduceMessages(kafka->bootstrap(), "orders", 100, 0, p) == 100);
  const std::vector<std::string> kNew = {"--consumer-property", "group.protocol=consumer"};
  auto consume = [&](const std::string& group, int n, bool new_protocol) {
    std::vector<std::string> a = {"consume", "--topic",        "orders",         "--group",
                                  group,     "--max-messages", std::to_string(n)};
    if (new_protocol) a.insert(a.end(), kNew.begin(), kNew.end());
    kafka->Ctl(a);
  };
  // Empty groups (their consumer committed and left) and, committed the same
  // way first, groups whose live consumer then never commits again (stuck).
  consume("classic-empty", 60, false);
  consume("new-empty", 80, true);
  consume("classic-stuck", 50, false);
  consume("new-stuck", 70, true);
  auto live = [&](const std::string& group, bool new_protocol) {
    std::vector<std::string> a = {"--bootstrap-server",
                                  "{bootstrap}",
                                  "--topic",
                                  "orders",
                                  "--group",
                                  group,
                                  "--consumer-property",
                                  "enable.auto.commit=false"};
    if (new_protocol) a.insert(a.end(), kNew.begin(), kNew.end());
    return std::make_unique<JavaTool>(kafka->dir(), "org.apache.kafka.tools.consumer.ConsoleConsumer", a);
  };
  auto classic_stuck = live("classic-stuck", false);
  auto new_stuck = live("new-stuck", true);
  auto new_never = live("new-never", true);  // never commits at all
  JavaTool share(kafka->dir(), "org.apache.kafka.tools.consumer.ConsoleShareConsumer",
                 {"--bootstrap-server", "{bootstrap}", "--topic", "orders", "--group", "share-jobs"});

  std::string cfg = "/tmp/dora-groups4-" + std::to_string(getpid()) + ".yaml";
  std::ofstream(cfg) << "collectors:\n"
                        "  cluster: {interval: 1s, timeout: 5s}\n"
                        "  offsets: {interval: 1s, timeout: 5s, rate_window: 10s}\n"
                        "  consumer_groups: {interval: 1s, timeout: 8s, status_window: 4}\n"
                        "retry: {initial_backoff: 200ms, max_backoff: 2s}\n";
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  // Partitions of group g in status st: per partition (1 each) or counted per
  // topic (the default granularity, mixed), the sum is the same.
  auto pstatus = [](const std::vector<Sample>& s, const std::string& g, const std::string& st) {
    double n = 0;
    for (const auto& x :
         FindAll(s, "kafka_consumergroup_partition_status", {{"consumergroup", g}, {"status", st}}))
      n += x.value;
    return n;
  };
  std::vector<Sample> s;
  bool settled = d.WaitFor(
      [&](const std::vector<Sample>& x) {
        return pstatus(x, "classic-empty", "STOP") == 2 && pstatus(x, "new-empty", "STOP") == 2 &&
               pstatus(x, "classic-stuck", "STALL") == 2 && pstatus(x, "new-stuck", "STALL") == 2 &&
               Find(x, "kafka_consumergroup_info", {{"consumergroup", "new-never"}, {"state", "Stable"}}) &&
               Find(x, "kafka_sharegroup_info", {{"group", "share-jobs"}, {"state", "Unknown"}});
      },
      120s, &s);
  // Kafka's own view, taken now (nothing commits any more: offsets and lags are fixed).
  const std::string states_out = kafka->Groups({"--describe", "--all-groups", "--state"});
  const std::string offsets_out = kafka->Groups({"--describe", "--all-groups"});
  const std::string members_out = kafka->Groups({"--describe", "--all-groups", "--members"});
  const std::string share_out =
      kafka->Ctl({"tool", "--main", "org.apache.kafka.tools.consumer.group.ShareGroupCommand", "--",
                  "--bootstrap-server", "{bootstrap}", "--describe", "--group", "share-jobs", "--state"});
  s = d.Samples();
  INFO("kafka-consumer-groups --state:\n"
       << states_out << "\n--members:\n"
       << members_out << "\noffsets:\n"
       << offsets_out << "\nshare:\n"
       << share_out << "\nexporter log:\n"
       << d.Log());
  CHECK(settled);
  // DORA_GROUPS4_REPORT=<file>: Kafka's outputs and the exporter's group series, for docs/compatibility.md.
  if (const char* report = std::getenv("DORA_GROUPS4_REPORT")) {
    std::ofstream r(report);
    r << "== kafka-consumer-groups --describe --all-groups --state\n"
      << states_out << "\n== --members\n"
      << members_out << "\n== offsets\n"
      << offsets_out << "\n== kafka-share-groups --describe --state\n"
      << share_out << "\n== exporter\n";
    for (const auto& x : s) {
      if (x.name.rfind("kafka_consumergroup_", 0) != 0 && x.name != "kafka_sharegroup_info") continue;
      r << x.name;
      for (const auto& [k, v] : x.labels) r << " " << k << "=" << v;
      r << " " << x.value << "\n";
    }
  }

  const auto states = States(states_out);
  const std::map<std::string, std::string> types = {{"classic-empty", "classic"},
                                                    {"classic-stuck", "classic"},
                                                    {"new-empty", "consumer"},
                                                    {"new-stuck", "consumer"},
                                                    {"new-never", "consumer"}};
  for (const auto& [group, type] : types) {
    INFO("group " << group);
    REQUIRE(states.count(group) == 1);
    CHECK(Find(s, "kafka_consumergroup_info",
               {{"consumergroup", group}, {"state", states.at(group)}, {"type", type}}) == 1.0);
    // Members: the count where the exporter can see them, absent where it cannot.
    if (type == "classic")
      CHECK(Find(s, "kafka_consumergroup_members", {{"consumergroup", group}}) ==
            (states.at(group) == "Stable" ? 1.0 : 0.0));
    else
      CHECK_FALSE(Find(s, "kafka_consumergroup_members", {{"consumergroup", group}}).has_value());
  }
  CHECK(states.at("classic-empty") == "Empty");
  CHECK(states.at("new-empty") == "Empty");
  CHECK(states.at("new-stuck") == "Stable");
  // Lag per partition equals the tool's, for every partition it gives a lag.
  const auto lags = Lags(offsets_out);
  size_t compared = 0;
  for (const auto& [key, lag] : lags) {
    auto a = key.find('/'), b = key.rfind('/');
    const std::string group = key.substr(0, a), topic = key.substr(a + 1, b - a - 1),
                      part = key.substr(b + 1);
    if (types.count(group) == 0) continue;
    INFO("lag of " << key);
    CHECK(Find(s, "kafka_consumergroup_lag",
               {{"consumergroup", group}, {"topic", topic}, {"partition", part}}) == lag);
    ++compared;
  }
  CHECK(compared == 8);  // 4 committing groups x 2 partitions
  // The group that never committed: no lag, and no uncommitted count (its assignment is unknown).
  CHECK(FindAll(s, "kafka_consumergroup_lag", {{"consumergroup", "new-never"}}).empty());
  CHECK_FALSE(
      Find(s, "kafka_consumergroup_uncommitted_partitions", {{"consumergroup", "new-never"}}).has_value());
  // STALL for a live stuck consumer, STOP for no consumer, on both protocols.
  CHECK(pstatus(s, "classic-stuck", "STALL") == 2);
  CHECK(pstatus(s, "new-stuck", "STALL") == 2);
  CHECK(pstatus(s, "classic-empty", "STOP") == 2);
  CHECK(pstatus(s, "new-empty", "STOP") == 2);
  // The share group: Kafka's share-group tool knows it; the exporter lists it
  // in its own family, with the state unknown (no librdkafka 2.0.2 request
  // returns it: docs/compatibility.md), and in no consumer-group family.
  const auto share_states = States(share_out);
  REQUIRE(share_states.count("share-jobs") == 1);
  CHECK(share_states.at("share-jobs") == "Stable");
  CHECK(Find(s, "kafka_sharegroup_info", {{"group", "share-jobs"}, {"state", "Unknown"}}) == 1.0);
  CHECK(states.count("share-jobs") == 0);  // kafka-consumer-groups does not list it either
  for (const auto& x : s) {
    for (const char* label : {"consumergroup", "group"}) {
      auto it = x.labels.find(label);
      if (it != x.labels.end() && x.name != "kafka_sharegroup_info") CHECK(it->second != "share-jobs");
    }
  }
  // The disagreement is logged once per group, at info.
  const std::string log = d.Log();
  size_t logged = 0;
  for (size_t at = log.find("group new-stuck: DescribeGroups says"); at != std::string::npos;
       at = log.find("group new-stuck: DescribeGroups says", at + 1))
    ++logged;
  CHECK(logged == 1);
  unlink(cfg.c_str());
}
