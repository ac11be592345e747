#include "collectors/lag_model.h"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <limits>
#include <utility>

namespace dora {

std::optional<double> TimeRetentionSeconds(const std::map<std::string, std::string>* topic_configs) {
  if (topic_configs == nullptr) return std::nullopt;
  auto policy = topic_configs->find("cleanup.policy");
  if (policy != topic_configs->end() && policy->second.find("delete") == std::string::npos)
    return std::nullopt;
  auto ms = topic_configs->find("retention.ms");
  if (ms == topic_configs->end()) return std::nullopt;
  const std::string& v = ms->second;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n <= 0) return std::nullopt;
  return static_cast<double>(n) / 1000.0;
}

std::optional<double> RetentionSecondsLeft(double retention_seconds,
                                           const std::deque<std::pair<SteadyTime, double>>& lag_points) {
  if (lag_points.size() < 2) return std::nullopt;
  const double span =
      std::chrono::duration<double>(lag_points.back().first - lag_points.front().first).count();
  if (span <= 0) return std::nullopt;
  const double left = retention_seconds - lag_points.back().second;
  if (left <= 0) return 0.0;
  const double slope = std::min(1.0, (lag_points.back().second - lag_points.front().second) / span);
  if (slope <= 0) return std::numeric_limits<double>::infinity();
  return left / slope;
}

void WatermarkHistory::Add(SteadyTime t, int64_t high) {
  if (!points_.empty()) {
    if (high < points_.back().second)
      points_.clear();  // recreated partition: start over
    else if (high == points_.back().second)
      return;  // keep the time it was first reached
    else if (t <= points_.back().first)
      return;
  }
  if (points_.size() >= max_points_ && !points_.empty())
    points_.erase(points_.begin(),
                  points_.begin() + static_cast<std::ptrdiff_t>(points_.size() - max_points_ + 1));
  points_.emplace_back(t, high);
}

std::optional<double> WatermarkHistory::LagSeconds(int64_t committed, SteadyTime now) const {
  if (points_.empty()) return std::nullopt;
  if (committed >= points_.back().second) return 0.0;
  if (points_.size() < 2) return std::nullopt;
  auto secs = [](SteadyTime a, SteadyTime b) { return std::chrono::duration<double>(b - a).count(); };
  SteadyTime reached;
  if (committed < points_.front().second) {
    // Older than the history: extrapolate at the history's average rate.
    double span = secs(points_.front().first, points_.back().first);
    double msgs = static_cast<double>(points_.back().second - points_.front().second);
    if (span <= 0 || msgs <= 0) return std::nullopt;
    double before = static_cast<double>(points_.front().second - committed) * span / msgs;
    return secs(points_.front().first, now) + before;
  }
  // points_[i].second <= committed < points_[i + 1].second
  auto it = std::upper_bound(points_.begin(), points_.end(), committed,
                             [](int64_t c, const auto& p) { return c < p.second; });
  const auto& hi = *it;
  const auto& lo = *(it - 1);
  double frac = static_cast<double>(committed - lo.second) / static_cast<double>(hi.second - lo.second);
  double t_lo_to_now = secs(lo.first, now);
  double seg = secs(lo.first, hi.first);
  return std::max(0.0, t_lo_to_now - frac * seg);
}

const char* ToString(PartitionStatus s) {
  switch (s) {
    case PartitionStatus::kOk:
      return "OK";
    case PartitionStatus::kWarn:
      return "WARN";
    case PartitionStatus::kStall:
      return "STALL";
    case PartitionStatus::kStop:
      return "STOP";
    case PartitionStatus::kRewind:
      return "REWIND";
  }
  return "OK";
}

const char* ToString(GroupStatus s) {
  switch (s) {
    case GroupStatus::kOk:
      return "OK";
    case GroupStatus::kWarn:
      return "WARN";
    case GroupStatus::kErr:
      return "ERR";
  }
  return "OK";
}

StatusWindow::StatusWindow(size_t size) : size_(static_cast<uint16_t>(size)) {
  if (size_ > kInline) heap_ = std::make_unique<uint8_t[]>(size_);
}

StatusWindow::StatusWindow(StatusWindow&& o) noexcept { *this = std::move(o); }

StatusWindow& StatusWindow::operator=(StatusWindow&& o) noexcept {
  if (this == &o) return *this;
  last_ = o.last_;
  heap_ = std::move(o.heap_);
  std::copy(std::begin(o.inline_), std::end(o.inline_), std::begin(inline_));
  size_ = o.size_;
  count_ = o.count_;
  head_ = o.head_;
  o.last_ = Observation{};
  o.size_ = 0;
  o.count_ = 0;
  o.head_ = 0;
  return *this;
}

void StatusWindow::Add(Observation o) {
  if (size_ == 0) return;
  uint8_t f = o.lag == 0 ? kLagZero : 0;
  if (count_ > 0) {
    if (o.offset > last_.offset) f |= kOffsetUp;
    if (o.offset < last_.offset) f |= kOffsetDown;
    if (o.lag > last_.lag) f |= kLagUp;
    if (o.lag < last_.lag) f |= kLagDown;
  }
  last_ = o;
  if (count_ < size_) {
    ring()[count_++] = f;
    return;
  }
  ring()[head_] = f;  // overwrite the oldest
  head_ = static_cast<uint16_t>((head_ + 1) % size_);
}

void StatusWindow::Flags(uint8_t* any, uint8_t* steps) const {
  // The oldest observation's steps compare it with one that left the window:
  // only its lag counts.
  const size_t n = count_;
  const uint8_t* r = ring();
  *any = 0;
  *steps = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t f = r[(head_ + i) % n];
    *any |= f;
    if (i > 0) *steps |= f;
  }
}

bool StatusWindow::Moved() const {
  uint8_t any = 0, steps = 0;
  Flags(&any, &steps);
  return (steps & kOffsetUp) != 0;
}

PartitionStatus StatusWindow::Evaluate(bool owned, bool owner_moved) const {
  const size_t n = count_;
  if (n == 0) return PartitionStatus::kOk;
  uint8_t any = 0, steps = 0;
  Flags(&any, &steps);
  if (any & kLagZero) return PartitionStatus::kOk;
  if (steps & kOffsetDown) return PartitionStatus::kRewind;
  if (n < size_) return PartitionStatus::kOk;  // not enough evidence yet
  if (!(steps & kOffsetUp)) {
    if (!owned) return PartitionStatus::kStop;
    if (!owner_moved) return PartitionStatus::kStall;
    // Starved by a consumer that moves elsewhere: slow, not stalled.
  }
  if (!(steps & kLagDown) && (steps & kLagUp)) return PartitionStatus::kWarn;
  return PartitionStatus::kOk;
}

GroupStatus Aggregate(const std::vector<PartitionStatus>& statuses) {
  GroupStatus g = GroupStatus::kOk;
  for (auto s : statuses) {
    if (s == PartitionStatus::kStop || s == PartitionStatus::kStall || s == PartitionStatus::kRewind)
      return GroupStatus::kErr;
    if (s == PartitionStatus::kWarn) g = GroupStatus::kWarn;
  }
  return g;
}

}  // namespace dora
