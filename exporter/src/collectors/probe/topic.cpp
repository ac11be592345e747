#include "collectors/probe/topic.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "collectors/probe/partition_planner.h"
#include "kafka/api.h"
#include "util/log.h"

namespace dora {
namespace {

using Clock = std::chrono::steady_clock;

// How often the consumer-side layout (partitions, leaders) is refreshed: a
// leader change shows in the broker label of errors within this time.
constexpr Millis kLayoutRefresh{5000};

}  // namespace

ProbeTopicMaintainer::ProbeTopicMaintainer(const ProbeCollectorConfig& config, ProbeSharedState& state,
                                           std::shared_ptr<KafkaApi> admin, ProbeProducer& producer,
                                           ProbeConsumer& consumer)
    : config_(config),
      state_(state),
      admin_(std::move(admin)),
      producer_(producer),
      consumer_(consumer),
      log_(GetLogger("collector.probe")) {}

Millis ProbeTopicMaintainer::ShortTimeout() const { return std::min(config_.timeout, Millis(5000)); }

void ProbeTopicMaintainer::Run() {
  auto next_check = Clock::now();
  auto next_layout = Clock::now();
  while (!state_.stopping()) {
    auto now = Clock::now();
    if (now >= next_layout || now >= next_check) {
      bool check = now >= next_check;
      bool healthy = RefreshLayout(check);
      // Right after a create/grow the new layout shows within a second or two.
      next_layout = Clock::now() + (changed_ ? Millis(1000) : kLayoutRefresh);
      changed_ = false;
      if (check) {
        // A broken layout is looked at again sooner than a healthy one.
        Millis again =
            healthy ? config_.topic_check_interval : std::min(config_.topic_check_interval, Millis(15000));
        next_check = Clock::now() + again;
      }
    }
    AssignNew();
    state_.Sleep(Millis(1000));
  }
}

bool ProbeTopicMaintainer::RefreshLayout(bool check) {
  auto layout = producer_.Layout(ShortTimeout());
  if (!layout.ok()) {
    // Metadata is unreachable: keep probing the known layout (that is the probe's job).
    log_->debug("probe metadata failed: {}", layout.status().message);
    return false;
  }
  const std::optional<TopicMetadata>& topic = layout->topic;
  if (check && config_.manage_topic) {
    if (Repair(layout->brokers, topic ? &*topic : nullptr)) return false;
  }
  if (!topic) {
    state_.SetProblem("probe topic " + config_.topic + " does not exist" +
                      (config_.manage_topic ? " (creating it)" : " and manage_topic is false"));
    return false;
  }
  state_.SetLayout(topic->partitions);
  state_.SetProblem("");
  return true;
}

bool ProbeTopicMaintainer::Repair(const std::vector<int32_t>& brokers, const TopicMetadata* existing) {
  ProbeTopicPlan plan = PlanProbeTopic(brokers, existing);
  if (!plan.note.empty()) log_->debug("probe topic {}: {}", config_.topic, plan.note);
  if (plan.action == ProbeTopicPlan::Action::kNone) return false;
  Status s;
  if (plan.action == ProbeTopicPlan::Action::kCreate) {
    // Probe data is worth nothing after the SLA: keep about an hour of it.
    s = admin_->CreateTopic(
        config_.topic, plan.assignment,
        {{"cleanup.policy", "delete"}, {"retention.ms", "3600000"}, {"segment.ms", "3600000"}},
        config_.timeout);
    if (s.ok) {
      log_->info("created probe topic {} with {} partition(s)", config_.topic, plan.total_partitions);
      Forget();  // a recreated topic starts at offset 0: old positions mean nothing
    }
  } else {
    s = admin_->CreatePartitions(config_.topic, plan.total_partitions, plan.assignment, config_.timeout);
    if (s.ok) {
      log_->info("probe topic {}: added {} partition(s) for brokers without one", config_.topic,
                 plan.assignment.size());
    }
  }
  if (!s.ok) {
    if (s.message.find("TOPIC_ALREADY_EXISTS") != std::string::npos) return false;  // metadata lagged
    state_.SetProblem("probe topic " + config_.topic + " could not be repaired: " + s.message, s.reason);
    return false;
  }
  changed_ = true;
  return true;
}

// The new partitions are read from their own end rather than from stale positions.
void ProbeTopicMaintainer::Forget() {
  std::vector<int32_t> assigned = state_.Clear();
  Status s = consumer_.Unassign(config_.topic, assigned);
  if (!s.ok) log_->debug("probe: unassign failed: {}", s.message);
}

// Every probe message sent from now on is read back: a partition is probed
// only once the consumer reads it from the end it had before the first send.
void ProbeTopicMaintainer::AssignNew() {
  std::vector<int32_t> todo = state_.Unassigned();
  if (todo.empty()) return;
  auto ends = consumer_.EndOffsets(config_.topic, todo, ShortTimeout());
  if (!ends.ok()) {
    log_->debug("probe: end offsets for new partitions failed: {}", ends.status().message);
    return;
  }
  std::vector<PartitionOffset> starts;
  std::vector<int32_t> done;
  for (const auto& e : ends.value()) {
    if (e.error != 0 || e.offset < 0) continue;
    starts.push_back(e);
    done.push_back(e.tp.partition);
  }
  if (done.empty()) return;
  Status s = consumer_.Assign(starts);
  if (!s.ok) {
    log_->log(assign_failing_ ? spdlog::level::debug : spdlog::level::warn,
              "probe: cannot assign partitions: {}", s.message);
    assign_failing_ = true;
    return;
  }
  assign_failing_ = false;
  state_.MarkAssigned(done);
  log_->debug("probe: reading {} new partition(s) from their end", done.size());
}

}  // namespace dora
