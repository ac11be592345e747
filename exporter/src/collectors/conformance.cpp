#include "collectors/conformance.h"

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "metrics/catalogue.h"

namespace dora {
namespace {

std::optional<int64_t> ConfigInt(const ClusterView& view, const std::string& topic, const char* key) {
  auto t = view.topic_configs.find(topic);
  if (t == view.topic_configs.end()) return std::nullopt;
  auto v = t->second.find(key);
  if (v == t->second.end()) return std::nullopt;
  try {
    return std::stoll(v->second);
  } catch (...) {
    return std::nullopt;
  }
}

void Check(const TopicExpectation& want, const TopicMetadata& t, const ClusterView& view,
           MetricsBuilder::FamilyId drift, MetricsBuilder& out) {
  auto add = [&](const char* check, bool drifted) {
    out.Add(drift, {{"topic", t.name}, {"check", check}}, drifted);
  };
  add("missing", false);
  if (want.partitions > 0) add("partitions", static_cast<int>(t.partitions.size()) != want.partitions);
  if (want.replication_factor > 0) {
    size_t rf = 0;
    for (const auto& p : t.partitions) rf = std::max(rf, p.replicas.size());
    add("replication_factor", static_cast<int>(rf) != want.replication_factor);
  }
  if (want.min_insync_replicas > 0) {
    if (auto v = ConfigInt(view, t.name, "min.insync.replicas"))
      add("min_insync_replicas", *v != want.min_insync_replicas);
  }
  if (want.retention_ms >= -1) {
    if (auto v = ConfigInt(view, t.name, "retention.ms")) add("retention", *v != want.retention_ms);
  }
}

}  // namespace

void RenderConformance(const TopicsSpec& spec, const ClusterView& view, MetricsBuilder& out) {
  auto drift = out.Family(DORA_METRIC("kafka_topic_conformance_drift"));
  std::map<std::string, const TopicMetadata*> live;
  for (const auto& t : view.metadata.topics) live[t.name] = &t;
  std::set<std::string> named;
  for (const auto& want : spec.topics) {
    if (want.name.empty()) continue;
    named.insert(want.name);
    auto it = live.find(want.name);
    if (it == live.end()) {
      out.Add(drift, {{"topic", want.name}, {"check", "missing"}}, 1);
    } else {
      Check(want, *it->second, view, drift, out);
    }
  }
  for (const auto& want : spec.topics) {
    if (want.pattern.empty()) continue;
    std::regex re(want.pattern);
    for (const auto& [name, t] : live) {
      if (named.count(name) || !std::regex_match(name, re)) continue;
      named.insert(name);  // first matching pattern wins
      Check(want, *t, view, drift, out);
    }
  }
}

}  // namespace dora
