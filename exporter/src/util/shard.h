#pragma once
// Sharding (docs/deployment.md, "Sharding"): a consumer group belongs to shard
// FNV-1a-32(UTF-8 bytes of its name) mod count. The hash is fixed forever so
// users can predict a group's shard from its name alone (the same on every
// platform and release); changing it would move every group at an upgrade.
#include <cstdint>
#include <string_view>

namespace dora {

// FNV-1a, 32 bits: offset basis 2166136261, prime 16777619, over the bytes.
inline uint32_t Fnv1a32(std::string_view bytes) {
  uint32_t h = 2166136261u;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

// The shard (0 .. count-1) a group name belongs to; 0 when count <= 1.
inline int ShardOf(std::string_view group, int count) {
  if (count <= 1) return 0;
  return static_cast<int>(Fnv1a32(group) % static_cast<uint32_t>(count));
}

}  // namespace dora
