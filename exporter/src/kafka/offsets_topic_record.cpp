#include "kafka/offsets_topic_record.h"

#include <cstring>

namespace dora {
namespace {

// Big-endian reads over a bounded buffer; any read past the end sets `bad`.
class Reader {
 public:
  Reader(const void* data, size_t size) : p_(static_cast<const uint8_t*>(data)), n_(data ? size : 0) {}
  bool bad() const { return bad_; }
  size_t left() const { return n_ - at_; }

  uint64_t Big(int bytes) {
    if (bad_ || left() < static_cast<size_t>(bytes)) {
      bad_ = true;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | p_[at_++];
    return v;
  }
  int16_t Int16() { return static_cast<int16_t>(Big(2)); }
  int32_t Int32() { return static_cast<int32_t>(Big(4)); }
  int64_t Int64() { return static_cast<int64_t>(Big(8)); }

  // An unsigned varint (at most 5 bytes for the 32-bit lengths it carries).
  uint32_t UVarint() {
    uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      uint8_t b = static_cast<uint8_t>(Big(1));
      if (bad_) return 0;
      v |= static_cast<uint32_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    bad_ = true;
    return 0;
  }

  // A classic string: int16 length, -1 null (read as empty).
  std::string String() {
    int16_t len = Int16();
    if (bad_ || len < 0) return {};
    return Take(static_cast<size_t>(len));
  }
  // A compact string: uvarint length + 1, 0 null.
  std::string CompactString() {
    uint32_t n = UVarint();
    if (bad_ || n == 0) return {};
    return Take(n - 1);
  }
  void Skip(size_t len) {
    if (bad_ || left() < len) {
      bad_ = true;
      return;
    }
    at_ += len;
  }

 private:
  std::string Take(size_t len) {
    if (bad_ || left() < len) {
      bad_ = true;
      return {};
    }
    std::string s(reinterpret_cast<const char*>(p_ + at_), len);
    at_ += len;
    return s;
  }

  const uint8_t* p_;
  size_t n_;
  size_t at_ = 0;
  bool bad_ = false;
};

constexpr int16_t kLatestOffsetValue = 4;

void DecodeOffsetValue(Reader& v, OffsetsTopicRecord& r) {
  r.value_version = v.Int16();
  if (v.bad()) {
    r.kind = OffsetsRecordKind::kMalformed;
    r.error = "offset commit value without a version";
    return;
  }
  const int16_t ver = r.value_version;
  if (ver < 0) {
    r.kind = OffsetsRecordKind::kUnknown;
    r.error = "offset commit value version " + std::to_string(ver);
    return;
  }
  r.offset = v.Int64();
  if (ver >= 3) r.leader_epoch = v.Int32();
  if (ver >= kLatestOffsetValue) {
    (void)v.CompactString();  // metadata
  } else {
    (void)v.String();
  }
  r.commit_timestamp = v.Int64();
  if (ver == 1) (void)v.Int64();  // expireTimestamp
  if (ver >= kLatestOffsetValue) {
    // Tagged fields (none this decoder needs), walked so that a truncated
    // record is told from a whole one.
    const uint32_t tags = v.UVarint();
    for (uint32_t i = 0; i < tags && !v.bad(); ++i) {
      (void)v.UVarint();  // tag
      v.Skip(v.UVarint());
    }
  }
  if (v.bad()) {
    r.kind = OffsetsRecordKind::kMalformed;
    r.error = "truncated offset commit value v" + std::to_string(ver);
  }
}

}  // namespace

OffsetsTopicRecord DecodeOffsetsTopicRecord(const void* key, size_t key_len, const void* value,
                                            size_t value_len) {
  OffsetsTopicRecord r;
  r.tombstone = value == nullptr;
  Reader k(key, key_len);
  r.key_version = k.Int16();
  if (k.bad()) {
    r.error = "key shorter than its version";
    return r;
  }
  if (r.key_version < 0) {
    r.kind = OffsetsRecordKind::kUnknown;
    r.error = "key version " + std::to_string(r.key_version);
    return r;
  }
  if (r.key_version >= 3) {
    r.kind = OffsetsRecordKind::kOtherGroupRecord;
    return r;
  }
  r.group = k.String();
  if (r.key_version == 2) {
    r.kind = k.bad() ? OffsetsRecordKind::kMalformed : OffsetsRecordKind::kGroupMetadata;
    if (k.bad()) r.error = "truncated group metadata key";
    return r;  // its value (protocol, members, assignments) is not needed
  }
  r.topic = k.String();
  r.partition = k.Int32();
  if (k.bad()) {
    r.kind = OffsetsRecordKind::kMalformed;
    r.error = "truncated offset commit key";
    return r;
  }
  r.kind = OffsetsRecordKind::kOffsetCommit;
  if (r.tombstone) return r;
  Reader v(value, value_len);
  DecodeOffsetValue(v, r);
  return r;
}

const char* OffsetsRecordKindName(OffsetsRecordKind kind, bool tombstone) {
  switch (kind) {
    case OffsetsRecordKind::kOffsetCommit:
      return tombstone ? "offset_tombstone" : "offset_commit";
    case OffsetsRecordKind::kGroupMetadata:
      return tombstone ? "group_tombstone" : "group_metadata";
    case OffsetsRecordKind::kOtherGroupRecord:
      return "other_group_record";
    case OffsetsRecordKind::kUnknown:
      return "unknown_version";
    case OffsetsRecordKind::kMalformed:
      break;
  }
  return "malformed";
}

}  // namespace dora
