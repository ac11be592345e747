// log_dirs through the real daemon: a small file system filled past 80%, and a
// real broker's data dir whose partition sizes must match the segment files.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/daemon.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"
#include "support/small_fs.h"

using namespace dora::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string WriteConfig(const std::string& name, const std::string& body) {
  std::string path = "/tmp/dora-it-" + std::to_string(getpid()) + "-" + name + ".yaml";
  std::ofstream(path) << body;
  return path;
}

// Bytes of a partition's segment files (<offset>.log), as `du --apparent-size` counts them.
uint64_t SegmentBytes(const fs::path& partition_dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(partition_dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.size() == 24 && n.substr(20) == ".log") total += e.file_size(ec);
  }
  return total;
}

const char* kOnlyLogDirs =
    "collectors:\n"
    "  cluster: {enabled: false}\n"
    "  offsets: {enabled: false}\n"
    "  consumer_groups: {enabled: false}\n"
    "  broker_stats: {enabled: false}\n";

}  // namespace

TEST_CASE("log_dirs: a file system filled past 80% shows in used ratio, like df", "[log_dirs][disk]") {
  SmallFs small;
  if (!small.mounted) {
    WARN("cannot mount a loop or tmpfs file system here (not root?): skipped");
    return;
  }
  INFO(small.kind);
  // Laid out like a broker's log dir.
  fs::create_directories(small.dir + "/orders-0");
  std::ofstream(small.dir + "/meta.properties") << "version=1\nnode.id=7\n";
  std::string segment = small.dir + "/orders-0/00000000000000000000.log";
  {
    std::ofstream f(segment, std::ios::binary);
    std::string chunk(512 * 1024, 'k');
    for (int i = 0; i < 80 && StatvfsUsed(small.dir) < 0.86; ++i) {
      f << chunk;
      f.flush();  // ext4 counts delayed-allocation blocks in statvfs at once
    }
  }
  sync();
  double expect = StatvfsUsed(small.dir);
  REQUIRE(expect > 0.8);
  uint64_t bytes = fs::file_size(segment);

  std::string cfg = WriteConfig("fill", std::string(kOnlyLogDirs) +
                                            "  log_dirs: {enabled: true, interval: 1s, broker_id: \"7\", "
                                            "paths: [" +
                                            small.dir + "]}\n");
  Daemon d({"--config", cfg, "--kafka.server=127.0.0.1:" + std::to_string(FreePort())});
  REQUIRE(d.WaitHealthy());
  std::vector<Sample> s;
  bool seen = d.WaitFor(
      [&](const auto& x) {
        auto r = Find(x, "kafka_log_dir_used_ratio", {{"broker", "7"}, {"log_dir", small.dir}});
        return r && *r > 0.8;
      },
      20s, &s);
  INFO(d.Log());
  REQUIRE(seen);
  double ratio = *Find(s, "kafka_log_dir_used_ratio", {{"log_dir", small.dir}});
  CHECK(ratio == Approx(expect).margin(0.02));
  // df rounds Use% up to a whole percent.
  auto df = Shell("df --output=pcent " + small.dir + " | tail -1 | tr -dc 0-9");
  REQUIRE(df.first == 0);
  CHECK(std::abs(ratio * 100 - std::stod(df.second)) <= 1.5);
  CHECK(Find(s, "kafka_log_dir_size_bytes", {{"log_dir", small.dir}}).value_or(0) > 10e6);
  CHECK(Find(s, "kafka_log_dir_free_bytes", {{"log_dir", small.dir}}).value_or(1e12) < 4e6);
  CHECK(Find(s, "kafka_log_dir_partition_size_bytes", {{"topic", "orders"}, {"partition", "0"}}) ==
        static_cast<double>(bytes));
  CHECK(Find(s, "kafka_broker_log_dir_size_total_bytes", {{"broker", "7"}}) == static_cast<double>(bytes));
  CHECK(Find(s, "kafka_topic_log_dir_size_total_bytes", {{"broker", "7"}, {"topic", "orders"}}) ==
        static_cast<double>(bytes));
  CHECK(Find(s, "kafka_exporter_collector_success", {{"collector", "log_dirs"}}) == 1.0);

  // Retention deleted the segment: the daemon follows (the partition dir's mtime changed).
  fs::remove(segment);
  sync();
  REQUIRE(d.WaitFor(
      [&](const auto& x) {
        auto r = Find(x, "kafka_log_dir_used_ratio", {{"log_dir", small.dir}});
        return r && *r < 0.5 && Find(x, "kafka_log_dir_partition_size_bytes", {{"topic", "orders"}}) == 0.0;
      },
      20s, &s));
  unlink(cfg.c_str());
}

TEST_CASE("log_dirs: partition sizes of a real broker match its segment files", "[log_dirs][kafka]") {
  auto kafka = KafkaCluster::Start(1);
  const std::string topic = "disk.usage-test-topic";  // '.' and '-' in the name on purpose
  kafka->CreateTopic(topic, 3, 1);
  kafka->CreateTopic("doomed", 1, 1);
  REQUIRE(ProduceMessages(kafka->bootstrap(), topic, 3000, 0, -1, 200) == 3000);
  REQUIRE(ProduceMessages(kafka->bootstrap(), "doomed", 100, 0, -1, 200) == 100);
  const fs::path data = fs::path(kafka->dir()) / "node-1" / "data";

  std::string cfg = WriteConfig("broker", std::string(kOnlyLogDirs) +
                                              "  log_dirs: {enabled: true, interval: 1s, broker_id: \"1\", "
                                              "paths: [" +
                                              data.string() + "]}\n");
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());

  // The daemon's numbers equal the segment files' sizes on disk, re-read at every poll.
  std::string diff;
  auto matches = [&](const std::vector<Sample>& x) {
    uint64_t total = 0;
    diff.clear();
    for (int p = 0; p < 3; ++p) {
      uint64_t want = SegmentBytes(data / (topic + "-" + std::to_string(p)));
      auto got = Find(
          x, "kafka_log_dir_partition_size_bytes",
          {{"broker", "1"}, {"log_dir", data.string()}, {"topic", topic}, {"partition", std::to_string(p)}});
      diff += "partition " + std::to_string(p) + ": disk " + std::to_string(want) + ", daemon " +
              (got ? std::to_string(*got) : "none") + "\n";
      if (!got || *got != static_cast<double>(want)) return false;
      total += want;
    }
    // (The default partitioner may leave a partition empty: the sum must not be.)
    return total > 0 && Find(x, "kafka_topic_log_dir_size_total_bytes",
                             {{"broker", "1"}, {"topic", topic}}) == static_cast<double>(total);
  };
  std::vector<Sample> s;
  bool ok = d.WaitFor(matches, 30s, &s);
  INFO(diff);
  INFO(d.Log());
  REQUIRE(ok);
  // And what du says about the same files.
  auto du =
      Shell("du -cb --apparent-size " + (data / (topic + "-*")).string() + "/*.log | tail -1 | cut -f1");
  REQUIRE(du.first == 0);
  CHECK(Find(s, "kafka_topic_log_dir_size_total_bytes", {{"topic", topic}}) == std::stod(du.second));
  // The broker total covers every partition (offsets topic, KRaft metadata log, ...).
  double topic_total = *Find(s, "kafka_topic_log_dir_size_total_bytes", {{"topic", topic}});
  CHECK(Find(s, "kafka_broker_log_dir_size_total_bytes", {{"broker", "1"}}).value_or(0) > topic_total);
  CHECK(Find(s, "kafka_log_dir_partition_size_bytes", {{"topic", "doomed"}, {"partition", "0"}}).value_or(0) >
        0);
  CHECK(Find(s, "kafka_exporter_collector_success", {{"collector", "log_dirs"}}) == 1.0);

  // Appends grow the active segment only (no new files): still followed.
  REQUIRE(ProduceMessages(kafka->bootstrap(), topic, 2000, 0, -1, 200) == 2000);
  REQUIRE(d.WaitFor(matches, 30s, &s));

  // A deleted topic's dirs are renamed "<topic>-<p>.<id>-delete": they leave the metrics.
  kafka->DeleteTopic("doomed");
  REQUIRE(d.WaitFor(
      [](const auto& x) {
        return FindAll(x, "kafka_log_dir_partition_size_bytes", {{"topic", "doomed"}}).empty();
      },
      30s, &s));
  for (const auto& x : FindAll(s, "kafka_log_dir_partition_size_bytes")) {
    CHECK(x.labels.at("topic").find("delete") == std::string::npos);
  }
  unlink(cfg.c_str());
}
