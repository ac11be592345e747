#pragma once
// Coordinator-bound group requests (OffsetFetch through
// rd_kafka_ListConsumerGroupOffsets, DescribeGroups through
// rd_kafka_DescribeConsumerGroups), one group per call, on one long-lived
// queue that outlives the run that sent them.
//
// Why not a queue per run with the run's deadline as the request timeout:
// librdkafka 2.0.2 aborts the process (rd_kafka_enq_once_del_source_return:
// `eonce->refcnt > 0`) when a coordinator-bound admin request times out while
// it still waits for its coordinator, and that coordinator is later found:
// rd_kafka_admin_coord_request() frees the request's eonce, then
// rd_kafka_coord_req_fail() queues a reply that points at it. Its coordinator
// wait (rd_kafka_coord_req_t) has no timeout of its own. A group whose
// coordinator broker is down is exactly that case. So every request here
// carries librdkafka's longest request timeout (1 h) and is never abandoned
// inside librdkafka; the run waits for answers until its own deadline only,
// and an answer that arrives later is taken by the next run.
//
// A coordinator wait can also stall for good: it is woken only by broker state
// changes (librdkafka's "rely on state broadcast to trigger retry"), and once
// the dead broker has left the metadata nothing changes any more. So a group
// whose newest request is older than one run's budget is asked again, up to
// kMaxPendingPerGroup outstanding, and the whole at most max_pending(); past
// either, the group is not asked (it comes back with an error, as a timeout
// would) and starved() says so. The owner then replaces the handle
// (RdKafkaApi): a handle destroyed before librdkafka's hour fails its waiting
// requests cleanly.
//
// Not thread-safe: one collector thread uses it. It must be destroyed before
// the KafkaClient it was given.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kafka/client.h"
#include "kafka/groups.h"
#include "kafka/handle.h"

namespace dora {

class GroupRequests {
 public:
  // librdkafka's longest admin request timeout.
  static constexpr Millis kRequestTimeout{3600 * 1000};
  static constexpr int kMaxPendingPerGroup = 4;

  // `max_pending` bounds the requests outstanding at once across runs.
  explicit GroupRequests(KafkaClient& client, size_t max_pending = 4096);
  ~GroupRequests();
  GroupRequests(const GroupRequests&) = delete;
  GroupRequests& operator=(const GroupRequests&) = delete;

  // Committed offsets of `groups`, in that order, up to `max_in_flight` of
  // this run's requests outstanding at once. A group without an answer by the
  // deadline has error RD_KAFKA_RESP_ERR__TIMED_OUT.
  std::vector<GroupOffsets> FetchCommittedOffsets(const std::vector<std::string>& groups, int max_in_flight,
                                                  Millis timeout);

  // DescribeConsumerGroups of `groups`, in that order. A group without an
  // answer has error RD_KAFKA_RESP_ERR__TIMED_OUT and an empty state.
  std::vector<GroupDescription> DescribeGroups(const std::vector<std::string>& groups, int max_in_flight,
                                               Millis timeout);

  // Requests sent and not answered yet, and the age of the oldest of them.
  size_t pending() const { return pending_.size(); }
  Millis oldest_pending() const;
  size_t max_pending() const { return max_pending_; }
  // A group was left unasked because of the bounds above.
  bool starved() const { return starved_; }

 private:
  enum class Kind { kOffsets, kDescribe };
  struct Pending {
    Kind kind;
    std::string group;
    std::chrono::steady_clock::time_point sent;
  };
  // Sends one request per group (unless the group has enough outstanding
  // already), then serves answers until each group has a good one or the
  // deadline passes. `take(i, event)` parses an answer for groups[i] and
  // returns whether it was a good one (a later answer may replace a bad one).
  void Exchange(Kind kind, const std::vector<std::string>& groups, int max_in_flight, Millis timeout,
                const std::function<bool(size_t, rd_kafka_event_t*)>& take);
  bool Send(Kind kind, const std::string& group, uint64_t id);

  KafkaClient& client_;
  size_t max_pending_;
  QueuePtr queue_;
  uint64_t next_id_ = 1;
  bool starved_ = false;
  std::map<uint64_t, Pending> pending_;  // by request id (the admin opaque)
};

// Parses one ListConsumerGroupOffsets result event into `out` (exposed for
// the free FetchCommittedOffsets). Returns false and sets out->error on error.
bool ParseCommittedOffsets(rd_kafka_event_t* ev, GroupOffsets* out);

}  // namespace dora
