#include "collectors/mirror/records.h"

namespace dora::mirror {
namespace {

// Reads Kafka protocol types from a byte string; any read past the end fails
// the reader, and later reads fail too.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && pos_ == b_.size(); }

  uint64_t Unsigned(size_t n) {
    if (!ok_ || b_.size() - pos_ < n) {
      ok_ = false;
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(b_[pos_ + i]);
    pos_ += n;
    return v;
  }
  int16_t Int16() { return static_cast<int16_t>(static_cast<uint16_t>(Unsigned(2))); }
  int32_t Int32() { return static_cast<int32_t>(static_cast<uint32_t>(Unsigned(4))); }
  int64_t Int64() { return static_cast<int64_t>(Unsigned(8)); }
  std::string String() {
    const int16_t len = Int16();
    if (!ok_ || len < 0 || b_.size() - pos_ < static_cast<size_t>(len)) {
      ok_ = false;
      return {};
    }
    std::string s(b_.substr(pos_, static_cast<size_t>(len)));
    pos_ += static_cast<size_t>(len);
    return s;
  }

 private:
  std::string_view b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

std::optional<OffsetSync> DecodeOffsetSync(std::string_view key, std::string_view value) {
  OffsetSync s;
  Reader k(key);
  s.topic = k.String();
  s.partition = k.Int32();
  Reader v(value);
  s.upstream_offset = v.Int64();
  s.downstream_offset = v.Int64();
  if (!k.done() || !v.done() || s.topic.empty()) return std::nullopt;
  return s;
}

std::optional<Checkpoint> DecodeCheckpoint(std::string_view key, std::string_view value) {
  Checkpoint c;
  Reader k(key);
  c.group = k.String();
  c.topic = k.String();
  c.partition = k.Int32();
  Reader v(value);
  const int16_t version = v.Int16();
  if (!v.ok() || version != 0) return std::nullopt;
  c.upstream_offset = v.Int64();
  c.downstream_offset = v.Int64();
  c.metadata = v.String();
  if (!k.done() || !v.done() || c.topic.empty()) return std::nullopt;
  return c;
}

}  // namespace dora::mirror
