#include "metrics/builder.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>

namespace dora {

MetricsBuilder::FamilyId MetricsBuilder::Family(const metrics::FamilyDef& def) {
  for (size_t i = 0; i < families_.size(); ++i) {
    if (families_[i].name == def.name) return i;
  }
  FamilyData f;
  f.name = std::string(def.name);
  f.help = std::string(def.help);
  f.type = def.type;
  if (tap_ != nullptr && tap_->count(f.name) != 0) {
    f.tap = &tapped_[f.name];  // map nodes are stable
    if (reduce_ != nullptr) {
      auto r = reduce_->find(f.name);
      if (r != reduce_->end()) f.reducer = std::make_unique<TapReducer>(&r->second);
    }
  }
  families_.push_back(std::move(f));
  return families_.size() - 1;
}

void MetricsBuilder::AppendEscaped(std::string* out, std::string_view value) {
  // Runs without a special character are appended whole.
  size_t start = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c != '\\' && c != '"' && c != '\n') continue;
    out->append(value.data() + start, i - start);
    out->append(c == '\\' ? "\\\\" : c == '"' ? "\\\"" : "\\n", 2);
    start = i + 1;
  }
  out->append(value.data() + start, value.size() - start);
}

void MetricsBuilder::AppendValue(std::string* out, double value) {
  if (std::isnan(value)) {
    *out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    *out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  std::to_chars_result r;
  if (value == std::floor(value) && std::fabs(value) < 9.007199254740992e15) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(value));
  } else {
    r = std::to_chars(buf, buf + sizeof buf, value);
  }
  out->append(buf, r.ptr);
}

void MetricsBuilder::AppendLabels(std::string* out, const Label* begin, const Label* end,
                                  const Label* extra) {
  if (begin == end && extra == nullptr) return;
  *out += '{';
  bool first = true;
  auto one = [&](const Label& l) {
    if (!first) *out += ',';
    first = false;
    out->append(l.first);
    *out += "=\"";
    AppendEscaped(out, l.second);
    *out += '"';
  };
  for (const Label* l = begin; l != end; ++l) one(*l);
  if (extra != nullptr) one(*extra);
  *out += '}';
}

uint32_t MetricsBuilder::LabelIndex::Hash(std::string_view key) {
  uint64_t h = std::hash<std::string_view>{}(key);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

void MetricsBuilder::LabelIndex::Rehash(size_t slots) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(slots, Slot{});
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.length == kEmpty) continue;
    size_t i = s.hash & mask;
    while (slots_[i].length != kEmpty) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void MetricsBuilder::LabelIndex::Reserve(size_t n) {
  // Applied at the next growth: a family reserved but never filled costs nothing.
  reserved_ = std::max(reserved_, n);
}

bool MetricsBuilder::LabelIndex::Contains(const std::string& text, std::string_view key) const {
  if (slots_.empty()) return false;
  const uint32_t h = Hash(key);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask; slots_[i].length != kEmpty; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.hash == h && s.length == key.size() && text.compare(s.offset, s.length, key) == 0) return true;
  }
  return false;
}

bool MetricsBuilder::LabelIndex::Insert(const std::string& text, size_t offset, size_t length) {
  // One hash and one probe: grow first, then the walk that looks for an
  // equal key ends on the empty slot the key goes to.
  if ((count_ + 1) * 2 > slots_.size()) {
    size_t slots = slots_.empty() ? 64 : slots_.size() * 2;
    while (slots < 2 * reserved_) slots *= 2;
    Rehash(slots);
  }
  const std::string_view key(text.data() + offset, length);
  const uint32_t h = Hash(key);
  const size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  for (; slots_[i].length != kEmpty; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.hash == h && s.length == length && text.compare(s.offset, s.length, key) == 0) return false;
  }
  slots_[i] = Slot{offset, static_cast<uint32_t>(length), h};
  ++count_;
  return true;
}

void MetricsBuilder::Reserve(FamilyId family, size_t series, size_t bytes) {
  FamilyData& f = families_[family];
  f.body.reserve(f.body.size() + bytes);
  f.seen.Reserve(f.samples + series);
}

bool MetricsBuilder::AddRendered(FamilyData& f, const Label* begin, const Label* end, double value) {
  // The line goes straight into the body; a duplicate is cut off again.
  const size_t line = f.body.size();
  f.body += f.name;
  const size_t key = f.body.size();
  AppendLabels(&f.body, begin, end, nullptr);
  if (!f.seen.Insert(f.body, key, f.body.size() - key)) {
    f.body.resize(line);
    ++duplicates_;
    return false;
  }
  f.body += ' ';
  AppendValue(&f.body, value);
  f.body += '\n';
  ++f.samples;
  ++series_;
  if (f.tap != nullptr && !f.tapped_by_sums) TapSample(f, begin, end, nullptr, value);
  return true;
}

bool MetricsBuilder::TapSumsWithout(FamilyId family, std::string_view label) {
  FamilyData& f = families_[family];
  if (f.tap == nullptr || !f.reducer || f.reducer->spec->sum_without != label) return false;
  f.tapped_by_sums = true;
  return true;
}

void MetricsBuilder::TapSum(FamilyId family, std::initializer_list<Label> labels, double value) {
  FamilyData& f = families_[family];
  if (f.tap != nullptr && f.tapped_by_sums)
    TapReduced(*f.reducer, *f.tap, labels.begin(), labels.end(), nullptr, value);
}

void MetricsBuilder::TapSum(FamilyId family, const std::vector<Label>& labels, double value) {
  FamilyData& f = families_[family];
  if (f.tap != nullptr && f.tapped_by_sums)
    TapReduced(*f.reducer, *f.tap, labels.data(), labels.data() + labels.size(), nullptr, value);
}

void MetricsBuilder::TapSample(FamilyData& f, const Label* begin, const Label* end, const Label* extra,
                               double value) {
  if (f.reducer) {
    TapReduced(*f.reducer, *f.tap, begin, end, extra, value);
    return;
  }
  TappedSample t;
  size_t size = 0;
  for (const Label* l = begin; l != end; ++l) size += 8 + l->first.size() + l->second.size();
  if (extra != nullptr) size += 8 + extra->first.size() + extra->second.size();
  t.labels.reserve(size);
  for (const Label* l = begin; l != end; ++l) t.Append(l->first, l->second);
  if (extra != nullptr) t.Append(extra->first, extra->second);
  t.value = value;
  f.tap->push_back(std::move(t));
}

void MetricsBuilder::TappedSample::Append(std::string_view name, std::string_view label_value) {
  for (std::string_view text : {name, label_value}) {
    const auto n = static_cast<uint32_t>(text.size());
    labels.append(reinterpret_cast<const char*>(&n), sizeof n);
    labels.append(text);
  }
}

std::vector<std::pair<std::string, std::string>> MetricsBuilder::TappedSample::Decode() const {
  std::vector<std::pair<std::string, std::string>> out;
  ForEachLabel([&](std::string_view name, std::string_view v) { out.emplace_back(name, v); });
  return out;
}

void MetricsBuilder::TapReduced(TapReducer& r, std::vector<TappedSample>& tap, const Label* begin,
                                const Label* end, const Label* extra, double value) {
  const TapReduce& spec = *r.spec;
  // The sample's labels, `extra` (a histogram's le) last.
  const size_t own = static_cast<size_t>(end - begin);
  const size_t n = own + (extra != nullptr ? 1 : 0);
  auto label = [&](size_t i) -> const Label& { return i < own ? begin[i] : *extra; };
  if (!spec.match.empty()) {
    bool keep = false;
    for (size_t i = 0; i < n; ++i) {
      const Label& l = label(i);
      if (l.first != spec.match) continue;
      for (const std::string& v : spec.values) keep = keep || l.second == v;
    }
    if (!keep) return;
  }
  // True when the sum at `at` has this sample's labels (without sum_without),
  // read off its encoding.
  auto same = [&](size_t at) {
    const std::string& sum = tap[at].labels;
    size_t pos = 0;
    auto next_is = [&](std::string_view text) {
      uint32_t len = 0;
      if (pos + sizeof len > sum.size()) return false;
      sum.copy(reinterpret_cast<char*>(&len), sizeof len, pos);
      pos += sizeof len;
      if (len != text.size() || sum.compare(pos, len, text) != 0) return false;
      pos += len;
      return true;
    };
    for (size_t i = 0; i < n; ++i) {
      const Label& l = label(i);
      if (l.first == spec.sum_without) continue;
      if (!next_is(l.first) || !next_is(l.second)) return false;
    }
    return pos == sum.size();
  };
  // Consecutive samples often go to the same sum (a topic's partitions).
  if (r.last != SIZE_MAX && same(r.last)) {
    tap[r.last].value += value;
    return;
  }
  // The sum's key is built in the reducer's scratch sample: a sample that
  // goes to an existing sum allocates nothing.
  TappedSample& t = r.scratch;
  t.labels.clear();
  for (size_t k = 0; k < n; ++k) {
    const Label& l = label(k);
    if (l.first != spec.sum_without) t.Append(l.first, l.second);
  }
  const uint64_t h = std::hash<std::string_view>{}(t.labels);
  const auto hash = static_cast<uint32_t>(h ^ (h >> 32));
  if ((r.count + 1) * 2 > r.slots.size()) {
    std::vector<std::pair<uint32_t, uint32_t>> old = std::move(r.slots);
    r.slots.assign(old.empty() ? 64 : old.size() * 2, {0, 0});
    const size_t mask = r.slots.size() - 1;
    for (const auto& slot : old) {
      if (slot.second == 0) continue;
      size_t i = slot.first & mask;
      while (r.slots[i].second != 0) i = (i + 1) & mask;
      r.slots[i] = slot;
    }
  }
  const size_t mask = r.slots.size() - 1;
  size_t i = hash & mask;
  for (; r.slots[i].second != 0; i = (i + 1) & mask) {
    if (r.slots[i].first == hash && tap[r.slots[i].second - 1].labels == t.labels) {
      r.last = r.slots[i].second - 1;
      tap[r.last].value += value;
      return;
    }
  }
  tap.push_back(TappedSample{t.labels, value});  // from 0, as a sum
  r.last = tap.size() - 1;
  r.slots[i] = {hash, static_cast<uint32_t>(tap.size())};
  ++r.count;
}

bool MetricsBuilder::Add(FamilyId family, std::initializer_list<Label> labels, double value) {
  return AddRendered(families_[family], labels.begin(), labels.end(), value);
}

bool MetricsBuilder::Add(FamilyId family, const std::vector<Label>& labels, double value) {
  return AddRendered(families_[family], labels.data(), labels.data() + labels.size(), value);
}

bool MetricsBuilder::AddHistogram(FamilyId family, const std::vector<Label>& labels,
                                  const std::vector<double>& bounds, const std::vector<uint64_t>& cumulative,
                                  double sum, uint64_t count) {
  FamilyData& f = families_[family];
  std::string key;
  AppendLabels(&key, labels.data(), labels.data() + labels.size(), nullptr);
  if (f.seen.Contains(f.body, key)) {
    ++duplicates_;
    return false;
  }
  const Label* b = labels.data();
  const Label* e = labels.data() + labels.size();
  for (size_t i = 0; i < bounds.size() && i < cumulative.size(); ++i) {
    std::string le;
    AppendValue(&le, bounds[i]);
    Label extra{"le", le};
    f.body += f.name + "_bucket";
    AppendLabels(&f.body, b, e, &extra);
    f.body += ' ';
    AppendValue(&f.body, static_cast<double>(cumulative[i]));
    f.body += '\n';
    if (f.tap != nullptr && !f.tapped_by_sums) TapSample(f, b, e, &extra, static_cast<double>(cumulative[i]));
  }
  Label inf{"le", "+Inf"};
  f.body += f.name + "_bucket";
  AppendLabels(&f.body, b, e, &inf);
  f.body += ' ';
  AppendValue(&f.body, static_cast<double>(count));
  f.body += '\n';
  if (f.tap != nullptr && !f.tapped_by_sums) TapSample(f, b, e, &inf, static_cast<double>(count));
  f.body += f.name + "_sum";
  const size_t key_at = f.body.size();
  f.body += key;
  f.seen.Insert(f.body, key_at, key.size());  // the index refers to the _sum line's labels
  f.body += ' ';
  AppendValue(&f.body, sum);
  f.body += '\n';
  f.body += f.name + "_count" + key + ' ';
  AppendValue(&f.body, static_cast<double>(count));
  f.body += '\n';
  ++f.samples;
  ++series_;
  return true;
}

std::string MetricsBuilder::Header(const FamilyData& f) {
  std::string out;
  out.reserve(f.help.size() + 2 * f.name.size() + 32);
  out += "# HELP " + f.name + " ";
  for (char c : f.help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  out += "\n# TYPE " + f.name + " ";
  out += TypeName(f.type);
  out += '\n';
  return out;
}

std::string MetricsBuilder::Render() const {
  size_t total = 0;
  for (const auto& f : families_) total += f.body.size() + f.help.size() + 2 * f.name.size() + 32;
  std::string out;
  out.reserve(total);
  for (const auto& f : families_) {
    if (f.samples == 0) continue;
    out += Header(f);
    out += f.body;
  }
  return out;
}

std::vector<std::string> MetricsBuilder::TakeParts() {
  std::vector<std::string> parts;
  parts.reserve(2 * families_.size());
  for (auto& f : families_) {
    if (f.samples == 0) continue;
    parts.push_back(Header(f));
    f.seen = LabelIndex();  // the index goes before the text leaves: it points into it
    parts.push_back(std::move(f.body));
  }
  families_.clear();
  return parts;
}

std::map<std::string, std::vector<MetricsBuilder::TappedSample>> MetricsBuilder::TakeTapped() {
  for (auto& f : families_) {
    f.tap = nullptr;  // they point into tapped_
    f.reducer.reset();
    f.tapped_by_sums = false;
  }
  tap_ = nullptr;
  reduce_ = nullptr;
  return std::move(tapped_);
}

MetricsBuilder& MetricsBuilder::Live() {
  if (!live_) live_ = std::make_unique<MetricsBuilder>();
  return *live_;
}

std::vector<std::string> MetricsBuilder::TakeLiveParts() {
  return live_ ? live_->TakeParts() : std::vector<std::string>{};
}

}  // namespace dora
