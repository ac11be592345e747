#include "metrics/snapshot_store.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>

namespace dora {

std::shared_ptr<const SnapshotStore::Entry> SnapshotStore::MakeEntry(std::vector<std::string> parts) {
  auto e = std::make_shared<Entry>();
  for (auto& p : parts) {
    if (p.empty()) continue;
    e->size += p.size();
    e->parts.push_back(std::move(p));
  }
  return e;
}

void SnapshotStore::Publish(const std::string& collector, std::string text) {
  std::vector<std::string> parts;
  parts.push_back(std::move(text));
  auto ptr = MakeEntry(std::move(parts));
  std::lock_guard<std::mutex> lock(mu_);
  texts_[collector] = std::move(ptr);
  ++generation_;
}

void SnapshotStore::PublishAll(std::vector<std::pair<std::string, std::vector<std::string>>> entries) {
  std::vector<std::shared_ptr<const Entry>> ptrs;
  ptrs.reserve(entries.size());
  for (auto& e : entries) ptrs.push_back(MakeEntry(std::move(e.second)));
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < entries.size(); ++i) texts_[entries[i].first] = std::move(ptrs[i]);
  ++generation_;
}

void SnapshotStore::Remove(const std::string& collector) {
  std::lock_guard<std::mutex> lock(mu_);
  texts_.erase(collector);
  ++generation_;
}

void SnapshotStore::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  texts_.clear();
  ++generation_;
}

std::string SnapshotStore::Render() const { return Shared()->Joined(); }

std::string ExpositionBody::Joined() const {
  std::string out;
  out.reserve(size);
  for (const auto& p : parts) out += *p;
  return out;
}

namespace {

// Raw deflate (windowBits -15) of `texts` one after the other at zlib level 6
// and memLevel 8 (cpp-httplib's settings), ended by a sync flush, and the
// CRC-32 of the same bytes, both in one pass. Null when zlib fails.
std::shared_ptr<const std::string> DeflateSynced(const std::vector<std::string>& texts, size_t total,
                                                 uint32_t* crc_out) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return nullptr;
  auto out = std::make_shared<std::string>();
  out->reserve(total / 16 + 64);
  char buf[64 * 1024];
  bool ok = true;
  uLong crc = crc32(0L, Z_NULL, 0);
  auto pump = [&](const char* data, size_t len, int flush) {
    // (crc32 of a null buffer is the initial value, not a no-op: skip the flush's.)
    if (len > 0) crc = crc32(crc, reinterpret_cast<const Bytef*>(data), static_cast<uInt>(len));
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    zs.avail_in = static_cast<uInt>(len);
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf);
      zs.avail_out = sizeof buf;
      if (deflate(&zs, flush) == Z_STREAM_ERROR) return false;
      out->append(buf, sizeof buf - zs.avail_out);
    } while (zs.avail_out == 0);
    return true;
  };
  // deflate and crc32 take at most 4 GB per call (uInt): feed large texts in slices.
  const size_t kSlice = size_t{1} << 30;
  for (const std::string& text : texts) {
    for (size_t off = 0; ok && off < text.size(); off += kSlice)
      ok = pump(text.data() + off, std::min(text.size() - off, kSlice), Z_NO_FLUSH);
  }
  ok = ok && pump(nullptr, 0, Z_SYNC_FLUSH);
  deflateEnd(&zs);
  if (!ok) return nullptr;
  out->shrink_to_fit();
  *crc_out = static_cast<uint32_t>(crc);
  return out;
}

void AppendLe32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

std::vector<std::pair<std::string, std::shared_ptr<const SnapshotStore::Entry>>> SnapshotStore::Entries()
    const {
  std::lock_guard<std::mutex> lock(mu_);
  return {texts_.begin(), texts_.end()};
}

std::shared_ptr<const ExpositionBody> SnapshotStore::Shared() const {
  auto body = std::make_shared<ExpositionBody>();
  for (const auto& [name, entry] : Entries()) {
    for (const std::string& part : entry->parts) {
      // Aliasing pointers: each part keeps its whole entry alive.
      body->parts.emplace_back(entry, &part);
    }
    body->size += entry->size;
  }
  return body;
}

std::shared_ptr<const ExpositionBody> SnapshotStore::SharedGzip() const {
  const auto entries = Entries();
  // Member header: magic, deflate, no flags, no mtime, no extra flags, Unix.
  static const auto kHeader = std::make_shared<const std::string>("\x1f\x8b\x08\0\0\0\0\0\0\x03", 10);
  auto gz = std::make_shared<ExpositionBody>();
  gz->parts.push_back(kHeader);
  uLong crc = crc32(0L, Z_NULL, 0);
  uint64_t length = 0;
  std::vector<std::string> names;
  names.reserve(entries.size());
  for (const auto& entry : entries) {
    const std::string& name = entry.first;
    const std::shared_ptr<const Entry>& text = entry.second;
    names.push_back(name);
    if (text->size == 0) {
      // A failed run: its series are gone, and no older compressed text of
      // this entry may stand in for its next one either.
      std::lock_guard<std::mutex> lock(cache_mu_);
      deflated_.erase(name);
      continue;
    }
    DeflatedPart part;
    auto cached = [&] {
      std::lock_guard<std::mutex> lock(cache_mu_);
      auto it = deflated_.find(name);
      if (it != deflated_.end()) part = it->second;
      return part.data && part.of.lock() == text;
    };
    if (!cached()) {
      std::unique_lock<std::mutex> one(deflate_mu_, std::try_to_lock);
      // Someone else is compressing: this entry's previous text, compressed,
      // is a whole earlier run of its collector; serve that rather than wait.
      // Only an entry never compressed before waits for its turn.
      if (!one.owns_lock() && !part.data) one.lock();
      if (one.owns_lock() && !cached()) {
        DeflatedPart fresh;
        fresh.of = text;
        fresh.data = DeflateSynced(text->parts, text->size, &fresh.crc);
        if (!fresh.data) return nullptr;
        fresh.length = text->size;
        std::lock_guard<std::mutex> lock(cache_mu_);
        deflated_[name] = fresh;
        part = std::move(fresh);
      }
    }
    crc = crc32_combine(crc, part.crc, static_cast<z_off_t>(part.length));
    length += part.length;
    gz->parts.push_back(part.data);
  }
  // A final empty fixed-Huffman block ends the deflate stream, then CRC-32
  // and length mod 2^32.
  auto trailer = std::make_shared<std::string>("\x03\0", 2);
  AppendLe32(trailer.get(), static_cast<uint32_t>(crc));
  AppendLe32(trailer.get(), static_cast<uint32_t>(length & 0xffffffffu));
  gz->parts.push_back(std::move(trailer));
  for (const auto& p : gz->parts) gz->size += p->size();
  {
    // Entries that are gone leave the cache.
    std::lock_guard<std::mutex> lock(cache_mu_);
    for (auto it = deflated_.begin(); it != deflated_.end();) {
      it = std::find(names.begin(), names.end(), it->first) == names.end() ? deflated_.erase(it)
                                                                           : std::next(it);
    }
  }
  return gz;
}

uint64_t SnapshotStore::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

}  // namespace dora
