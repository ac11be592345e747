#pragma once
// Holds the latest rendered text of every collector. Publishing swaps an
// immutable shared string under a short lock; a scrape copies the pointers and
// serves them without ever waiting on Kafka or joining them. Thread-safe.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace dora {

// An immutable exposition body in pieces, served one after the other.
struct ExpositionBody {
  std::vector<std::shared_ptr<const std::string>> parts;
  size_t size = 0;  // of all parts
  std::string Joined() const;
};

class SnapshotStore {
 public:
  void Publish(const std::string& collector, std::string text);
  // Several entries in one generation (a collector's text and the self
  // metrics that report its run), so no scrape sees one without the other.
  void PublishAll(std::vector<std::pair<std::string, std::string>> entries);
  void Remove(const std::string& collector);
  void Clear();
  // Concatenation of every collector's latest text (collector-name order).
  std::string Render() const;
  // The same text as the latest entries themselves (pointer copies, no
  // join): what a scrape serves, copying nothing, while publishes go on.
  std::shared_ptr<const ExpositionBody> Shared() const;
  // Shared() compressed as one gzip stream (zlib level 6, like cpp-httplib;
  // one part), at most once per publish. While one caller compresses a newer
  // body the others get the previous gzip instead of waiting (stale by the
  // publishes since). Null if zlib fails.
  std::shared_ptr<const ExpositionBody> SharedGzip() const;
  // A generation number that changes on every publish (for caches of the render).
  uint64_t generation() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const std::string>> texts_;
  uint64_t generation_ = 0;
  // SharedGzip()'s cache, with the generation it was built from. cache_mu_
  // is never held while compressing, and publishes never take it.
  std::shared_ptr<const ExpositionBody> Shared(uint64_t* generation) const;
  mutable std::mutex cache_mu_;
  mutable std::shared_ptr<const ExpositionBody> gzip_;
  mutable uint64_t gzip_generation_ = 0;
  mutable bool gzip_building_ = false;
};

}  // namespace dora
