#include "kafka/rdkafka_api.h"

#include "util/log.h"

namespace dora {

RdKafkaApi::RdKafkaApi(const KafkaConfig& config, std::unique_ptr<KafkaClient> main)
    : config_(config), main_(std::move(main)) {}

RdKafkaApi::~RdKafkaApi() {
  requests_.reset();  // before the handles
  groups_.reset();
}

Status RdKafkaApi::GroupsReady() {
  if (requests_ && (requests_->starved() || requests_->oldest_pending() > kRebuildAfter)) {
    // Destroyed before librdkafka's hour ends, a request still waiting for
    // its coordinator is failed cleanly; timing out, it would abort.
    GetLogger("kafka")->info("{} group request(s) unanswered, the oldest for {}: rebuilding the group handle",
                             requests_->pending(), FormatDuration(requests_->oldest_pending()));
    requests_.reset();
    groups_.reset();
  }
  if (requests_) return Status::Ok();
  auto c = KafkaClient::Create(config_, GroupClientProperties(config_));
  if (!c.ok()) return c.status();
  groups_ = std::move(c.value());
  requests_ = std::make_unique<GroupRequests>(*groups_);
  return Status::Ok();
}

Result<GroupListing> RdKafkaApi::ListGroups(int max_in_flight, Millis timeout) {
  std::lock_guard<std::mutex> lock(groups_mu_);
  if (Status s = GroupsReady(); !s.ok) return s;
  // After rd_kafka_list_groups failed (a broker it knew is down), the admin
  // path alone for a while, so the whole budget goes to useful requests.
  const auto now = std::chrono::steady_clock::now();
  bool cheap_failed = false;
  auto listing = dora::ListGroups(*groups_, *requests_, max_in_flight, timeout, now >= admin_listing_until_,
                                  &cheap_failed);
  if (cheap_failed) admin_listing_until_ = now + kAdminListingFor;
  return listing;
}

std::vector<GroupOffsets> RdKafkaApi::FetchCommittedOffsets(const std::vector<std::string>& groups,
                                                            int max_in_flight, Millis timeout) {
  std::lock_guard<std::mutex> lock(groups_mu_);
  if (Status s = GroupsReady(); !s.ok) {
    std::vector<GroupOffsets> out(groups.size());
    for (size_t i = 0; i < groups.size(); ++i) {
      out[i].group = groups[i];
      out[i].error = KafkaTimedOutError();
    }
    return out;
  }
  return requests_->FetchCommittedOffsets(groups, max_in_flight, timeout);
}

Result<std::shared_ptr<KafkaApi>> ConnectKafka(const KafkaConfig& config,
                                               std::function<void(const std::string&)> stats_cb,
                                               Millis statistics_interval) {
  std::map<std::string, std::string> extra;
  if (stats_cb) extra["statistics.interval.ms"] = std::to_string(statistics_interval.count());
  auto main = KafkaClient::Create(config, extra, std::move(stats_cb));
  if (!main.ok()) return main.status();
  return std::shared_ptr<KafkaApi>(std::make_shared<RdKafkaApi>(config, std::move(main.value())));
}

}  // namespace dora
