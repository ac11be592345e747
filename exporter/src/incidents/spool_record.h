#pragma once
// The spool's record format (incidents/spool.h), pure and separate from the
// files so that it can be unit-tested and fuzzed (fuzz/fuzz_spool_reader.cpp).
//
// One record, little-endian:
//   magic "DSR1" | u32 key length | u32 payload length | u64 appended at
//   (unix ms) | u32 CRC-32 | key | payload
// The CRC-32 (zlib's, IEEE) covers the 16 header bytes after the magic, then
// the key and the payload: a flipped bit anywhere but in the magic fails it,
// and a bad magic is found at once. After a bad record the reader looks for
// the next magic that starts a valid record, so one damaged record costs only
// itself.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dora::incidents {

inline constexpr char kRecordMagic[4] = {'D', 'S', 'R', '1'};
inline constexpr size_t kRecordHeaderSize = 24;
inline constexpr size_t kMaxRecordKey = 1024;
inline constexpr size_t kMaxRecordPayload = 1u << 20;

// The bytes of one record.
std::string EncodeRecord(std::string_view key, std::string_view payload, int64_t appended_ms);
// Its size on disk.
inline size_t RecordSize(std::string_view key, std::string_view payload) {
  return kRecordHeaderSize + key.size() + payload.size();
}

struct ScannedRecord {
  uint64_t offset = 0;  // of its first byte, from the start of the scanned data
  uint64_t size = 0;    // header included
  int64_t appended_ms = 0;
  std::string key;
  std::string payload;
};

// A range of bytes that holds no valid record.
struct SkippedRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string reason;  // "bad CRC", "bad header", "torn record: ends past the end of the file"
};

struct ScanResult {
  std::vector<ScannedRecord> records;  // in order, not overlapping
  std::vector<SkippedRange> skipped;   // in order, between and after the records
};

// Every valid record of `data` (a whole file, or its tail from a record
// boundary). A record that would end past the end of `data` is a torn tail.
// Never throws; O(n) for a valid file, O(n * records tried) at worst.
ScanResult ScanRecords(std::string_view data);

}  // namespace dora::incidents
