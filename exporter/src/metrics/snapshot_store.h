#pragma once
// Holds the latest rendered text of every collector. Publishing swaps an
// immutable shared entry (the text in the pieces it was published as) under a
// short lock; a scrape copies the pointers and serves them without ever
// waiting on Kafka or joining them. Thread-safe.
#include <cstdint>
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
  // An entry's text comes in pieces (MetricsBuilder::TakeParts), kept and
  // served as they are, never joined.
  void PublishAll(std::vector<std::pair<std::string, std::vector<std::string>>> entries);
  void Remove(const std::string& collector);
  void Clear();
  // Concatenation of every collector's latest text (collector-name order).
  std::string Render() const;
  // The same text as the latest entries themselves (pointer copies, no
  // join): what a scrape serves, copying nothing, while publishes go on.
  std::shared_ptr<const ExpositionBody> Shared() const;
  // Shared() as one gzip stream (zlib level 6, like cpp-httplib), served in
  // parts: each entry's text is deflated at most once per publish of that
  // entry (the first gzip scrape after it does it) and the parts are joined
  // as one deflate stream with a gzip header and trailer, so a publish of one
  // collector recompresses only its own text. While one scrape compresses,
  // another that needs an entry compressed gets that entry's previous
  // compressed text (its collector's previous run) instead of waiting. Null
  // if zlib fails.
  std::shared_ptr<const ExpositionBody> SharedGzip() const;
  // A number that changes once per Publish, PublishAll, Remove or Clear.
  uint64_t generation() const;

 private:
  // One entry's text, in the pieces it was published as.
  struct Entry {
    std::vector<std::string> parts;
    size_t size = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Entry>> texts_;
  uint64_t generation_ = 0;
  static std::shared_ptr<const Entry> MakeEntry(std::vector<std::string> parts);
  // The latest entries, in name order.
  std::vector<std::pair<std::string, std::shared_ptr<const Entry>>> Entries() const;
  // One entry's text as raw deflate ending on a sync flush (byte-aligned, so
  // such parts concatenate into one deflate stream), with its CRC-32.
  struct DeflatedPart {
    std::weak_ptr<const Entry> of;  // the text it compresses (not kept alive)
    std::shared_ptr<const std::string> data;
    uint32_t crc = 0;
    size_t length = 0;
  };
  mutable std::mutex cache_mu_;  // guards deflated_; never held while compressing
  mutable std::map<std::string, DeflatedPart> deflated_;
  mutable std::mutex deflate_mu_;  // one compression at a time
};

}  // namespace dora
