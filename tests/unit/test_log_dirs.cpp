// log_dirs: the pure parsing and aggregation, and the cached, bounded walk on a
// small temporary log dir.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "collectors/log_dirs.h"
#include "support/metrics_text.h"

using namespace dora;
using dora::test::Find;
using dora::test::FindAll;
using dora::test::ParseExposition;
namespace fs = std::filesystem;

TEST_CASE("partition dir names", "[log_dirs]") {
  auto tp = ParsePartitionDirName("agent-events-0");
  REQUIRE(tp);
  CHECK(tp->topic == "agent-events");
  CHECK(tp->partition == 0);
  tp = ParsePartitionDirName("dlq-task.requests_v2-117");
  REQUIRE(tp);
  CHECK(tp->topic == "dlq-task.requests_v2");
  CHECK(tp->partition == 117);
  tp = ParsePartitionDirName("__consumer_offsets-49");
  REQUIRE(tp);
  CHECK(tp->topic == "__consumer_offsets");
  tp = ParsePartitionDirName("__cluster_metadata-0");  // KRaft metadata log: real bytes on the disk
  REQUIRE(tp);
  CHECK(tp->topic == "__cluster_metadata");
  // A topic whose own name ends like a partition.
  tp = ParsePartitionDirName("orders-2024-3");
  REQUIRE(tp);
  CHECK(tp->topic == "orders-2024");
  CHECK(tp->partition == 3);
  // A topic literally called "x-delete" still has numbered partition dirs.
  tp = ParsePartitionDirName("x-delete-1");
  REQUIRE(tp);
  CHECK(tp->topic == "x-delete");
  tp = ParsePartitionDirName("p-2147483647");
  REQUIRE(tp);
  CHECK(tp->partition == 2147483647);

  for (const char* not_a_partition : {"meta.properties",
                                      "recovery-point-offset-checkpoint",
                                      "log-start-offset-checkpoint",
                                      "replication-offset-checkpoint",
                                      "cleaner-offset-checkpoint",
                                      ".lock",
                                      "bootstrap.checkpoint",
                                      "lost+found",
                                      "agent-events-0.0b7c1d3e4f5a69788796a5b4c3d2e1f0-delete",
                                      "agent-events-0.0b7c1d3e4f5a69788796a5b4c3d2e1f0-future",
                                      "agent-events-0.0b7c1d3e4f5a69788796a5b4c3d2e1f0-stray",
                                      "-0",
                                      "topic-",
                                      "topic",
                                      "topic-01",
                                      "topic-+1",
                                      "topic-1a",
                                      "top ic-1",
                                      "topic-2147483648",
                                      "topic-99999999999",
                                      "..-0",
                                      ".-1"}) {
    INFO(not_a_partition);
    CHECK_FALSE(ParsePartitionDirName(not_a_partition));
  }
  CHECK_FALSE(ParsePartitionDirName(std::string(250, 'a') + "-0"));
  CHECK(ParsePartitionDirName(std::string(249, 'a') + "-0"));
}

TEST_CASE("segment file names", "[log_dirs]") {
  CHECK(ParseSegmentFileName("00000000000000000000.log") == 0u);
  CHECK(ParseSegmentFileName("00000000000000123456.log") == 123456u);
  for (const char* other :
       {"00000000000000000000.index", "00000000000000000000.timeindex", "00000000000000000000.snapshot",
        "00000000000000000000.log.deleted", "00000000000000000000.log.cleaned",
        "00000000000000000000.log.swap", "leader-epoch-checkpoint", "partition.metadata",
        "0000000000000000000.log", "0000000000000000000a.log", "000000000000000000000.log"}) {
    INFO(other);
    CHECK_FALSE(ParseSegmentFileName(other));
  }
}

TEST_CASE("file system usage like df", "[log_dirs]") {
  // 1000 blocks of 4 KiB, 300 free of which 250 are available to non-root.
  FsUsage u = ComputeFsUsage(1000, 300, 250, 4096);
  CHECK(u.size_bytes == 4096000u);
  CHECK(u.free_bytes == 1024000u);
  CHECK(u.used_ratio == Approx(700.0 / 950.0));
  CHECK(ComputeFsUsage(0, 0, 0, 4096).used_ratio == 0.0);
  CHECK(ComputeFsUsage(100, 0, 0, 4096).used_ratio == 1.0);
}

TEST_CASE("log dir rendering and totals", "[log_dirs]") {
  LogDirReport a;
  a.path = "/data/a";
  a.fs = ComputeFsUsage(1000, 500, 500, 1024);
  a.listed = true;
  a.partitions[{"orders", 0}] = 100;
  a.partitions[{"orders", 1}] = 50;
  a.partitions[{"audit-logs", 0}] = 7;
  LogDirReport b;
  b.path = "/data/b";
  b.fs = ComputeFsUsage(1000, 900, 900, 1024);
  b.listed = true;
  b.partitions[{"orders", 2}] = 10;

  MetricsBuilder out;
  RenderLogDirs("2", {a, b}, out);
  auto s = ParseExposition(out.Render());
  CHECK(Find(s, "kafka_log_dir_size_bytes", {{"broker", "2"}, {"log_dir", "/data/a"}}) == 1024000.0);
  CHECK(Find(s, "kafka_log_dir_free_bytes", {{"broker", "2"}, {"log_dir", "/data/b"}}) == 921600.0);
  CHECK(Find(s, "kafka_log_dir_used_ratio", {{"log_dir", "/data/a"}}) == Approx(0.5));
  CHECK(Find(s, "kafka_log_dir_partition_size_bytes",
             {{"log_dir", "/data/a"}, {"topic", "orders"}, {"partition", "1"}}) == 50.0);
  CHECK(Find(s, "kafka_log_dir_partition_size_bytes", {{"log_dir", "/data/b"}, {"topic", "orders"}}) == 10.0);
  CHECK(Find(s, "kafka_broker_log_dir_size_total_bytes", {{"broker", "2"}}) == 167.0);
  CHECK(Find(s, "kafka_topic_log_dir_size_total_bytes", {{"topic", "orders"}}) == 160.0);
  CHECK(Find(s, "kafka_topic_log_dir_size_total_bytes", {{"topic", "audit-logs"}}) == 7.0);

  SECTION("a partition not sized yet drops its topic's total and the broker total") {
    b.unsized_topics.insert("orders");
    MetricsBuilder o2;
    RenderLogDirs("2", {a, b}, o2);
    auto s2 = ParseExposition(o2.Render());
    CHECK(FindAll(s2, "kafka_broker_log_dir_size_total_bytes").empty());
    CHECK(FindAll(s2, "kafka_topic_log_dir_size_total_bytes", {{"topic", "orders"}}).empty());
    CHECK(Find(s2, "kafka_topic_log_dir_size_total_bytes", {{"topic", "audit-logs"}}) == 7.0);
    CHECK(FindAll(s2, "kafka_log_dir_partition_size_bytes").size() == 4);
  }
  SECTION("a log dir that could not be listed drops every total but keeps the rest") {
    b.listed = false;
    b.partitions.clear();
    MetricsBuilder o2;
    RenderLogDirs("2", {a, b}, o2);
    auto s2 = ParseExposition(o2.Render());
    CHECK(FindAll(s2, "kafka_broker_log_dir_size_total_bytes").empty());
    CHECK(FindAll(s2, "kafka_topic_log_dir_size_total_bytes").empty());
    CHECK(Find(s2, "kafka_log_dir_used_ratio", {{"log_dir", "/data/b"}}) == Approx(0.1));
    CHECK(FindAll(s2, "kafka_log_dir_partition_size_bytes").size() == 3);
  }
  SECTION("a log dir whose statvfs failed has no file-system series") {
    b.fs.reset();
    MetricsBuilder o2;
    RenderLogDirs("2", {a, b}, o2);
    auto s2 = ParseExposition(o2.Render());
    CHECK(FindAll(s2, "kafka_log_dir_size_bytes", {{"log_dir", "/data/b"}}).empty());
    CHECK(Find(s2, "kafka_broker_log_dir_size_total_bytes") == 167.0);
  }
}

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/dora-logdirs-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void WriteBytes(const fs::path& p, size_t n, bool append = false) {
  std::ofstream f(p, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
  f << std::string(n, 'x');
}

// Sets a file's mtime well into the past, so the scanner trusts it (not "racy").
void Age(const fs::path& p, int seconds = 60) {
  fs::last_write_time(p, fs::last_write_time(p) - std::chrono::seconds(seconds));
}

uint64_t Size(const std::vector<LogDirReport>& r, const std::string& topic, int32_t p) {
  auto it = r.at(0).partitions.find({topic, p});
  return it == r.at(0).partitions.end() ? UINT64_MAX : it->second;
}

const auto kFar = std::chrono::steady_clock::now() + std::chrono::hours(1);

}  // namespace

TEST_CASE("scanner sizes partitions from their segment files and follows changes", "[log_dirs]") {
  TempDir d;
  fs::create_directories(d.path / "orders-0");
  fs::create_directories(d.path / "my.topic-with-dashes-12");
  fs::create_directories(d.path / "orders-1.0123456789abcdef0123456789abcdef-delete");
  WriteBytes(d.path / "meta.properties", 10);
  WriteBytes(d.path / "recovery-point-offset-checkpoint", 10);
  WriteBytes(d.path / "orders-0" / "00000000000000000000.log", 1000);
  WriteBytes(d.path / "orders-0" / "00000000000000000000.index", 4096);  // not counted (Kafka's own size)
  WriteBytes(d.path / "orders-0" / "00000000000000000042.log", 300);
  WriteBytes(d.path / "orders-0" / "leader-epoch-checkpoint", 20);
  WriteBytes(d.path / "my.topic-with-dashes-12" / "00000000000000000000.log", 5);
  WriteBytes(d.path / "orders-1.0123456789abcdef0123456789abcdef-delete" / "00000000000000000000.log", 9999);
  for (const auto& p : {d.path / "orders-0", d.path / "my.topic-with-dashes-12", d.path}) Age(p);

  LogDirScanner scanner(1000);
  std::vector<std::string> problems;
  auto r = scanner.Scan({d.path.string()}, kFar, &problems);
  CHECK(problems.empty());
  REQUIRE(r.size() == 1);
  CHECK(r[0].listed);
  REQUIRE(r[0].fs);
  CHECK(r[0].fs->size_bytes > 0);
  CHECK(r[0].unsized_topics.empty());
  CHECK(r[0].partitions.size() == 2);
  CHECK(Size(r, "orders", 0) == 1300);
  CHECK(Size(r, "my.topic-with-dashes", 12) == 5);
  int64_t first = scanner.entries_used();

  // Appends go to the active segment only; the dir's mtime does not change.
  WriteBytes(d.path / "orders-0" / "00000000000000000042.log", 200, true);
  r = scanner.Scan({d.path.string()}, kFar, &problems);
  CHECK(Size(r, "orders", 0) == 1500);
  // A cached cycle stats the dirs and active segments, it does not list them again.
  CHECK(scanner.entries_used() < first);
  CHECK(scanner.entries_used() == 4);

  // A roll and a deletion change the dir's mtime: the partition is listed again.
  WriteBytes(d.path / "orders-0" / "00000000000000000100.log", 7);
  fs::remove(d.path / "orders-0" / "00000000000000000000.log");
  r = scanner.Scan({d.path.string()}, kFar, &problems);
  CHECK(Size(r, "orders", 0) == 507);

  // A new partition dir shows up (the log dir's mtime changed), a deleted one goes.
  fs::create_directories(d.path / "orders-2");
  WriteBytes(d.path / "orders-2" / "00000000000000000000.log", 64);
  fs::remove_all(d.path / "my.topic-with-dashes-12");
  r = scanner.Scan({d.path.string()}, kFar, &problems);
  CHECK(Size(r, "orders", 2) == 64);
  CHECK(r[0].partitions.count({"my.topic-with-dashes", 12}) == 0);
  CHECK(problems.empty());
}

TEST_CASE("scanner keeps to its entry budget and resumes where it stopped", "[log_dirs]") {
  TempDir d;
  for (int p = 0; p < 6; ++p) {
    fs::path pd = d.path / ("t-" + std::to_string(p));
    fs::create_directories(pd);
    WriteBytes(pd / "00000000000000000000.log", 10 + p);
    Age(pd);
  }
  Age(d.path);
  // Listing the log dir costs 8 entries (with . and ..); a first sizing of a
  // partition costs 1 (dir stat) + 3 (entries) + 1 (segment stat) = 5.
  LogDirScanner scanner(8 + 2 * 5);
  std::vector<std::string> problems;
  auto r = scanner.Scan({d.path.string()}, kFar, &problems);
  CHECK(scanner.exhausted());
  CHECK(scanner.entries_used() <= 18);
  CHECK(r[0].listed);
  CHECK(r[0].partitions.size() == 2);
  CHECK(r[0].unsized_topics == std::set<std::string>{"t"});
  MetricsBuilder out;
  RenderLogDirs("1", r, out);
  auto s = ParseExposition(out.Render());
  CHECK(FindAll(s, "kafka_broker_log_dir_size_total_bytes").empty());  // partial sum left out
  CHECK(FindAll(s, "kafka_log_dir_partition_size_bytes").size() == 2);

  // Later cycles pick up the rest (the listing is cached now).
  for (int i = 0; i < 5 && !r[0].unsized_topics.empty(); ++i)
    r = scanner.Scan({d.path.string()}, kFar, &problems);
  CHECK(r[0].unsized_topics.empty());
  REQUIRE(r[0].partitions.size() == 6);
  uint64_t total = 0;
  for (const auto& [tp, bytes] : r[0].partitions) total += bytes;
  CHECK(total == 10 + 11 + 12 + 13 + 14 + 15);
  CHECK(problems.empty());
}

TEST_CASE("scanner reports a missing log dir and keeps the others", "[log_dirs]") {
  TempDir d;
  fs::create_directories(d.path / "a-0");
  WriteBytes(d.path / "a-0" / "00000000000000000000.log", 3);
  LogDirScanner scanner(1000);
  std::vector<std::string> problems;
  auto r = scanner.Scan({d.path.string(), (d.path / "missing").string()}, kFar, &problems);
  REQUIRE(r.size() == 2);
  CHECK(Size(r, "a", 0) == 3);
  CHECK_FALSE(r[1].fs);
  CHECK_FALSE(r[1].listed);
  CHECK(problems.size() >= 1);
  MetricsBuilder out;
  RenderLogDirs("1", r, out);
  auto s = ParseExposition(out.Render());
  CHECK(FindAll(s, "kafka_broker_log_dir_size_total_bytes").empty());
  CHECK(Find(s, "kafka_log_dir_partition_size_bytes", {{"topic", "a"}}) == 3.0);
}
