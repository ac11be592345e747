#include "collectors/probe/payload.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>

namespace dora {
namespace {
constexpr char kMagic[] = "dora-probe/1";
}  // namespace

std::string EncodeProbePayload(const ProbePayload& p) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s %016" PRIx64 " %" PRId32 " %" PRIu64 " %" PRId64, kMagic, p.instance,
                p.partition, p.seq, p.sent_unix_us);
  return buf;
}

std::optional<ProbePayload> DecodeProbePayload(std::string_view text) {
  if (text.size() > 120 || text.substr(0, sizeof kMagic - 1) != kMagic) return std::nullopt;
  std::string s(text);  // sscanf needs a terminated string
  char magic[16] = {0};
  ProbePayload p;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%15s %16" SCNx64 " %" SCNd32 " %" SCNu64 " %" SCNd64 "%n", magic, &p.instance,
                  &p.partition, &p.seq, &p.sent_unix_us, &consumed) != 5)
    return std::nullopt;
  if (static_cast<size_t>(consumed) != s.size() || std::string(magic) != kMagic || p.partition < 0)
    return std::nullopt;
  return p;
}

int64_t ProbeUnixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace dora
