#pragma once
// ICT incident events (docs/incident-events.md; the JSON Schema is
// docs/incident-event.schema.json): what the daemon publishes on
// `incident-events` for every transition of an alert it evaluates itself.
//
// An incident groups the transitions of one alert identity (its labels)
// during one firing episode: it is `opened` when the alert starts firing,
// optionally `renotified` while it keeps firing, and `closed` when it
// resolves (or when a reload disables its rule). Its id is derived from the
// identity and the pending start, so every event of the episode carries the
// same id without any state, and a new episode of the same alert is a new
// incident. Each event has its own random id, assigned once before the event
// is spooled: retries and re-deliveries carry the same one, so consumers
// deduplicate by it.
//
// The daemon never classifies an incident (major or not): that is a person's
// decision. `awareness_deadline` (detected_at + 24 h) is the latest time of an
// initial notification should a person classify it as major.
//
// Pure functions and plain structs; thread-safe.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/alert.h"

namespace dora::incidents {

using alerting::Labels;
using alerting::SysTime;

inline constexpr int kSchemaVersion = 1;
// detected_at + this is the awareness deadline.
inline constexpr std::chrono::hours kAwarenessWindow{24};

enum class EventType : uint8_t { kOpened, kRenotified, kClosed };
// "opened", "renotified", "closed".
std::string_view TypeName(EventType t);

// The Kafka resources an alert names, from its labels (each list sorted, no
// duplicates): topics (`topic`), consumer groups (`consumergroup`), brokers
// (`broker`) and partitions ("<topic>/<partition>").
struct Affected {
  std::vector<std::string> topics;
  std::vector<std::string> consumer_groups;
  std::vector<std::string> brokers;
  std::vector<std::string> partitions;
};
Affected AffectedResources(const Labels& labels);

struct IncidentEvent {
  std::string event_id;  // random UUID (version 4), assigned once, before spooling
  EventType type = EventType::kOpened;
  std::string incident_id;   // IncidentId(labels, detected_at)
  uint64_t sequence = 0;     // this event's number within its incident: opened 0, then +1 each
  Labels labels;             // the alert's identity (alertname and severity included)
  Labels annotations;        // summary, description, runbook_url
  double value = 0;          // the condition's value at its last true evaluation
  SysTime detected_at{};     // when the condition first held (the pending start)
  SysTime started_at{};      // when the alert started firing
  SysTime resolved_at{};     // closed only (epoch otherwise)
  SysTime emitted_at{};      // when the daemon made the event
  std::string close_reason;  // closed only: "resolved", "rule_disabled" or "restart" (incidents/pipeline.h)
  std::string cluster_id;    // Kafka cluster id; "" when not known yet
  std::string instance;      // the daemon that made it
};

// The incident id of an alert identity's firing episode: a UUID (version 8,
// RFC 9562) from the SHA-256 of the labels and the pending start in
// milliseconds. The same alert firing again later is another incident.
std::string IncidentId(const Labels& labels, SysTime detected_at);

// A random UUID (version 4) from OpenSSL's RAND_bytes.
std::string NewEventId();

// The event for `alert` (its state and times as the evaluator left them)
// without event_id, sequence, cluster_id and instance.
IncidentEvent EventFromAlert(EventType type, const alerting::Alert& alert, SysTime now);

// The event as one line of JSON (docs/incident-event.schema.json). Times are
// RFC 3339 in UTC with milliseconds; a value that is not finite is null;
// invalid UTF-8 (from a topic name) is replaced, never thrown.
std::string ToJson(const IncidentEvent& e);

}  // namespace dora::incidents
