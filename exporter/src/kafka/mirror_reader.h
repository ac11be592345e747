#pragma once
// The mirror collector's consumer (collectors/mirror/): a handle of its own on
// one cluster (the daemon's or the peer's), returning plain structs; this
// header does not include librdkafka's.
//
// Partitions are assign()ed at explicit offsets, never subscribed: no group
// membership, nothing committed (librdkafka needs a group.id for assign(); it
// is "<client_id>-mirror", whose coordinator librdkafka looks up but never
// joins). End offsets come from one batched offsets_for_times request
// (query_watermark_offsets can hang in librdkafka 2.0.2); topic metadata comes
// from the cluster's KafkaApi.
//
// Thread-safe as librdkafka handles are; the collector polls each reader from
// one thread at a time.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "kafka/types.h"
#include "util/duration.h"
#include "util/status.h"

namespace dora {

// One record read, or one consumer error.
struct MirrorRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;
  int64_t timestamp_ms = -1;  // the record's timestamp; -1 when it has none
  std::string key;
  std::string value;
  std::string error;  // non-empty: an error event; the other fields may be unset
};

class MirrorReader {
 public:
  // `role` names the handle in client.id ("<client_id>-mirror-<role>").
  // Fails (reason "config") when the handle cannot be built (a secret file
  // missing, a bad property).
  static Result<std::unique_ptr<MirrorReader>> Create(const KafkaConfig& config, const std::string& role);
  ~MirrorReader();  // without a consumer close: there is no membership to leave
  MirrorReader(const MirrorReader&) = delete;
  MirrorReader& operator=(const MirrorReader&) = delete;

  // ListOffsets (latest, i.e. the high watermark; or earliest) for
  // `partitions`, batched: one entry per answered partition with its own error.
  Result<std::vector<PartitionOffset>> Offsets(const std::vector<TopicPartition>& partitions, bool latest,
                                               Millis timeout);
  // Adds these partitions to the assignment, each read from its offset (-2: the beginning).
  Status Assign(const std::vector<PartitionOffset>& starts);
  // The next record or error, waiting up to `wait`; nullopt when none came.
  std::optional<MirrorRecord> Poll(Millis wait);

  struct Impl;

 private:
  explicit MirrorReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dora
