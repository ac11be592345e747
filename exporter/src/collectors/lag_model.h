#pragma once
// Pure models behind the consumer_groups collector, unit-tested on their own:
// lag in seconds from the daemon's (time, high watermark) history, and
// Burrow-style partition status over a sliding window of observations.
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dora {

using SteadyTime = std::chrono::steady_clock::time_point;

// (time, high watermark) points of one partition. Runs of the same offset are
// one point (the time the watermark first reached it); at most `max_points`.
class WatermarkHistory {
 public:
  explicit WatermarkHistory(size_t max_points = 60) : max_points_(max_points) {}
  void Add(SteadyTime t, int64_t high);
  // Seconds between `now` and the time the watermark reached `committed`:
  // interpolated between points, extrapolated before the first point from the
  // history's average rate. 0 when committed >= the newest watermark. nullopt
  // when the history cannot tell (fewer than two distinct points).
  std::optional<double> LagSeconds(int64_t committed, SteadyTime now) const;
  size_t size() const { return points_.size(); }

 private:
  size_t max_points_;
  // Oldest first. A vector (shifting at most max_points_ small entries per
  // Add): one per partition, and a std::deque costs ~600 bytes even when
  // it holds one point.
  std::vector<std::pair<SteadyTime, int64_t>> points_;
};

// How long a topic keeps messages by time, in seconds, from its effective
// configs: nullopt when they are unknown, when retention.ms is -1 (no time
// limit) or unparsable, and for a compacted topic whose cleanup.policy has no
// `delete` (its records live until a newer one with the same key). The
// denominator of kafka_consumergroup_lag_retention_ratio.
std::optional<double> TimeRetentionSeconds(const std::map<std::string, std::string>* topic_configs);

// Seconds until retention.ms deletes the oldest unconsumed message of a group
// on a topic, at the current rates (docs/consumer-lag.md, "Time left"): the
// retention left, (retention - lag), divided by how fast that message ages,
// the slope of the topic's largest lag in seconds over `lag_points` ((time,
// lag seconds), oldest first, newest = now). A stopped group ages at 1 s per
// second; one that consumes ages slower (1 - consumed/produced rate), and one
// at least as fast as its producers does not age: +infinity. The slope is
// capped at 1 (no message ages faster than the clock; a steeper slope is the
// largest lag moving to another partition). 0 once the lag reaches the
// retention. nullopt with fewer than two points or no time between them.
std::optional<double> RetentionSecondsLeft(double retention_seconds,
                                           const std::deque<std::pair<SteadyTime, double>>& lag_points);

enum class PartitionStatus { kOk, kWarn, kStall, kStop, kRewind };
enum class GroupStatus { kOk, kWarn, kErr };
const char* ToString(PartitionStatus s);
const char* ToString(GroupStatus s);

// Burrow's rules applied to what the daemon can observe: one observation per
// poll of (committed offset, lag). OffsetFetch carries no commit timestamps, so
// "no commit" is "offset unchanged across the whole window", STOP and STALL
// are told apart by whether a live member owns the partition, and a member
// that moves other partitions in the same window is not stalled.
struct Observation {
  int64_t offset = 0;
  int64_t lag = 0;
};

class StatusWindow {
 public:
  explicit StatusWindow(size_t size = 10);
  // Moving leaves the source an empty window of size 0: Add ignores it,
  // Evaluate says OK, count() is 0. (Its size would otherwise point past the
  // inline buffer once the heap ring moved out.)
  StatusWindow(StatusWindow&& o) noexcept;
  StatusWindow& operator=(StatusWindow&& o) noexcept;
  StatusWindow(const StatusWindow&) = delete;
  StatusWindow& operator=(const StatusWindow&) = delete;
  ~StatusWindow() = default;
  void Add(Observation o);
  // Rules in Burrow's order: (1) lag 0 anywhere in the window: OK; (2) offset
  // went backwards: REWIND; (3) window full and offset never moved while lag > 0:
  // STOP when no member owns the partition; STALL when a member owns it and
  // moved none of its partitions in the window either (`owner_moved` false);
  // a member that commits progress elsewhere is live but slow (a throttled
  // consumer starves some partitions for a while): rule 4 decides; (4) window
  // full and lag never decreased and grew: WARN; (5) OK.
  PartitionStatus Evaluate(bool owned, bool owner_moved = false) const;
  // The committed offset went up within the window (between two of its observations).
  bool Moved() const;
  // Fraction of the window filled (Burrow's "complete"); 0 for a size-0 window.
  double complete() const {
    return size_ == 0 ? 0.0 : static_cast<double>(count_) / static_cast<double>(size_);
  }
  size_t count() const { return count_; }
  // The newest observation; meaningful once count() > 0.
  const Observation& last() const { return last_; }

 private:
  // What the rules need of an observation: whether its lag is 0, and how its
  // offset and lag compare with the observation before it. While the window
  // holds no gap, "offset never moved" is "no step up", and "lag never
  // decreased and grew" is "no step down and some step up".
  enum : uint8_t { kLagZero = 1, kOffsetUp = 2, kOffsetDown = 4, kLagUp = 8, kLagDown = 16 };
  static constexpr size_t kInline = 16;

  // Flags of every observation (`any`) and of every step inside the window (`steps`).
  void Flags(uint8_t* any, uint8_t* steps) const;
  uint8_t* ring() { return heap_ ? heap_.get() : inline_; }
  const uint8_t* ring() const { return heap_ ? heap_.get() : inline_; }

  // The daemon keeps one window per group and partition (200,000 at the
  // bench's L): a byte per observation, in place up to kInline observations
  // (the default window is 10), so a window is 48 bytes and no allocation. It
  // was 16 bytes per observation in a separate block (~200 bytes per window).
  Observation last_;
  std::unique_ptr<uint8_t[]> heap_;  // windows longer than kInline
  uint8_t inline_[kInline] = {};
  uint16_t size_;
  uint16_t count_ = 0;
  uint16_t head_ = 0;  // the oldest observation, once the ring is full
};

// Worst partition status: ERR for any STOP/STALL/REWIND, WARN for any WARN.
GroupStatus Aggregate(const std::vector<PartitionStatus>& statuses);

}  // namespace dora
