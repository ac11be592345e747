#include "metrics/snapshot_store.h"

#include <zlib.h>

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

std::string SnapshotStore::Render() const {
  std::vector<std::shared_ptr<const std::string>> parts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    parts.reserve(texts_.size());
    for (const auto& kv : texts_) parts.push_back(kv.second);
  }
  size_t total = 0;
  for (const auto& p : parts) total += p->size();
  std::string out;
  out.reserve(total);
  for (const auto& p : parts) out += *p;
  return out;
}

namespace {

// One gzip stream (windowBits 31) at zlib level 6 and memLevel 8, cpp-httplib's
// settings. Null when zlib fails or the text is too large for one call.
std::shared_ptr<const std::string> Gzip(const std::string& text) {
  if (text.size() > UINT32_MAX / 2) return nullptr;
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) return nullptr;
  auto out = std::make_shared<std::string>();
  out->resize(deflateBound(&zs, static_cast<uLong>(text.size())));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(&(*out)[0]);
  zs.avail_out = static_cast<uInt>(out->size());
  int rc = deflate(&zs, Z_FINISH);
  out->resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return nullptr;
  out->shrink_to_fit();
  return out;
}

}  // namespace

template <typename Build>
std::shared_ptr<const std::string> SnapshotStore::Refresh(Cache& cache, uint64_t want, Build build) const {
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache.value && cache.generation == want) return cache.value;
    // Another scrape is building a newer one: serve the previous one rather
    // than wait (one publish old, it is what a scrape a moment earlier got).
    if (cache.value && cache.building) return cache.value;
    cache.building = true;
  }
  std::shared_ptr<const std::string> built;
  try {
    built = build();
  } catch (...) {  // allocation failure: nothing cached, the caller falls back
  }
  std::lock_guard<std::mutex> lock(cache_mu_);
  cache.building = false;
  if (built && (!cache.value || want >= cache.generation)) {
    cache.value = built;
    cache.generation = want;
  }
  return built ? built : cache.value;
}

std::shared_ptr<const std::string> SnapshotStore::Shared(uint64_t* built_from) const {
  // A publish between generation() and Render() only makes the text newer
  // than its tag: the next call rebuilds it.
  uint64_t gen = generation();
  auto text = Refresh(shared_, gen, [this] { return std::make_shared<const std::string>(Render()); });
  if (built_from) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    *built_from = shared_.value == text ? shared_.generation : 0;
  }
  return text;
}

std::shared_ptr<const std::string> SnapshotStore::Shared() const { return Shared(nullptr); }

std::shared_ptr<const std::string> SnapshotStore::SharedGzip() const {
  uint64_t gen = 0;
  std::shared_ptr<const std::string> text = Shared(&gen);
  if (!text) return nullptr;
  return Refresh(gzip_, gen, [&text] { return Gzip(*text); });
}

uint64_t SnapshotStore::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

}  // namespace dora
