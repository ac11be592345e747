#include "alerting/notifier_metrics.h"

#include <stdexcept>

#include "metrics/catalogue.h"

namespace dora::alerting {
namespace {

template <typename Builder>
auto& Register(Builder builder, const metrics::FamilyDef& def, MetricType type, prometheus::Registry& r) {
  if (def.type != type) throw std::logic_error(std::string(def.name) + " has another type in the catalogue");
  return builder.Name(std::string(def.name)).Help(std::string(def.help)).Register(r);
}

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                0.5,   1,    2.5,   5,    10,  30};
  return kBuckets;
}

}  // namespace

NotifierMetrics::NotifierMetrics(prometheus::Registry& r)
    : sent_(&Register(prometheus::BuildCounter(), DORA_METRIC("kafka_exporter_notifications_sent_total"),
                      MetricType::kCounter, r)),
      failed_(&Register(prometheus::BuildCounter(), DORA_METRIC("kafka_exporter_notifications_failed_total"),
                        MetricType::kCounter, r)),
      dropped_(&Register(prometheus::BuildCounter(),
                         DORA_METRIC("kafka_exporter_notifications_dropped_total"), MetricType::kCounter, r)),
      queue_length_(&Register(prometheus::BuildGauge(),
                              DORA_METRIC("kafka_exporter_notifications_queue_length"), MetricType::kGauge,
                              r)),
      latency_(&Register(prometheus::BuildHistogram(),
                         DORA_METRIC("kafka_exporter_notifications_latency_seconds"), MetricType::kHistogram,
                         r)),
      alerts_(
          &Register(prometheus::BuildGauge(), DORA_METRIC("kafka_exporter_alerts"), MetricType::kGauge, r)) {
  for (AlertState s : {AlertState::kPending, AlertState::kFiring, AlertState::kResolved})
    alerts_->Add({{"state", std::string(StateName(s))}});
}

void NotifierMetrics::Declare(const std::string& am) {
  sent(am);
  failed(am);
  dropped(am);
  queue_length(am);
  latency(am);
}

prometheus::Counter& NotifierMetrics::sent(const std::string& am) {
  return sent_->Add({{"alertmanager", am}});
}
prometheus::Counter& NotifierMetrics::failed(const std::string& am) {
  return failed_->Add({{"alertmanager", am}});
}
prometheus::Counter& NotifierMetrics::dropped(const std::string& am) {
  return dropped_->Add({{"alertmanager", am}});
}
prometheus::Gauge& NotifierMetrics::queue_length(const std::string& am) {
  return queue_length_->Add({{"alertmanager", am}});
}
prometheus::Histogram& NotifierMetrics::latency(const std::string& am) {
  return latency_->Add({{"alertmanager", am}}, LatencyBuckets());
}

void NotifierMetrics::RecordStates(const AlertsSnapshot& snapshot) {
  double counts[3] = {0, 0, 0};
  for (const Alert& a : snapshot.alerts) counts[static_cast<int>(a.state)] += 1;
  for (AlertState s : {AlertState::kPending, AlertState::kFiring, AlertState::kResolved})
    alerts_->Add({{"state", std::string(StateName(s))}}).Set(counts[static_cast<int>(s)]);
}

}  // namespace dora::alerting
