#pragma once
// MirrorMaker 2's internal records, decoded from their bytes (Kafka's own
// protocol types, big-endian; a STRING is an int16 length then UTF-8):
//
//   offset syncs (topic mm2-offset-syncs.<target>.internal, by default on the
//   source cluster; connect-mirror-client OffsetSync):
//     key   = topic STRING, partition INT32            (the upstream partition)
//     value = upstreamOffset INT64, offset INT64        (offset: downstream)
//
//   checkpoints (topic <source>.checkpoints.internal on the target cluster;
//   connect-mirror-client Checkpoint):
//     key   = group STRING, topic STRING, partition INT32  (topic: the target's
//             name of the replicated topic, e.g. "primary.orders")
//     value = version INT16 (0), upstreamOffset INT64, offset INT64,
//             metadata STRING
//
// Anything else (truncated input, trailing bytes, a negative string length, an
// unknown checkpoint version) decodes to nullopt: the caller counts it, never
// crashes. tests/fixtures/mm2/ holds records a real MM2 3.9.1 wrote.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dora::mirror {

struct OffsetSync {
  std::string topic;  // upstream (source) topic
  int32_t partition = 0;
  int64_t upstream_offset = 0;
  int64_t downstream_offset = 0;
};

struct Checkpoint {
  std::string group;
  std::string topic;  // downstream (target) topic name
  int32_t partition = 0;
  int64_t upstream_offset = 0;    // the group's committed offset on the source
  int64_t downstream_offset = 0;  // its translation on the target
  std::string metadata;
};

std::optional<OffsetSync> DecodeOffsetSync(std::string_view key, std::string_view value);
std::optional<Checkpoint> DecodeCheckpoint(std::string_view key, std::string_view value);

}  // namespace dora::mirror
