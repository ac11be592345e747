#pragma once
// Pushes the daemon's alerts to every configured Alertmanager through its API
// v2 (POST /api/v2/alerts), as Prometheus's notifier does:
//   - after each new snapshot (Wake()) and on a timer (poll_interval), the
//     alerts that need sending are queued: a firing alert when it starts
//     firing and then every resend_delay; a resolved one when it resolves and
//     then every resend_delay for as long as the snapshot lists it (15 min);
//     a pending one never;
//   - startsAt is when the alert became firing; endsAt is the resolve time,
//     or while firing the send time + 4 x max(evaluation interval,
//     resend_delay), so Alertmanager resolves it by itself if the daemon dies;
//   - labels are the alert's plus external_labels, which never override;
//   - each Alertmanager has its own bounded queue (the oldest dropped first;
//     alerts/send_queue.h) and its own sender thread, which posts batches of
//     at most max_batch alerts and retries a failed batch with exponential
//     backoff (initial_backoff doubling up to max_backoff); a batch the
//     Alertmanager rejects as invalid (HTTP 400, 413, 422) is dropped. Every
//     drop is counted (kafka_exporter_notifications_dropped_total) and logged.
// It reads snapshots from an AlertSource and never blocks whoever publishes
// them: Wake() only sets a flag. Stop() cancels the requests in flight and
// returns within a few milliseconds.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "alerting/alert.h"
#include "alerting/notifier_metrics.h"
#include "config/config.h"

namespace dora::alerting {

struct NotifierOptions {
  std::vector<AlertmanagerEndpoint> alertmanagers;
  Millis resend_delay{60000};
  std::map<std::string, std::string> external_labels;
  Millis evaluation_interval{15000};  // for endsAt
  std::string generator_url;          // sent as generatorURL when set
  size_t queue_capacity = 10000;      // alerts waiting per Alertmanager
  size_t max_batch = 256;             // alerts per POST
  Millis poll_interval{1000};         // snapshot check without a Wake()
  Millis initial_backoff{1000};
  Millis max_backoff{60000};
  // Called from the notifier's thread (at most once per poll_interval) when
  // its metrics changed: the daemon republishes its self metrics.
  std::function<void()> metrics_changed;
};

// The options from the daemon's configuration: alerting.*, retry.* for the
// backoff, and the longest enabled collector interval as the evaluation interval.
NotifierOptions NotifierOptionsFrom(const Config& config);

class Notifier {
 public:
  // `source` and `metrics` (optional) outlive the notifier.
  Notifier(const AlertSource* source, NotifierOptions options, NotifierMetrics* metrics);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void Start();
  // A new snapshot is out: check it now. Never blocks.
  void Wake();
  // Stops the threads; requests in flight are aborted, queued alerts dropped
  // (not counted: the daemon is going away). Idempotent.
  void Stop();

  // Alerts waiting for Alertmanager `index` (tests).
  size_t queued(size_t index) const;

 private:
  struct Instance;
  struct SentRecord {
    SysTime last_sent;
    AlertState state;
    SysTime fired_at;
  };
  void DispatchLoop();
  void Dispatch(const AlertsSnapshot& snapshot, SysTime now);
  std::string Payload(const Alert& alert, SysTime now) const;
  void SendLoop(Instance& in);

  const AlertSource* source_;
  const NotifierOptions options_;
  NotifierMetrics* metrics_;
  std::vector<std::unique_ptr<Instance>> instances_;
  std::unordered_map<std::string, SentRecord> sent_;  // by identity; dispatcher thread only

  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = true;  // the first check runs at once
  std::atomic<bool> stopping_{false};
  std::atomic<bool> metrics_dirty_{false};
  std::thread dispatcher_;
};

}  // namespace dora::alerting
