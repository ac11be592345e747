// Sharding against one real broker (docs/deployment.md, "Sharding"): the
// Helm chart's StatefulSet mode rendered with `helm template` (two shards),
// its config and per-pod arguments run as two daemons, next to one unsharded
// daemon of the chart's Deployment mode. The union of the shards' per-group
// series equals the unsharded daemon's, with equal values and no series in
// both; the cluster and topic series come from shard 0 only.
//
// Without helm (scripts/install-helm.sh) the same configs are written by hand
// and the test says so.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"
#include "support/temp_dir.h"

using namespace dora::test;
using namespace std::chrono_literals;

namespace {

// The chart's helm, found as tests/helm/check.sh finds it; "" without one.
std::string FindHelm() {
  if (const char* h = std::getenv("DORA_HELM"); h && *h) return h;
  std::vector<std::string> candidates;
  if (const char* t = std::getenv("DORA_TOOLS_BIN"); t && *t) candidates.push_back(std::string(t) + "/helm");
  if (const char* c = std::getenv("DORA_KAFKA_CACHE"); c && *c)
    candidates.push_back(std::string(c) + "/bin/helm");
  if (const char* home = std::getenv("HOME"); home && *home)
    candidates.push_back(std::string(home) + "/.cache/dora-kafka-exporter/bin/helm");
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    for (std::string d; std::getline(dirs, d, ':');)
      if (!d.empty()) candidates.push_back(d + "/helm");
  }
  for (const auto& c : candidates)
    if (std::ifstream(c).good()) return c;
  return "";
}

// What the chart runs: the exporter.yaml of its ConfigMap and the container's
// arguments (of the Deployment, or of the StatefulSet).
struct Rendered {
  std::string config;
  std::string web_config;  // the Secret's web-config.yml (security headers by default)
  std::vector<std::string> args;
  std::string kind;
  int replicas = 0;
};

Rendered RenderChart(const std::string& helm, const TempDir& dir, const std::string& name,
                     const std::string& set) {
  const std::string out = dir.P(name + ".yaml"), err = dir.P(name + ".err");
  const std::string cmd = "'" + helm + "' template dora '" + std::string(DORA_SOURCE_DIR) +
                          "/helm/dora-kafka-exporter' --namespace monitoring " + set + " >'" + out + "' 2>'" +
                          err + "'";
  const int rc = std::system(cmd.c_str());
  std::ifstream e(err);
  std::stringstream why;
  why << e.rdbuf();
  INFO(cmd << "\n" << why.str());
  REQUIRE(rc == 0);
  Rendered r;
  for (const auto& doc : YAML::LoadAllFromFile(out)) {
    if (!doc.IsMap() || !doc["kind"]) continue;
    const std::string kind = doc["kind"].as<std::string>();
    if (kind == "ConfigMap" && doc["data"] && doc["data"]["exporter.yaml"])
      r.config = doc["data"]["exporter.yaml"].as<std::string>();
    if (kind == "Secret" && doc["stringData"] && doc["stringData"]["web-config.yml"])
      r.web_config = doc["stringData"]["web-config.yml"].as<std::string>();
    if (kind == "Deployment" || kind == "StatefulSet") {
      r.kind = kind;
      r.replicas = doc["spec"]["replicas"].as<int>();
      for (const auto& a : doc["spec"]["template"]["spec"]["containers"][0]["args"])
        r.args.push_back(a.as<std::string>());
    }
  }
  return r;
}

// The arguments of the pod with ordinal `index`: the config at `config`,
// $(POD_INDEX) as the kubelet expands it.
std::vector<std::string> PodArgs(const Rendered& r, const std::string& config, int index) {
  std::vector<std::string> out;
  for (std::string a : r.args) {
    if (a.rfind("--config=", 0) == 0) a = "--config=" + config;
    if (auto at = a.find("$(POD_INDEX)"); at != std::string::npos)
      a.replace(at, std::string("$(POD_INDEX)").size(), std::to_string(index));
    out.push_back(a);
  }
  return out;
}

// A per-group family's series: the label set (sorted, as text) -> value.
std::map<std::string, double> Series(const std::vector<Sample>& samples, const std::string& family) {
  std::map<std::string, double> out;
  for (const auto& s : samples) {
    if (s.name != family) continue;
    std::string key;
    for (const auto& [k, v] : s.labels) key += k + "=" + v + ",";
    out[key] = s.value;
  }
  return out;
}

std::set<std::string> Groups(const std::vector<Sample>& samples) {
  std::set<std::string> out;
  for (const auto& s : FindAll(samples, "kafka_consumergroup_lag")) out.insert(s.labels.at("consumergroup"));
  return out;
}

}  // namespace

TEST_CASE("two shards of the chart's StatefulSet export exactly one daemon's group series",
          "[kafka][sharding]") {
  const auto started = std::chrono::steady_clock::now();
  auto kafka = KafkaCluster::Start(1);
  // Three topics, every partition written a known number of times.
  const std::map<std::string, int> partitions = {{"orders", 3}, {"payments", 2}, {"clicks", 4}};
  std::map<std::pair<std::string, int>, int64_t> produced;  // (topic, partition) -> high watermark
  for (const auto& [topic, n] : partitions) {
    kafka->CreateTopic(topic, n, 1);
    for (int32_t p = 0; p < n; ++p) {
      const int64_t count = 40 + 15 * p;
      REQUIRE(ProduceMessages(kafka->bootstrap(), topic, count, 0, p) == count);
      produced[{topic, p}] = count;
    }
  }
  // Twelve groups; group i reads 5 * (i + 1) messages of one topic, and every
  // fourth one also 7 of "clicks". Nothing is produced or committed after this.
  const std::vector<std::string> topic_of = {"orders", "payments", "clicks"};
  std::map<std::string, int64_t> consumed;  // by group, over its topics
  for (int i = 0; i < 12; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "shard-group-%02d", i);
    const std::string& topic = topic_of[i % 3];
    const int64_t n = 5 * (i + 1);  // at most 60: payments holds 95
    REQUIRE(ConsumeAndCommit(kafka->bootstrap(), topic, name, n) == n);
    consumed[name] += n;
    if (i % 4 == 0 && topic != "clicks") {
      REQUIRE(ConsumeAndCommit(kafka->bootstrap(), "clicks", name, 7) == 7);
      consumed[name] += 7;
    }
  }
  // FNV-1a-32 of the names mod 2, computed apart from our code:
  //   python3 -c 'def f(s):
  //     h = 2166136261
  //     for b in s.encode(): h = ((h ^ b) * 16777619) & 0xffffffff
  //     return h
  //   print([i for i in range(12) if f("shard-group-%02d" % i) % 2 == 1])'  -> [1, 3, 5, 7, 9, 10]
  const std::set<std::string> expected_shard1 = {"shard-group-01", "shard-group-03", "shard-group-05",
                                                 "shard-group-07", "shard-group-09", "shard-group-10"};

  TempDir dir("dora-sharding");
  const std::string helm = FindHelm();
  // Fast intervals for the test; everything else is the chart's.
  const std::string fast =
      "--set kafka.bootstrapServers={" + kafka->bootstrap() +
      "} --set collectors.cluster.interval=1s --set collectors.offsets.interval=1s "
      "--set collectors.consumer_groups.interval=1s --set log.format=text --set serviceMonitor.enabled=false "
      "--set prometheusRule.enabled=false --set dashboards.enabled=false";
  Rendered single, sharded;
  if (!helm.empty()) {
    single = RenderChart(helm, dir, "single", fast);
    sharded = RenderChart(helm, dir, "sharded", fast + " --set sharding.replicas=2");
    REQUIRE(single.kind == "Deployment");
    REQUIRE(sharded.kind == "StatefulSet");
    REQUIRE(sharded.replicas == 2);
    REQUIRE(sharded.config.find("sharding:") != std::string::npos);
  } else {
    WARN("helm is not installed (scripts/install-helm.sh): the chart's configs are written by hand");
    const std::string base = "kafka: {bootstrap_servers: ['" + kafka->bootstrap() +
                             "']}\n"
                             "collectors:\n  cluster: {interval: 1s}\n  offsets: {interval: 1s}\n"
                             "  consumer_groups: {interval: 1s}\n";
    single = {base, "", {"--config=x"}, "Deployment", 1};
    sharded = {base + "sharding: {count: 2}\n",
               "",
               {"--config=x", "--sharding.index=$(POD_INDEX)"},
               "StatefulSet",
               2};
  }
  // The web config Secret's mount, here a file of the temp dir.
  const std::string web_mount = "/etc/dora-kafka-exporter/web/web-config.yml";
  for (Rendered* r : {&single, &sharded}) {
    if (auto at = r->config.find(web_mount); at != std::string::npos) {
      REQUIRE_FALSE(r->web_config.empty());
      r->config.replace(at, web_mount.size(), dir.Write("web-config-" + r->kind + ".yml", r->web_config));
    }
  }
  const std::string single_cfg = dir.Write("single.yaml", single.config);
  const std::string sharded_cfg = dir.Write("sharded.yaml", sharded.config);

  // Each pod's config and arguments pass --check-config; an ordinal past the
  // shards does not, naming the flag.
  for (int index = 0; index < 2; ++index) {
    auto args = PodArgs(sharded, sharded_cfg, index);
    args.push_back("--check-config");
    auto r = RunExporter(args);
    INFO(r.err);
    CHECK(r.exit_code == 0);
  }
  auto past = PodArgs(sharded, sharded_cfg, 2);
  past.push_back("--check-config");
  auto bad = RunExporter(past);
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("flag --sharding.index: sharding.index: must be below sharding.count (2), got 2") !=
        std::string::npos);

  Daemon whole(PodArgs(single, single_cfg, 0));
  Daemon shard0(PodArgs(sharded, sharded_cfg, 0));
  Daemon shard1(PodArgs(sharded, sharded_cfg, 1));
  REQUIRE(whole.WaitHealthy());
  REQUIRE(shard0.WaitHealthy());
  REQUIRE(shard1.WaitHealthy());

  // Until every daemon's consumer_groups ran clean with every group it takes
  // (bounded), then one scrape each; the commits are static, so the values are.
  auto settled = [](size_t groups) {
    return [groups](const std::vector<Sample>& s) {
      return Find(s, "kafka_exporter_collector_success", {{"collector", "consumer_groups"}}) == 1.0 &&
             Groups(s).size() == groups;
    };
  };
  std::vector<Sample> all, s0, s1;
  INFO(whole.Log());
  REQUIRE(whole.WaitFor(settled(12), 60s, &all));
  INFO(shard0.Log());
  REQUIRE(shard0.WaitFor(settled(12 - expected_shard1.size()), 60s, &s0));
  INFO(shard1.Log());
  REQUIRE(shard1.WaitFor(settled(expected_shard1.size()), 60s, &s1));
  // A run after the wait: every lag has a high watermark read after the commits.
  std::this_thread::sleep_for(2s);
  all = whole.Samples();
  s0 = shard0.Samples();
  s1 = shard1.Samples();

  // The unsharded daemon's numbers are the real ones: its committed offsets
  // add up to what the group consumed, and its lags to the high watermarks
  // of the partitions it committed on minus that.
  for (const auto& [group, n] : consumed) {
    INFO(group);
    double offsets = 0, lag = 0, high = 0;
    for (const auto& x : FindAll(all, "kafka_consumergroup_current_offset", {{"consumergroup", group}}))
      offsets += x.value;
    for (const auto& x : FindAll(all, "kafka_consumergroup_lag", {{"consumergroup", group}})) {
      lag += x.value;
      high += static_cast<double>(produced.at({x.labels.at("topic"), std::stoi(x.labels.at("partition"))}));
    }
    CHECK(offsets == static_cast<double>(n));
    CHECK(lag == high - static_cast<double>(n));
    CHECK(high > 0);  // it has lag series (a fully read partition has lag 0)
  }
  // Each shard has its groups, the hash's, and at least one.
  CHECK(Groups(s1) == expected_shard1);
  std::set<std::string> groups0 = Groups(s0);
  CHECK_FALSE(groups0.empty());
  for (const auto& g : groups0) CHECK(expected_shard1.count(g) == 0);

  size_t checked = 0;
  for (const char* family :
       {"kafka_consumergroup_lag", "kafka_consumergroup_current_offset", "kafka_consumergroup_lag_sum",
        "kafka_consumergroup_current_offset_sum", "kafka_consumergroup_members"}) {
    INFO(family);
    const auto a = Series(all, family), x0 = Series(s0, family), x1 = Series(s1, family);
    REQUIRE_FALSE(a.empty());
    CHECK_FALSE(x0.empty());
    CHECK_FALSE(x1.empty());
    std::map<std::string, double> merged = x0;
    for (const auto& [k, v] : x1) {
      INFO(k);
      CHECK(merged.emplace(k, v).second);  // in no two shards
    }
    CHECK(merged == a);  // the same series, the same values
    checked += a.size();
  }
  CHECK(checked >= 12 * 5);  // at least lag, offset, both sums and members per group

  // Cluster and topic series: shard 0 (and the unsharded daemon) only.
  for (const char* family :
       {"kafka_brokers", "kafka_topic_partitions", "kafka_topic_partition_current_offset"}) {
    INFO(family);
    CHECK_FALSE(FindAll(all, family).empty());
    CHECK(Series(s0, family) == Series(all, family));
    CHECK(FindAll(s1, family).empty());
  }
  CHECK_FALSE(Find(s1, "kafka_exporter_collector_success", {{"collector", "offsets"}}).has_value());
  // Shard 1 still runs the cluster collector, quietly, for its groups' series.
  CHECK(Find(s1, "kafka_exporter_collector_success", {{"collector", "cluster"}}) == 1.0);
  CHECK(Find(all, "kafka_exporter_shard_info", {{"index", "0"}, {"count", "1"}}) == 1.0);
  CHECK(Find(s0, "kafka_exporter_shard_info", {{"index", "0"}, {"count", "2"}}) == 1.0);
  CHECK(Find(s1, "kafka_exporter_shard_info", {{"index", "1"}, {"count", "2"}}) == 1.0);

  WARN("sharding: " << groups0.size() << " + " << Groups(s1).size() << " groups, " << checked
                    << " group series compared, "
                    << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
                    << " s in all");
}
