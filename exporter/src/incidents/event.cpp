#include "incidents/event.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "alerting/format.h"

namespace dora::incidents {
namespace {

using Json = nlohmann::ordered_json;

// 16 bytes as 8-4-4-4-12 lower-case hex, with the version in the high nibble
// of byte 6 and the RFC 9562 variant (10xx) in byte 8.
std::string FormatUuid(std::array<unsigned char, 16> b, int version) {
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | (version << 4));
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0x0f];
  }
  return out;
}

int64_t EpochMillis(SysTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Json Time(SysTime t) { return alerting::Rfc3339Millis(t); }

Json List(const std::vector<std::string>& v) {
  Json a = Json::array();
  for (const auto& s : v) a.push_back(s);
  return a;
}

}  // namespace

std::string_view TypeName(EventType t) {
  switch (t) {
    case EventType::kOpened:
      return "opened";
    case EventType::kRenotified:
      return "renotified";
    case EventType::kClosed:
      return "closed";
  }
  return "opened";
}

Affected AffectedResources(const Labels& labels) {
  std::set<std::string> topics, groups, brokers, partitions;
  auto get = [&](const char* name) -> const std::string* {
    auto it = labels.find(name);
    return it == labels.end() || it->second.empty() ? nullptr : &it->second;
  };
  if (const std::string* t = get("topic")) {
    topics.insert(*t);
    if (const std::string* p = get("partition")) partitions.insert(*t + "/" + *p);
  }
  if (const std::string* g = get("consumergroup")) groups.insert(*g);
  if (const std::string* b = get("broker")) brokers.insert(*b);
  Affected a;
  a.topics.assign(topics.begin(), topics.end());
  a.consumer_groups.assign(groups.begin(), groups.end());
  a.brokers.assign(brokers.begin(), brokers.end());
  a.partitions.assign(partitions.begin(), partitions.end());
  return a;
}

std::string IncidentId(const Labels& labels, SysTime detected_at) {
  // Unambiguous: names and values cannot contain NUL in what the evaluator
  // builds, and each is terminated by one.
  std::string input;
  for (const auto& [k, v] : labels) {
    input += k;
    input += '\0';
    input += v;
    input += '\0';
  }
  input += std::to_string(EpochMillis(detected_at));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  std::array<unsigned char, 16> b{};
  if (EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha256(), nullptr) == 1 && len >= 16) {
    std::copy(digest, digest + 16, b.begin());
  }
  return FormatUuid(b, 8);
}

std::string NewEventId() {
  std::array<unsigned char, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    // OpenSSL's generator failed (it should not): a seeded engine still makes
    // ids unique enough to deduplicate by.
    static thread_local std::mt19937_64 engine{std::random_device{}()};
    for (auto& x : b) x = static_cast<unsigned char>(engine());
  }
  return FormatUuid(b, 4);
}

IncidentEvent EventFromAlert(EventType type, const alerting::Alert& alert, SysTime now) {
  IncidentEvent e;
  e.type = type;
  e.labels = alert.labels;
  e.annotations = alert.annotations;
  e.value = alert.value;
  e.detected_at = alert.active_at;
  e.started_at = alert.fired_at;
  e.emitted_at = now;
  e.incident_id = IncidentId(alert.labels, alert.active_at);
  if (type == EventType::kClosed) {
    e.resolved_at = alert.state == alerting::AlertState::kResolved ? alert.resolved_at : now;
    e.close_reason = alert.state == alerting::AlertState::kResolved ? "resolved" : "rule_disabled";
  }
  return e;
}

std::string ToJson(const IncidentEvent& e) {
  auto label = [&](const char* name) -> Json {
    auto it = e.labels.find(name);
    return it == e.labels.end() ? Json() : Json(it->second);
  };
  Json j;
  j["schema_version"] = kSchemaVersion;
  j["event_id"] = e.event_id;
  j["event_type"] = std::string(TypeName(e.type));
  j["incident_id"] = e.incident_id;
  j["sequence"] = e.sequence;
  j["alertname"] = label("alertname");
  j["severity"] = label("severity");
  j["labels"] = Json::object();
  for (const auto& [k, v] : e.labels) j["labels"][k] = v;
  j["annotations"] = Json::object();
  for (const auto& [k, v] : e.annotations) j["annotations"][k] = v;
  j["value"] = std::isfinite(e.value) ? Json(e.value) : Json();
  j["detected_at"] = Time(e.detected_at);
  j["started_at"] = Time(e.started_at);
  const bool closed = e.type == EventType::kClosed;
  j["resolved_at"] = closed ? Time(e.resolved_at) : Json();
  const SysTime end = closed ? e.resolved_at : e.emitted_at;
  j["duration_seconds"] = std::max(0.0, std::chrono::duration<double>(end - e.detected_at).count());
  j["close_reason"] = closed ? Json(e.close_reason) : Json();
  j["emitted_at"] = Time(e.emitted_at);
  j["awareness_deadline"] = Time(e.detected_at + kAwarenessWindow);
  j["cluster_id"] = e.cluster_id.empty() ? Json() : Json(e.cluster_id);
  j["instance"] = e.instance;
  const Affected a = AffectedResources(e.labels);
  j["affected"]["topics"] = List(a.topics);
  j["affected"]["consumer_groups"] = List(a.consumer_groups);
  j["affected"]["brokers"] = List(a.brokers);
  j["affected"]["partitions"] = List(a.partitions);
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace dora::incidents
