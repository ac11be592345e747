#pragma once
// The records of Kafka's internal __consumer_offsets topic, decoded from the
// group coordinator's documented schemas (Kafka's group-coordinator message
// JSON: OffsetCommitKey/Value, GroupMetadataKey, and the newer coordinator
// record types). Pure: no librdkafka, fuzzed (fuzz/fuzz_offsets_topic.cpp).
//
// Key: int16 version (since Kafka 4.0 called the record type), then
//   0, 1  OffsetCommitKey: group string, topic string, partition int32
//   2     GroupMetadataKey: group string (its value, the classic group's
//         members, is skipped)
//   3+    the coordinator's other records: KIP-848 consumer groups
//         (ConsumerGroupMetadata, ...PartitionMetadata, ...MemberMetadata,
//         ...TargetAssignment*, ...CurrentMemberAssignment,
//         ...RegularExpression), share and streams groups: skipped
// OffsetCommitValue: int16 version, then offset int64, leaderEpoch int32
// (v3+), metadata string, commitTimestamp int64, expireTimestamp int64 (v1
// only). v4+ is flexible (compact strings, tagged fields at the end; KIP-915
// keeps later versions readable as v4). A null value is a tombstone.
#include <cstddef>
#include <cstdint>
#include <string>

namespace dora {

enum class OffsetsRecordKind {
  kOffsetCommit,      // an offset commit, or its tombstone
  kGroupMetadata,     // a classic group's metadata, or its tombstone
  kOtherGroupRecord,  // key version 3+: a record of another group kind; skipped
  kUnknown,           // a key or value version this decoder does not know
  kMalformed,         // truncated or inconsistent bytes
};

struct OffsetsTopicRecord {
  OffsetsRecordKind kind = OffsetsRecordKind::kMalformed;
  int16_t key_version = -1;
  int16_t value_version = -1;  // -1 for a tombstone
  bool tombstone = false;      // null value
  std::string group;           // offset commits and group metadata
  std::string topic;           // offset commits
  int32_t partition = -1;
  int64_t offset = -1;
  int32_t leader_epoch = -1;  // -1 before value v3
  int64_t commit_timestamp = -1;
  std::string error;  // why kMalformed or kUnknown
};

// Decodes one record; `value` null is a tombstone. Never throws; bad bytes
// give kMalformed, unknown versions kUnknown.
OffsetsTopicRecord DecodeOffsetsTopicRecord(const void* key, size_t key_len, const void* value,
                                            size_t value_len);

// The label value of a kind in kafka_consumergroup_offsets_topic_records_total.
const char* OffsetsRecordKindName(OffsetsRecordKind kind, bool tombstone);

}  // namespace dora
