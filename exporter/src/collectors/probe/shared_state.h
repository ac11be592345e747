#pragma once
// What the probe's three threads share: the stop signal, the partitions of the
// probe topic (leader, preferred leader, whether the consumer reads them) and
// the problem the collector reports. Thread-safe.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "kafka/types.h"
#include "util/duration.h"
#include "util/status.h"

namespace spdlog {
class logger;
}

namespace dora {

class ProbeSharedState {
 public:
  explicit ProbeSharedState(std::string topic);

  // -- stop signal
  void Stop();
  bool stopping() const { return stop_.load(); }
  // Sleeps up to `d`, waking at once on Stop().
  void Sleep(Millis d);

  // -- partitions
  // The partitions safe to probe (the consumer reads them from a known
  // offset), each with the broker label: its leader, else its preferred leader.
  std::vector<std::pair<int32_t, std::string>> Targets() const;
  // Partitions the consumer does not read yet.
  std::vector<int32_t> Unassigned() const;
  void MarkAssigned(const std::vector<int32_t>& partitions);
  // Replaces the layout with the topic's partitions; known ones stay assigned.
  void SetLayout(const std::vector<PartitionMetadata>& partitions);
  // Forgets every partition; returns those that were assigned.
  std::vector<int32_t> Clear();

  // -- what the collector reports
  // "" when the probe runs; logged when it changes. `cause` is the reason
  // reported with it.
  void SetProblem(const std::string& problem, Reason cause = Reason::kUnavailable);
  // A stopped thread: reported until the collector is rebuilt (reload).
  void Fatal(const std::string& problem);
  // The fatal problem if any, else the current one, as a partial failure
  // (what the probe measured so far still counts); Ok when there is none.
  Status Problem() const;

 private:
  struct Partition {
    int32_t leader = -1;
    int32_t preferred = -1;
    bool assigned = false;  // the consumer reads it from a known offset: safe to probe
  };
  const std::string topic_;
  std::shared_ptr<spdlog::logger> log_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<int32_t, Partition> partitions_;      // guarded by mu_
  std::string problem_;                          // guarded by mu_
  Reason problem_cause_ = Reason::kUnavailable;  // guarded by mu_
  std::string fatal_;                            // guarded by mu_
};

}  // namespace dora
