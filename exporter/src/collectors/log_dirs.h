#pragma once
// log_dirs: disk usage of one broker's log dirs, read from the dirs themselves
// (sidecar mode, mounted read-only): librdkafka 2.0.2 has no DescribeLogDirs.
//
// Exports kafka_log_dir_size_bytes, kafka_log_dir_free_bytes and
// kafka_log_dir_used_ratio (statvfs, per log dir, like df),
// kafka_log_dir_partition_size_bytes (sum of the partition's segment files,
// the size Kafka itself reports), kafka_broker_log_dir_size_total_bytes and
// kafka_topic_log_dir_size_total_bytes. Totals are left out when part of the
// data behind them is unknown (a dir not listed, a partition not yet sized).
//
// Requests per run: none. File-system work per run: per log dir one statvfs and
// one stat (a readdir when its mtime changed, which Kafka's checkpoint renames
// make every few seconds); per partition one stat of
// the dir and one of its active segment (a readdir only when the dir's mtime
// changed), at most collectors.log_dirs.max_entries_per_cycle in total, resumed
// round-robin in the next run. ACLs: none (read access to the log dirs).
#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "kafka/types.h"

namespace dora {

// "<topic>-<partition>" -> topic partition. nullopt for everything else a log
// dir holds: files (meta.properties, *-checkpoint), "-delete"/"-future"/"-stray"
// dirs ("<topic>-<p>.<id>-delete"), lost+found, names that are not legal topics.
std::optional<TopicPartition> ParsePartitionDirName(std::string_view name);

// Base offset of a segment data file "<20 digits>.log"; nullopt for indexes,
// snapshots, checkpoints and *.log.deleted/.cleaned/.swap leftovers.
std::optional<uint64_t> ParseSegmentFileName(std::string_view name);

struct FsUsage {
  uint64_t size_bytes = 0;  // f_blocks * f_frsize
  uint64_t free_bytes = 0;  // f_bavail * f_frsize (what an unprivileged broker can still use)
  double used_ratio = 0;    // used / (used + available), used = blocks - bfree; as df computes Use%
};
FsUsage ComputeFsUsage(uint64_t blocks, uint64_t bfree, uint64_t bavail, uint64_t frsize);

// What one run knows about one log dir.
struct LogDirReport {
  std::string path;
  std::optional<FsUsage> fs;                      // nullopt: statvfs failed
  bool listed = false;                            // the partition list is known
  std::map<TopicPartition, uint64_t> partitions;  // partitions whose size is known
  std::set<std::string> unsized_topics;           // topics with a partition of unknown size
};

// Pure: renders the reports. The broker total needs every dir listed and every
// partition sized; a topic total needs every dir listed and the topic's
// partitions sized.
void RenderLogDirs(const std::string& broker, const std::vector<LogDirReport>& reports, MetricsBuilder& out);

// The cached, bounded walk. Not thread-safe: one owner (the collector's thread).
class LogDirScanner {
 public:
  explicit LogDirScanner(int max_entries_per_cycle) : max_entries_(max_entries_per_cycle) {}
  // One cycle over `paths`; stops early (resuming there next cycle) when the
  // entry budget is spent or `deadline` passes. Errors go to `problems`.
  std::vector<LogDirReport> Scan(const std::vector<std::string>& paths,
                                 std::chrono::steady_clock::time_point deadline,
                                 std::vector<std::string>* problems);
  // Directory entries examined (readdir entries + stats) in the last Scan.
  int64_t entries_used() const { return used_; }
  // The last Scan stopped early: on the entry budget, or on the deadline.
  bool exhausted() const { return exhausted_; }
  bool timed_out() const { return timed_out_; }

 private:
  struct PartitionCache {
    timespec mtime{};
    bool trusted = false;       // the mtime is old enough to rely on (not "racy")
    bool sized = false;         // closed/active below are valid
    uint64_t closed_bytes = 0;  // segments other than the active one
    std::string active;         // highest base offset segment, "" if none
    uint64_t active_bytes = 0;
  };
  struct DirCache {
    timespec mtime{};
    bool trusted = false;
    bool listed = false;
    std::map<std::string, TopicPartition> names;  // partition dir name -> tp
    std::map<std::string, PartitionCache> parts;
  };
  bool Spend(int64_t n);
  bool ListDir(const std::string& path, DirCache* dir, std::vector<std::string>* problems);
  // false when the budget ran out in the middle (the cache entry is left as it was).
  bool SizePartition(int dirfd, const std::string& name, PartitionCache* pc, bool* gone);

  int max_entries_;
  int64_t used_ = 0;
  bool exhausted_ = false;
  bool timed_out_ = false;
  std::map<std::string, DirCache> dirs_;
  std::pair<size_t, std::string> cursor_;  // (index in paths, partition dir) to resume at
};

class LogDirsCollector : public Collector {
 public:
  explicit LogDirsCollector(LogDirsCollectorConfig config);
  std::string name() const override { return "log_dirs"; }
  Millis interval() const override { return config_.interval; }
  Millis timeout() const override { return config_.timeout; }
  Status Collect(const CollectContext& ctx, MetricsBuilder& out) override;

 private:
  LogDirsCollectorConfig config_;
  LogDirScanner scanner_;
};

}  // namespace dora
