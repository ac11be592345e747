#include "metrics/self_metrics.h"

#include <prometheus/text_serializer.h>

#include <chrono>
#include <sstream>

#include "kafka/library_version.h"
#include "version.h"

namespace dora {
namespace {
double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

SelfMetrics::SelfMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& build = prometheus::BuildGauge()
                    .Name("kafka_exporter_build_info")
                    .Help("Build information of dora-kafka-exporter; always 1.")
                    .Register(*registry_);
  build.Add({{"version", kVersion}, {"revision", kRevision}, {"librdkafka_version", KafkaLibraryVersion()}})
      .Set(1);
  success_ = &prometheus::BuildGauge()
                  .Name("kafka_exporter_collector_success")
                  .Help("1 if the collector's last run succeeded, 0 otherwise.")
                  .Register(*registry_);
  duration_ = &prometheus::BuildGauge()
                   .Name("kafka_exporter_collector_duration_seconds")
                   .Help("Duration of the collector's last run in seconds.")
                   .Register(*registry_);
  last_success_ = &prometheus::BuildGauge()
                       .Name("kafka_exporter_collector_last_success_timestamp_seconds")
                       .Help("Unix time of the collector's last successful run (0 if never).")
                       .Register(*registry_);
  errors_ = &prometheus::BuildCounter()
                 .Name("kafka_exporter_collector_errors_total")
                 .Help(
                     "Failed collector runs by cause (timeout, kafka, unavailable, config, http, bind, "
                     "internal), partial runs included.")
                 .Register(*registry_);
  partial_ = &prometheus::BuildGauge()
                  .Name("kafka_exporter_collector_partial")
                  .Help(
                      "1 if the collector's last run failed in part and published what it had (its cause is "
                      "counted in kafka_exporter_collector_errors_total), 0 otherwise.")
                  .Register(*registry_);
  reload_ok_ =
      &prometheus::BuildGauge()
           .Name("kafka_exporter_config_last_reload_successful")
           .Help("1 if the last configuration (re)load succeeded, 0 if the last SIGHUP reload failed.")
           .Register(*registry_)
           .Add({});
  reload_ts_ = &prometheus::BuildGauge()
                    .Name("kafka_exporter_config_last_reload_success_timestamp_seconds")
                    .Help("Unix time of the last successful configuration load.")
                    .Register(*registry_)
                    .Add({});
  lag_clamped_ =
      &prometheus::BuildCounter()
           .Name("kafka_exporter_lag_negative_clamped_total")
           .Help(
               "Lag values that came out negative (committed offset ahead of the fetched end offset) "
               "and were reported as 0.")
           .Register(*registry_)
           .Add({});
  web_reload_ok_ = &prometheus::BuildGauge()
                        .Name("kafka_exporter_web_config_last_reload_successful")
                        .Help(
                            "1 if the web config file loaded at start and its last live change (if any) was "
                            "applied; 0 if that change did not load or was refused as a security downgrade.")
                        .Register(*registry_)
                        .Add({});
  web_reload_ts_ = &prometheus::BuildGauge()
                        .Name("kafka_exporter_web_config_last_reload_success_timestamp_seconds")
                        .Help("Unix time the web config in force was loaded.")
                        .Register(*registry_)
                        .Add({});
  reload_ok_->Set(1);
  reload_ts_->Set(NowSeconds());
  web_reload_ok_->Set(1);
  web_reload_ts_->Set(NowSeconds());
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
