#pragma once
// Incident events from the evaluator's transitions to Kafka
// (docs/incident-events.md):
//
//   evaluator --Submit()--> bounded hand-off --writer thread--> spool (fsync)
//                                                    --publisher thread--> Kafka
//
// Submit() is what the evaluator calls (under its lock): it copies the alert
// into a bounded queue and returns; it never waits on the disk or Kafka. The
// writer thread turns transitions into events (a random event id, assigned
// once here, before spooling; the incident's sequence number; the cluster id
// and instance), appends them to the spool and syncs; an event is accepted
// once synced. It also makes the re-notifications of incidents still firing,
// every renotify_interval, with the alert's current value. The publisher
// (incidents/publisher.h) produces what the spool holds.
//
// Restarts: the open incidents (id, times, sequence) are kept in the spool
// directory (open-incidents.json, replaced atomically after each append). A
// restarted daemon continues one when its alert fires again (a `renotified`
// event with the same incident id, then `closed`), and closes one whose alert
// is not pending or firing once orphan_grace has passed (close_reason
// "restart": the daemon did not see it resolve).
//
// Re-notifications: off with renotify_interval 0. They are what the spool
// refuses first when it fills (at half of max_bytes); opened and closed
// events are refused only at max_bytes. When the spool cannot be written
// (disk full, I/O error), events wait in memory (at most queue_capacity,
// re-notifications dropped first) and the append is retried with backoff.
// Every drop is counted (kafka_exporter_incident_events_dropped_total) and
// logged at most once a minute.
//
// Thread-safe.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "alerting/alert.h"
#include "config/config.h"
#include "incidents/event.h"
#include "incidents/metrics.h"
#include "incidents/publisher.h"
#include "incidents/spool.h"

namespace dora::incidents {

struct PipelineOptions {
  IncidentsConfig config;
  // Re-notifications read each firing alert's current value here; may be null (none then).
  const alerting::AlertSource* alerts = nullptr;
  // The Kafka cluster id ("" while unknown); called from the writer thread.
  std::function<std::string()> cluster_id;
  PublisherOptions publisher;  // make_producer must be set
  size_t queue_capacity = 10000;
  // After a restart, how long an incident left open waits for its alert to
  // fire again before it is closed with close_reason "restart" (the longest
  // `for` plus a few evaluations; the App computes it).
  Millis orphan_grace{600000};
  Millis initial_backoff{1000};  // spool open/append retries
  Millis max_backoff{60000};
  std::function<SysTime()> clock = &std::chrono::system_clock::now;
};

class Pipeline {
 public:
  // `metrics` (optional) outlives the pipeline.
  Pipeline(PipelineOptions options, IncidentMetrics* metrics);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Opens the spool (a failure is logged and retried by the writer), then
  // starts the writer and, once the spool is open, the publisher.
  void Start();
  // An alert that started firing (state kFiring) or resolved (kResolved), or
  // a firing one dropped by a reload (`dropped`). Never blocks.
  void Submit(const alerting::Alert& alert, bool dropped);
  // The writer appends what it holds (one try), then the publisher stops
  // (waiting up to its `drain` for deliveries in flight).
  void Stop();

  // Events accepted (synced) since Start (tests).
  uint64_t accepted() const { return accepted_.load(); }
  // The spool directory in use (the config's).
  const std::string& directory() const { return options_.config.spool.directory; }

 private:
  struct Transition {
    alerting::Alert alert;
    bool dropped = false;
    SysTime at{};
  };
  // An open incident: what its next event needs, also after a restart.
  struct Open {
    std::string incident_id;
    SysTime detected_at{};
    SysTime started_at{};
    SysTime alert_active_at{};  // the evaluator's pending start of the episode it follows
    uint64_t next_sequence = 1;
    SysTime last_event{};
    Labels annotations;  // for a close after a restart
    double value = 0;
  };
  struct Ready {
    IncidentEvent event;
    std::string json;
  };
  void WriterLoop();
  Ready Make(IncidentEvent e);
  void MakeRenotifications(SysTime now, std::deque<Ready>* out);
  bool OpenSpool(bool log_failure);
  void TryAppend(std::deque<Ready>* ready, bool final_try);
  void CloseOrphans(SysTime now, std::deque<Ready>* out);
  void LoadOpen();
  void StoreOpen();
  void CountDrop(EventType t, const char* reason);

  const PipelineOptions options_;
  IncidentMetrics* metrics_;
  std::string instance_;
  std::atomic<uint64_t> accepted_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Transition> queue_;
  bool stopping_ = false;

  std::mutex drop_mu_;  // drops come from Submit's callers and the writer
  uint64_t dropped_ = 0;
  std::chrono::steady_clock::time_point last_drop_log_{};

  // Writer thread only.
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<Publisher> publisher_;
  std::map<alerting::Labels, Open> open_;  // incidents open (firing), by alert identity
  // Incidents a previous run left open, not seen firing since: continued
  // when their alert fires again, closed (close_reason "restart") when it
  // does not by orphan_deadline_.
  std::map<alerting::Labels, Open> orphans_;
  SysTime orphan_deadline_{};
  bool open_dirty_ = false;  // open_ or orphans_ changed since StoreOpen
  std::chrono::steady_clock::time_point retry_at_{};
  Millis backoff_;
  bool spool_failing_ = false;
  std::thread writer_;
};

}  // namespace dora::incidents
