#include "metrics/builder.h"

#include <charconv>
#include <cmath>

namespace dora {

MetricsBuilder::FamilyId MetricsBuilder::Family(std::string_view name, std::string_view help,
                                                MetricType type) {
  for (size_t i = 0; i < families_.size(); ++i) {
    if (families_[i].name == name) return i;
  }
  FamilyData f;
  f.name = std::string(name);
  f.help = std::string(help);
  f.type = type;
  families_.push_back(std::move(f));
  return families_.size() - 1;
}

void MetricsBuilder::AppendEscaped(std::string* out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        *out += "\\\\";
        break;
      case '"':
        *out += "\\\"";
        break;
      case '\n':
        *out += "\\n";
        break;
      default:
        *out += c;
    }
  }
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

bool MetricsBuilder::AddRendered(FamilyData& f, const Label* begin, const Label* end, double value) {
  std::string labels;
  AppendLabels(&labels, begin, end, nullptr);
  if (!f.seen.insert(labels).second) {
    ++duplicates_;
    return false;
  }
  f.body += f.name;
  f.body += labels;
  f.body += ' ';
  AppendValue(&f.body, value);
  f.body += '\n';
  ++f.samples;
  ++series_;
  return true;
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
  if (!f.seen.insert(key).second) {
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
  }
  Label inf{"le", "+Inf"};
  f.body += f.name + "_bucket";
  AppendLabels(&f.body, b, e, &inf);
  f.body += ' ';
  AppendValue(&f.body, static_cast<double>(count));
  f.body += '\n';
  f.body += f.name + "_sum" + key + ' ';
  AppendValue(&f.body, sum);
  f.body += '\n';
  f.body += f.name + "_count" + key + ' ';
  AppendValue(&f.body, static_cast<double>(count));
  f.body += '\n';
  ++f.samples;
  ++series_;
  return true;
}

std::string MetricsBuilder::Render() const {
  size_t total = 0;
  for (const auto& f : families_) total += f.body.size() + f.help.size() + 2 * f.name.size() + 32;
  std::string out;
  out.reserve(total);
  for (const auto& f : families_) {
    if (f.samples == 0) continue;
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
    switch (f.type) {
      case MetricType::kGauge:
        out += "gauge";
        break;
      case MetricType::kCounter:
        out += "counter";
        break;
      case MetricType::kHistogram:
        out += "histogram";
        break;
      case MetricType::kSummary:
        out += "summary";
        break;
      case MetricType::kUntyped:
        out += "untyped";
        break;
    }
    out += '\n';
    out += f.body;
  }
  return out;
}

}  // namespace dora
