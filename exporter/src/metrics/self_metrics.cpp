#include "metrics/self_metrics.h"

#include <prometheus/text_serializer.h>

#include <chrono>
#include <sstream>
#include <stdexcept>
#include <string>

#include "kafka/library_version.h"
#include "metrics/catalogue.h"
#include "version.h"

namespace dora {
namespace {
double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A catalogue family registered with prometheus-cpp, whose builder fixes the
// type: a family of another type in the catalogue is an error at start.
prometheus::Family<prometheus::Gauge>& BuildGauge(const metrics::FamilyDef& def, prometheus::Registry& r) {
  if (def.type != MetricType::kGauge) throw std::logic_error(std::string(def.name) + " is not a gauge");
  return prometheus::BuildGauge().Name(std::string(def.name)).Help(std::string(def.help)).Register(r);
}

prometheus::Family<prometheus::Counter>& BuildCounter(const metrics::FamilyDef& def,
                                                      prometheus::Registry& r) {
  if (def.type != MetricType::kCounter) throw std::logic_error(std::string(def.name) + " is not a counter");
  return prometheus::BuildCounter().Name(std::string(def.name)).Help(std::string(def.help)).Register(r);
}
}  // namespace

SelfMetrics::SelfMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& build = BuildGauge(DORA_METRIC("kafka_exporter_build_info"), *registry_);
  build.Add({{"version", kVersion}, {"revision", kRevision}, {"librdkafka_version", KafkaLibraryVersion()}})
      .Set(1);
  success_ = &BuildGauge(DORA_METRIC("kafka_exporter_collector_success"), *registry_);
  duration_ = &BuildGauge(DORA_METRIC("kafka_exporter_collector_duration_seconds"), *registry_);
  last_success_ =
      &BuildGauge(DORA_METRIC("kafka_exporter_collector_last_success_timestamp_seconds"), *registry_);
  errors_ = &BuildCounter(DORA_METRIC("kafka_exporter_collector_errors_total"), *registry_);
  partial_ = &BuildGauge(DORA_METRIC("kafka_exporter_collector_partial"), *registry_);
  shard_ = &BuildGauge(DORA_METRIC("kafka_exporter_shard_info"), *registry_);
  SetShard(0, 1);
  reload_ok_ = &BuildGauge(DORA_METRIC("kafka_exporter_config_last_reload_successful"), *registry_).Add({});
  reload_ts_ =
      &BuildGauge(DORA_METRIC("kafka_exporter_config_last_reload_success_timestamp_seconds"), *registry_)
           .Add({});
  lag_clamped_ = &BuildCounter(DORA_METRIC("kafka_exporter_lag_negative_clamped_total"), *registry_).Add({});
  web_reload_ok_ =
      &BuildGauge(DORA_METRIC("kafka_exporter_web_config_last_reload_successful"), *registry_).Add({});
  web_reload_ts_ =
      &BuildGauge(DORA_METRIC("kafka_exporter_web_config_last_reload_success_timestamp_seconds"), *registry_)
           .Add({});
  reload_ok_->Set(1);
  reload_ts_->Set(NowSeconds());
  web_reload_ok_->Set(1);
  web_reload_ts_->Set(NowSeconds());
}

void SelfMetrics::SetShard(int index, int count) {
  if (shard_series_) shard_->Remove(shard_series_);
  shard_series_ = &shard_->Add({{"index", std::to_string(index)}, {"count", std::to_string(count)}});
  shard_series_->Set(1);
}

void SelfMetrics::Declare(const std::string& collector) {
  success_->Add({{"collector", collector}});
  duration_->Add({{"collector", collector}});
  last_success_->Add({{"collector", collector}});
  partial_->Add({{"collector", collector}});
  // Counters start at 0 for every reason, so increase() sees the first error.
  for (Reason reason : kAllReasons) {
    errors_->Add({{"collector", collector}, {"reason", std::string(ReasonName(reason))}});
  }
}

void SelfMetrics::RecordRun(const std::string& collector, const Status& status, double duration_seconds) {
  success_->Add({{"collector", collector}}).Set(status.ok ? 1 : 0);
  duration_->Add({{"collector", collector}}).Set(duration_seconds);
  partial_->Add({{"collector", collector}}).Set(!status.ok && status.partial ? 1 : 0);
  if (status.ok) {
    last_success_->Add({{"collector", collector}}).Set(NowSeconds());
  } else {
    errors_->Add({{"collector", collector}, {"reason", std::string(status.reason_name())}}).Increment();
  }
}

void SelfMetrics::RecordReload(bool success) {
  reload_ok_->Set(success ? 1 : 0);
  if (success) reload_ts_->Set(NowSeconds());
}

void SelfMetrics::RecordWebConfigReload(bool success) {
  web_reload_ok_->Set(success ? 1 : 0);
  if (success) web_reload_ts_->Set(NowSeconds());
}

void SelfMetrics::PublishTo(SnapshotStore* store,
                            std::vector<std::pair<std::string, std::vector<std::string>>> entries) {
  std::lock_guard<std::mutex> lock(publish_mu_);
  entries.emplace_back();
  entries.back().first = kSelfEntry;
  entries.back().second.push_back(Render());
  store->PublishAll(std::move(entries));
}

std::string SelfMetrics::Render() const {
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(os, registry_->Collect());
  return os.str();
}

}  // namespace dora
