#pragma once
// Real librdkafka producers and consumers for integration tests (the same
// library the daemon uses). Every loop is bounded in count and time.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace dora::test {

// Produces `n` messages of `size` bytes (acks=all) to `topic` (partition -1 =
// any), at `rate` messages/s (0 = as fast as possible). Returns messages acked.
int64_t ProduceMessages(const std::string& bootstrap, const std::string& topic, int64_t n, double rate = 0,
                        int32_t partition = -1, size_t size = 100);

// Produces these (key, value) records, bytes as given, to one partition (acks=all).
// Returns records acked.
int64_t ProduceRecords(const std::string& bootstrap, const std::string& topic,
                       const std::vector<std::pair<std::string, std::string>>& records,
                       int32_t partition = 0);

// DeleteRecords: moves the partition's log start offset to `before` (admin API).
void DeleteRecordsBefore(const std::string& bootstrap, const std::string& topic, int32_t partition,
                         int64_t before);

// A producer writing steadily at `rate` msg/s on a background thread until stopped.
class SteadyProducer {
 public:
  SteadyProducer(const std::string& bootstrap, const std::string& topic, double rate, int32_t partition = -1);
  ~SteadyProducer();
  void Stop();
  int64_t acked() const { return acked_.load(); }
  std::chrono::steady_clock::time_point started() const { return started_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> acked_{0};
  std::chrono::steady_clock::time_point started_;
  std::thread thread_;
};

// Consumes exactly `n` messages of `topic` (all partitions, assign()) as
// group `group` and commits their offsets synchronously. Returns how many.
int64_t ConsumeAndCommit(const std::string& bootstrap, const std::string& topic, const std::string& group,
                         int64_t n, std::chrono::seconds timeout = std::chrono::seconds(60));

// One message of a topic, as a consumer reads it.
struct TopicRecord {
  int32_t partition = -1;
  int64_t offset = -1;
  std::string key;
  std::string value;
  bool null_value = false;  // a tombstone (value is then empty)
};

// Reads `topic` from its start (every partition, assign(), nothing committed)
// until `min_records` arrived and then `settle` passed without a new one, or
// `timeout` passed. Records in arrival order (each partition's in offset order).
std::vector<TopicRecord> ReadTopic(const std::string& bootstrap, const std::string& topic, size_t min_records,
                                   std::chrono::seconds timeout,
                                   std::chrono::milliseconds settle = std::chrono::milliseconds(1500));

// Commits `offset` for (topic, partition) as group `group` inside a
// transaction of a librdkafka transactional producer (TxnOffsetCommit), and
// then commits (`commit` true) or aborts it. Throws on any error.
void CommitOffsetInTransaction(const std::string& bootstrap, const std::string& group,
                               const std::string& topic, int32_t partition, int64_t offset, bool commit);

// A group member (subscribe(), Kafka 3.x only) on a background thread.
// kConsume: consume and commit; kStall: stay in the group, keep committing the
// same offsets without consuming (paused partitions).
class GroupMember {
 public:
  enum class Mode { kConsume, kStall };
  GroupMember(const std::string& bootstrap, const std::string& topic, const std::string& group, Mode mode);
  ~GroupMember();  // leaves the group (close)
  void SetMode(Mode m) { mode_.store(m); }
  int64_t consumed() const { return consumed_.load(); }
  bool assigned() const { return assigned_.load(); }
  // The member id the coordinator gave it ("" until it joined) and its client.id.
  std::string member_id() const;
  std::string client_id() const;

 private:
  mutable std::mutex mu_;
  std::string member_id_;  // guarded by mu_
  std::string client_id_;  // guarded by mu_
  std::atomic<Mode> mode_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> assigned_{false};
  std::atomic<int64_t> consumed_{0};
  std::thread thread_;
};

}  // namespace dora::test
