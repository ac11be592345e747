#pragma once
// Committed offsets read from Kafka's internal __consumer_offsets topic, the
// optional source of collectors.consumer_groups.offsets_source: offsets_topic
// (docs/consumer-lag.md). A sibling of KafkaApi (kafka/api.h): plain structs
// out, no librdkafka type in view.
//
// CommittedOffsetsTable is the pure part (the latest offset per group,
// topic and partition, fed decoded records); StartOffsetsTopicReader runs a
// librdkafka consumer on its own thread that feeds one.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "kafka/group_types.h"
#include "kafka/offsets_topic_record.h"
#include "util/status.h"

namespace dora {

// The latest committed offset of every group-partition, as the coordinator
// wrote it: an offset commit replaces the partition's offset, an offset
// tombstone (a deleted group, an expired or deleted offset) removes it, and a
// group with no offset left is gone. A classic group's metadata tombstone
// does not remove offsets: Kafka writes a tombstone for each of them when it
// deletes a group, and also writes a metadata tombstone when it converts a
// live group between the classic and the consumer protocol (KIP-848), whose
// offsets stay. Not thread-safe; the reader locks around it.
class CommittedOffsetsTable {
 public:
  // Applies one decoded record; records other than offset commits change nothing.
  void Apply(const OffsetsTopicRecord& r);
  // The committed offsets of `groups`, in that order, each sorted by (topic,
  // partition); a group without offsets has none (and no error).
  std::vector<GroupOffsets> Committed(const std::vector<std::string>& groups) const;
  size_t groups() const { return groups_.size(); }
  size_t partitions() const { return partitions_; }

 private:
  using Partitions = std::map<int32_t, int64_t>;
  std::unordered_map<std::string, std::map<std::string, Partitions>> groups_;
  size_t partitions_ = 0;
};

struct OffsetsTopicProgress {
  // Every partition of __consumer_offsets read up to the end offset it had
  // when the reader started (its last stable offset: read_committed).
  bool caught_up = false;
  int64_t remaining = -1;  // records left to that end while catching up; -1 before it is known
  std::map<std::string, uint64_t> records;  // records read, by OffsetsRecordKindName
  size_t groups = 0;                        // groups with committed offsets held
  size_t group_partitions = 0;              // group-partitions held
};

class CommittedOffsetsSource {
 public:
  virtual ~CommittedOffsetsSource() = default;
  virtual OffsetsTopicProgress Progress() const = 0;
  // As CommittedOffsetsTable::Committed, from the records read so far.
  virtual std::vector<GroupOffsets> Committed(const std::vector<std::string>& groups) const = 0;
};

// Starts a consumer with assign() (never subscribe: no group is joined and
// nothing committed) on every partition of __consumer_offsets, from the
// beginning, with isolation.level read_committed (a transactional offset
// commit counts once committed; an aborted one never). Its thread stops, and
// the handle is destroyed, with the returned object. Needs READ and DESCRIBE
// on the topic (docs/security.md).
Result<std::shared_ptr<CommittedOffsetsSource>> StartOffsetsTopicReader(const KafkaConfig& config);

}  // namespace dora
