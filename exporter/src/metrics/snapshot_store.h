#pragma once
// Holds the latest rendered text of every collector. Publishing swaps an
// immutable shared string under a short lock; a scrape copies the pointers and
// renders without ever waiting on Kafka. Thread-safe.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace dora {

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
  // The same text as one immutable shared string, built at most once per
  // publish: a scrape that serves it (e.g. with a content provider) copies
  // nothing. While one caller builds a newer one, the others get the previous
  // one instead of waiting (stale by at most the publishes since).
  std::shared_ptr<const std::string> Shared() const;
  // Shared() compressed as one gzip stream (zlib level 6, like cpp-httplib),
  // at most once per publish, with the same no-wait rule. Null if zlib fails.
  std::shared_ptr<const std::string> SharedGzip() const;
  // A generation number that changes on every publish (for caches of the render).
  uint64_t generation() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const std::string>> texts_;
  uint64_t generation_ = 0;
  // Caches of Shared()/SharedGzip(), each with the generation it was built
  // from. cache_mu_ is never held while building, and publishes never take it.
  struct Cache {
    std::shared_ptr<const std::string> value;
    uint64_t generation = 0;
    bool building = false;
  };
  template <typename Build>
  std::shared_ptr<const std::string> Refresh(Cache& cache, uint64_t want, Build build) const;
  std::shared_ptr<const std::string> Shared(uint64_t* built_from) const;
  mutable std::mutex cache_mu_;
  mutable Cache shared_, gzip_;
};

}  // namespace dora
