#include "collectors/probe/shared_state.h"

#include "util/log.h"

namespace dora {

ProbeSharedState::ProbeSharedState(std::string topic)
    : topic_(std::move(topic)), log_(GetLogger("collector.probe")) {}

void ProbeSharedState::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

void ProbeSharedState::Sleep(Millis d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return stop_.load(); });
}

std::vector<std::pair<int32_t, std::string>> ProbeSharedState::Targets() const {
  std::vector<std::pair<int32_t, std::string>> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [p, st] : partitions_) {
    if (!st.assigned) continue;
    int32_t b = st.leader >= 0 ? st.leader : st.preferred;
    out.emplace_back(p, std::to_string(b));
  }
  return out;
}

std::vector<int32_t> ProbeSharedState::Unassigned() const {
  std::vector<int32_t> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [p, st] : partitions_) {
    if (!st.assigned) out.push_back(p);
  }
  return out;
}

void ProbeSharedState::MarkAssigned(const std::vector<int32_t>& partitions) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int32_t p : partitions) {
    auto it = partitions_.find(p);
    if (it != partitions_.end()) it->second.assigned = true;
  }
}

void ProbeSharedState::SetLayout(const std::vector<PartitionMetadata>& partitions) {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<int32_t, Partition> next;
  for (const auto& pm : partitions) {
    Partition st;
    auto old = partitions_.find(pm.id);
    if (old != partitions_.end()) st.assigned = old->second.assigned;
    st.leader = pm.leader;
    st.preferred = pm.replicas.empty() ? -1 : pm.replicas.front();
    next[pm.id] = st;
  }
  partitions_ = std::move(next);
}

std::vector<int32_t> ProbeSharedState::Clear() {
  std::vector<int32_t> assigned;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [p, st] : partitions_) {
    if (st.assigned) assigned.push_back(p);
  }
  partitions_.clear();
  return assigned;
}

void ProbeSharedState::SetProblem(const std::string& problem, Reason cause) {
  std::lock_guard<std::mutex> lock(mu_);
  problem_cause_ = cause;
  if (problem == problem_) return;
  if (!problem.empty()) {
    log_->warn("{}", problem);
  } else {
    log_->info("probe topic {} is in place; probing", topic_);
  }
  problem_ = problem;
}

void ProbeSharedState::Fatal(const std::string& problem) {
  std::lock_guard<std::mutex> lock(mu_);
  log_->error("{}", problem);
  fatal_ = problem;
}

Status ProbeSharedState::Problem() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!fatal_.empty()) return Status::Partial(Reason::kInternal, fatal_);
  if (!problem_.empty()) return Status::Partial(problem_cause_, problem_);
  return Status::Ok();
}

}  // namespace dora
