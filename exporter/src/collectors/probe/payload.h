#pragma once
// The probe message codec: "dora-probe/1 <instance> <partition> <seq> <sent µs>".
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dora {

// What a probe message carries: whose it is, its place in the partition's
// sequence and when it was sent (wall clock, microseconds since the epoch).
struct ProbePayload {
  uint64_t instance = 0;
  int32_t partition = 0;
  uint64_t seq = 0;
  int64_t sent_unix_us = 0;
};
std::string EncodeProbePayload(const ProbePayload& p);
// nullopt for anything that is not exactly an encoded payload.
std::optional<ProbePayload> DecodeProbePayload(std::string_view text);

// The wall clock as sent_unix_us counts it (sender and receiver compare these).
int64_t ProbeUnixMicros();

}  // namespace dora
