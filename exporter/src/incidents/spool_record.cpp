#include "incidents/spool_record.h"

#include <zlib.h>

#include <cstring>

namespace dora::incidents {
namespace {

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

uint32_t Crc(std::string_view a, std::string_view b, std::string_view c) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::string_view part : {a, b, c}) {
    // Every part is at most 1 MiB here: one call each (uInt).
    if (!part.empty())
      crc = crc32(crc, reinterpret_cast<const Bytef*>(part.data()), static_cast<uInt>(part.size()));
  }
  return static_cast<uint32_t>(crc);
}

bool MagicAt(std::string_view data, size_t at) {
  return data.size() - at >= sizeof kRecordMagic && std::memcmp(data.data() + at, kRecordMagic, 4) == 0;
}

enum class Parse { kOk, kBadHeader, kBadCrc, kTorn };

// The record at `at` (its magic checked by the caller).
Parse ParseAt(std::string_view data, size_t at, ScannedRecord* out) {
  const size_t left = data.size() - at;
  if (left < kRecordHeaderSize) return Parse::kTorn;
  const char* h = data.data() + at;
  const uint32_t key_len = GetU32(h + 4);
  const uint32_t payload_len = GetU32(h + 8);
  if (key_len > kMaxRecordKey || payload_len > kMaxRecordPayload) return Parse::kBadHeader;
  const size_t size = kRecordHeaderSize + key_len + payload_len;
  if (left < size) return Parse::kTorn;
  const std::string_view header(h + 4, 16);
  const std::string_view key(h + kRecordHeaderSize, key_len);
  const std::string_view payload(h + kRecordHeaderSize + key_len, payload_len);
  if (Crc(header, key, payload) != GetU32(h + 20)) return Parse::kBadCrc;
  out->offset = at;
  out->size = size;
  out->appended_ms = static_cast<int64_t>(GetU64(h + 12));
  out->key.assign(key);
  out->payload.assign(payload);
  return Parse::kOk;
}

}  // namespace

std::string EncodeRecord(std::string_view key, std::string_view payload, int64_t appended_ms) {
  std::string header;
  PutU32(&header, static_cast<uint32_t>(key.size()));
  PutU32(&header, static_cast<uint32_t>(payload.size()));
  PutU64(&header, static_cast<uint64_t>(appended_ms));
  std::string out(kRecordMagic, sizeof kRecordMagic);
  out.reserve(RecordSize(key, payload));
  out += header;
  PutU32(&out, Crc(header, key, payload));
  out.append(key);
  out.append(payload);
  return out;
}

ScanResult ScanRecords(std::string_view data) {
  ScanResult result;
  size_t at = 0;
  while (at < data.size()) {
    ScannedRecord rec;
    const Parse p = MagicAt(data, at) ? ParseAt(data, at, &rec) : Parse::kBadHeader;
    if (p == Parse::kOk) {
      at += rec.size;
      result.records.push_back(std::move(rec));
      continue;
    }
    // Resynchronise: the next magic that starts a valid record. Magics that
    // start a torn or bad one are passed over (their bytes join this range).
    size_t next = at + 1;
    for (; next < data.size(); ++next) {
      if (data[next] != kRecordMagic[0] || !MagicAt(data, next)) continue;
      ScannedRecord probe;
      if (ParseAt(data, next, &probe) == Parse::kOk) break;
    }
    SkippedRange skip;
    skip.offset = at;
    skip.length = next - at;
    if (next == data.size() && p == Parse::kTorn) {
      skip.reason = "torn record: ends past the end of the file";
    } else {
      skip.reason = p == Parse::kBadCrc ? "bad CRC" : "bad header";
    }
    result.skipped.push_back(std::move(skip));
    at = next;
  }
  return result;
}

}  // namespace dora::incidents
