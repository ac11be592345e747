#include "incidents/metrics.h"

#include <stdexcept>

#include "metrics/catalogue.h"

namespace dora::incidents {
namespace {

template <typename Builder>
auto& Register(Builder builder, const metrics::FamilyDef& def, MetricType type, prometheus::Registry& r) {
  if (def.type != type) throw std::logic_error(std::string(def.name) + " has another type in the catalogue");
  return builder.Name(std::string(def.name)).Help(std::string(def.help)).Register(r);
}

constexpr EventType kTypes[] = {EventType::kOpened, EventType::kRenotified, EventType::kClosed};

}  // namespace

IncidentMetrics::IncidentMetrics(prometheus::Registry& r) {
  auto& events = Register(prometheus::BuildCounter(), DORA_METRIC("kafka_exporter_incident_events_total"),
                          MetricType::kCounter, r);
  auto& spooled =
      Register(prometheus::BuildCounter(), DORA_METRIC("kafka_exporter_incident_events_spooled_total"),
               MetricType::kCounter, r);
  dropped_ = &Register(prometheus::BuildCounter(),
                       DORA_METRIC("kafka_exporter_incident_events_dropped_total"), MetricType::kCounter, r);
  for (EventType t : kTypes) {
    const std::string type(TypeName(t));
    events_[static_cast<int>(t)] = &events.Add({{"type", type}});
    spooled_[static_cast<int>(t)] = &spooled.Add({{"type", type}});
    for (const char* reason : {kDropSpoolFull, kDropQueueFull}) dropped(t, reason);
  }
  delivered_ =
      &Register(prometheus::BuildCounter(), DORA_METRIC("kafka_exporter_incident_events_delivered_total"),
                MetricType::kCounter, r)
           .Add({});
  failed_ = &Register(prometheus::BuildCounter(), DORA_METRIC("kafka_exporter_incident_events_failed_total"),
                      MetricType::kCounter, r)
                 .Add({});
  skipped_ = &Register(prometheus::BuildCounter(), DORA_METRIC("kafka_exporter_incident_spool_skipped_total"),
                       MetricType::kCounter, r)
                  .Add({});
  spool_bytes_ = &Register(prometheus::BuildGauge(), DORA_METRIC("kafka_exporter_incident_spool_bytes"),
                           MetricType::kGauge, r)
                      .Add({});
  spool_events_ = &Register(prometheus::BuildGauge(), DORA_METRIC("kafka_exporter_incident_spool_events"),
                            MetricType::kGauge, r)
                       .Add({});
  oldest_age_ =
      &Register(prometheus::BuildGauge(), DORA_METRIC("kafka_exporter_incident_spool_oldest_age_seconds"),
                MetricType::kGauge, r)
           .Add({});
}

prometheus::Counter& IncidentMetrics::dropped(EventType t, const std::string& reason) {
  return dropped_->Add({{"type", std::string(TypeName(t))}, {"reason", reason}});
}

}  // namespace dora::incidents
