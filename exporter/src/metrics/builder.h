#pragma once
// MetricsBuilder renders one collector's samples straight to Prometheus text
// exposition format (0.0.4). Each family appears once with HELP and TYPE, and a
// label set appears at most once per family: a duplicate is dropped and
// counted, so a scrape can never be broken by duplicate series.
// Not thread-safe: one builder per collection run.
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/family.h"

namespace dora {

// The text of a label name or value, borrowed: a view of a string that outlives
// the Add call it is passed to (in a std::vector<Label>, the vector's last
// use). It binds to an lvalue std::string, a literal or another const char*
// (static names such as ToString()'s); binding to a temporary std::string
// does not compile, so a label cannot view a string that dies first. For a
// ternary of strings, std::to_string(...) or a function returning a
// std::string by value, name the result first. A std::string_view must be
// wrapped explicitly, LabelValue(view): its owner's lifetime is the caller's
// promise.
class LabelValue {
 public:
  LabelValue(const std::string& s) noexcept : view_(s) {}
  LabelValue(std::string&&) = delete;
  LabelValue(const std::string&&) = delete;
  constexpr LabelValue(const char* s) noexcept : view_(s) {}
  constexpr explicit LabelValue(std::string_view s) noexcept : view_(s) {}

  constexpr std::string_view view() const noexcept { return view_; }

 private:
  std::string_view view_;
};

// One label: name and value, both borrowed (see LabelValue).
struct Label {
  constexpr Label(LabelValue name, LabelValue value) noexcept : first(name.view()), second(value.view()) {}
  std::string_view first;
  std::string_view second;
};

class MetricsBuilder {
 public:
  using FamilyId = size_t;

  // Declares a family (idempotent by name; the first declaration wins). The
  // collectors pass a catalogue entry, out.Family(DORA_METRIC("name"))
  // (metrics/catalogue.h); tests may pass a FamilyDef of their own.
  FamilyId Family(const metrics::FamilyDef& def);

  // Capacity hint: about `series` more samples of about `bytes` text in all
  // (saves regrowing a large family's text and label index).
  void Reserve(FamilyId family, size_t series, size_t bytes);

  // Adds one sample. Returns false when the label set was already present.
  bool Add(FamilyId family, std::initializer_list<Label> labels, double value);
  bool Add(FamilyId family, const std::vector<Label>& labels, double value);

  // Adds a histogram: `bounds` ascending upper bounds (without +Inf) and
  // `cumulative` counts per bound; `count` is the +Inf bucket.
  bool AddHistogram(FamilyId family, const std::vector<Label>& labels, const std::vector<double>& bounds,
                    const std::vector<uint64_t>& cumulative, double sum, uint64_t count);

  // Text of every family with at least one sample, in declaration order.
  std::string Render() const;
  // The same text as pieces (each family's HELP/TYPE lines, then its samples),
  // moved out rather than joined: at 1M series a join is one more ~100 MB copy
  // at the peak of a run. Leaves no family in the builder (the counts stay).
  std::vector<std::string> TakeParts();

  // A tapped family kept reduced as it is rendered: of the samples whose
  // label `match` has one of `values` (every sample when `match` is empty;
  // none without that label), one sum per label set without `sum_without`,
  // PromQL's `sum without (sum_without) (family{match=~"values"})`. A family
  // of one sample per partition is then tapped as one per topic: at 200,000
  // group-partitions, copying each one's labels cost more than rendering it.
  // Sums are taken in the samples' order, starting from 0, as a rule's own
  // sum over the unreduced samples would.
  struct TapReduce {
    std::string sum_without;
    std::string match;
    std::vector<std::string> values;
  };
  using TapReductions = std::map<std::string, TapReduce>;  // family name -> its reduction

  // Tapping (the built-in alert evaluator, alerting/inputs.h): families whose
  // name is in `families` (which outlives the builder) also keep a copy of
  // each sample's labels and value, or, for those in `reduce` (which outlives
  // the builder too; may be null), its reduction; call before declaring
  // families. Other families cost one bool check per sample.
  void Tap(const std::set<std::string>* families, const TapReductions* reduce = nullptr) {
    tap_ = families;
    reduce_ = reduce;
  }
  // The tapped samples: family name -> (labels, value); histogram buckets
  // under the family's name with an `le` label. A reduced family's labels
  // are those of the first sample of each sum, without `sum_without`.
  struct TappedSample {
    // The labels in the order they were added, in one string (a sample costs
    // one allocation, and compares with one memcmp): each name and each
    // value behind its length, 4 bytes in native order.
    std::string labels;
    double value = 0;
    void Append(std::string_view name, std::string_view label_value);
    // Calls f(name, value) for each label, in order (views into `labels`).
    template <class F>
    void ForEachLabel(F&& f) const {
      size_t at = 0;
      auto next = [&] {
        uint32_t n = 0;
        labels.copy(reinterpret_cast<char*>(&n), sizeof n, at);
        std::string_view text(labels.data() + at + sizeof n, n);
        at += sizeof n + n;
        return text;
      };
      while (at < labels.size()) {
        const std::string_view name = next();
        f(name, next());
      }
    }
    std::vector<std::pair<std::string, std::string>> Decode() const;
  };
  // Tapping stops with it (later samples are not copied).
  std::map<std::string, std::vector<TappedSample>> TakeTapped();

  // A collector that computes a reduced family's sums itself can tap those
  // instead of every sample: when `family` is tapped reduced by a sum
  // without `label`, TapSumsWithout returns true and the family's samples
  // are no longer tapped; the collector then taps each sum of its samples
  // over `label` with TapSum (its labels, without `label`; the sum of the
  // values, added in the samples' order), which goes through the reduction
  // as those samples would have. Otherwise it returns false and TapSum does
  // nothing: the samples are tapped, or not, as before.
  bool TapSumsWithout(FamilyId family, std::string_view label);
  void TapSum(FamilyId family, std::initializer_list<Label> labels, double value);
  void TapSum(FamilyId family, const std::vector<Label>& labels, double value);

  size_t series() const { return series_; }
  size_t duplicates_dropped() const { return duplicates_; }

  // The collector's text is the one its last successful run published,
  // unchanged (the collector's own decision, Collector::Collect): the runner
  // leaves that text in place, with its gzip, instead of publishing this
  // builder's.
  void KeepPublished() { keep_published_ = true; }
  bool keep_published() const { return keep_published_; }

  // A second builder for series that change while the main text is kept:
  // published by the runner every run, as an entry of its own next to the
  // collector's (the cluster collector's controller id, which a KRaft broker
  // answers with a random live broker).
  MetricsBuilder& Live();
  // Parts of Live(), empty when it was never used.
  std::vector<std::string> TakeLiveParts();

  // Escapes a label value (\\, \", \n) per the exposition format.
  static void AppendEscaped(std::string* out, std::string_view value);
  // Formats a sample value the way Prometheus reads it (integers without ".0", NaN, +Inf).
  static void AppendValue(std::string* out, double value);

 private:
  // Label sets already in a family's body, as (offset, length) into that body:
  // an open-addressing hash set that keeps no copy of the key (at 800k series
  // a set of strings cost ~100 MB and two allocations per sample).
  class LabelIndex {
   public:
    // Inserts the label text text[offset, offset + length) unless an equal one
    // is present. Returns false on a duplicate.
    bool Insert(const std::string& text, size_t offset, size_t length);
    // True when `key` is present (its text lives in `text`); for histograms,
    // whose key is checked before their lines are written.
    bool Contains(const std::string& text, std::string_view key) const;
    // Room for `n` keys in all without regrowing (allocated on the first insert).
    void Reserve(size_t n);

   private:
    struct Slot {
      uint64_t offset = 0;
      uint32_t length = kEmpty;
      uint32_t hash = 0;
    };
    static constexpr uint32_t kEmpty = UINT32_MAX;
    static uint32_t Hash(std::string_view key);
    void Rehash(size_t slots);
    std::vector<Slot> slots_;  // size 0 or a power of two, at most half full
    size_t count_ = 0;
    size_t reserved_ = 0;  // keys announced by Reserve
  };
  // A reduced family's sums so far (TapReduce).
  struct TapReducer {
    explicit TapReducer(const TapReduce* s) : spec(s) {}
    const TapReduce* spec;
    // The sums by their label set: an open-addressing table of (hash, index
    // into the tap + 1); a sum's encoded labels are its key.
    std::vector<std::pair<uint32_t, uint32_t>> slots;  // size 0 or a power of two, at most half full
    size_t count = 0;
    size_t last = SIZE_MAX;  // the sum the previous sample went to
    TappedSample scratch;    // the key being looked up (its capacity is kept)
  };
  struct FamilyData {
    std::string name;
    std::string help;
    MetricType type;
    std::string body;
    LabelIndex seen;
    size_t samples = 0;
    std::vector<TappedSample>* tap = nullptr;  // non-null when tapped
    std::unique_ptr<TapReducer> reducer;       // non-null when tapped reduced
    bool tapped_by_sums = false;               // TapSumsWithout: only TapSum taps
  };
  static void TapSample(FamilyData& f, const Label* begin, const Label* end, const Label* extra,
                        double value);
  static void TapReduced(TapReducer& r, std::vector<TappedSample>& tap, const Label* begin, const Label* end,
                         const Label* extra, double value);
  static std::string Header(const FamilyData& f);
  bool AddRendered(FamilyData& f, const Label* begin, const Label* end, double value);
  static void AppendLabels(std::string* out, const Label* begin, const Label* end, const Label* extra);

  std::vector<FamilyData> families_;
  size_t series_ = 0;
  size_t duplicates_ = 0;
  bool keep_published_ = false;
  std::unique_ptr<MetricsBuilder> live_;
  const std::set<std::string>* tap_ = nullptr;
  const TapReductions* reduce_ = nullptr;
  std::map<std::string, std::vector<TappedSample>> tapped_;
};

}  // namespace dora
