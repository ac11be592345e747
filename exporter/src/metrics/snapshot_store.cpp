#include "metrics/snapshot_store.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>

namespace dora {

void SnapshotStore::Publish(const std::string& collector, std::string text) {
  auto ptr = std::make_shared<const std::string>(std::move(text));
  std::lock_guard<std::mutex> lock(mu_);
  texts_[collector] = std::move(ptr);
  ++generation_;
}

void SnapshotStore::PublishAll(std::vector<std::pair<std::string, std::string>> entries) {
  std::vector<std::shared_ptr<const std::string>> ptrs;
  ptrs.reserve(entries.size());
  for (auto& e : entries) ptrs.push_back(std::make_shared<const std::string>(std::move(e.second)));
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

// One gzip stream (windowBits 31) of all parts at zlib level 6 and memLevel 8,
// cpp-httplib's settings, compressed part by part (never joined). Null when
// zlib fails.
std::shared_ptr<const ExpositionBody> Gzip(const ExpositionBody& body) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) return nullptr;
  auto out = std::make_shared<std::string>();
  out->reserve(body.size / 16 + 1024);
  char buf[64 * 1024];
  int rc = Z_OK;
  auto pump = [&](const char* data, size_t len, int flush) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    zs.avail_in = static_cast<uInt>(len);
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf);
      zs.avail_out = sizeof buf;
      rc = deflate(&zs, flush);
      if (rc == Z_STREAM_ERROR) return false;
      out->append(buf, sizeof buf - zs.avail_out);
    } while (zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    return true;
  };
  bool ok = true;
  for (const auto& p : body.parts) {
    // deflate takes at most 4 GB per call (uInt): feed large parts in slices.
    for (size_t off = 0; ok && off < p->size(); off += size_t{1} << 30)
      ok = pump(p->data() + off, std::min(p->size() - off, size_t{1} << 30), Z_NO_FLUSH);
  }
  ok = ok && pump(nullptr, 0, Z_FINISH);
  deflateEnd(&zs);
  if (!ok || rc != Z_STREAM_END) return nullptr;
  out->shrink_to_fit();
  auto gz = std::make_shared<ExpositionBody>();
  gz->size = out->size();
  gz->parts.push_back(std::move(out));
  return gz;
}

}  // namespace

std::shared_ptr<const ExpositionBody> SnapshotStore::Shared(uint64_t* generation) const {
  auto body = std::make_shared<ExpositionBody>();
  std::lock_guard<std::mutex> lock(mu_);
  body->parts.reserve(texts_.size());
  for (const auto& kv : texts_) {
    body->parts.push_back(kv.second);
    body->size += kv.second->size();
  }
  if (generation) *generation = generation_;
  return body;
}

std::shared_ptr<const ExpositionBody> SnapshotStore::Shared() const { return Shared(nullptr); }

std::shared_ptr<const ExpositionBody> SnapshotStore::SharedGzip() const {
  uint64_t gen = 0;
  auto body = Shared(&gen);
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (gzip_ && gzip_generation_ == gen) return gzip_;
    // Another scrape is compressing a newer body: serve the previous gzip
    // rather than wait (it is what a scrape a moment earlier got).
    if (gzip_ && gzip_building_) return gzip_;
    gzip_building_ = true;
  }
  std::shared_ptr<const ExpositionBody> built;
  try {
    built = Gzip(*body);
  } catch (...) {  // allocation failure: the caller serves the plain body
  }
  std::lock_guard<std::mutex> lock(cache_mu_);
  gzip_building_ = false;
  if (built && (!gzip_ || gen >= gzip_generation_)) {
    gzip_ = built;
    gzip_generation_ = gen;
  }
  return built;
}

uint64_t SnapshotStore::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

}  // namespace dora
