#pragma once
// App owns the collectors runner and the HTTP server, handles signals
// (SIGTERM/SIGINT: graceful stop; SIGHUP: reload) and the shutdown order:
// HTTP first (no new scrapes), then collectors, then the Kafka client.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "alerting/alert.h"
#include "alerting/evaluator.h"
#include "alerting/notifier.h"
#include "alerting/notifier_metrics.h"
#include "app/flags.h"
#include "collectors/registry.h"
#include "collectors/runner.h"
#include "config/config.h"
#include "config/loader.h"
#include "http/server.h"
#include "incidents/metrics.h"
#include "incidents/pipeline.h"
#include "metrics/self_metrics.h"
#include "metrics/snapshot_store.h"

namespace dora {

// Loads the config file named by the flags (or the defaults), applies flag
// overrides and validates. Errors are complete and printable.
Config LoadEffectiveConfig(const Flags& flags, ConfigErrors* errors);

// How long a SIGTERM/SIGINT stop may take before the process exits anyway.
inline constexpr Millis kShutdownBudget = std::chrono::milliseconds(4000);

class App {
 public:
  App(Config config, Flags flags);
  ~App();

  // Serves until SIGTERM/SIGINT or RequestStop(). Signals must be blocked in
  // every thread by the caller (BlockSignals) before any thread is created.
  // Returns the process exit code (0 clean, 1 runtime failure such as a busy port).
  int Run();
  // Runs every collector once and writes the exposition text to `out`.
  // Returns 0 when all collectors succeeded, 1 otherwise.
  int RunOnce(std::string* out);
  void RequestStop() { stop_requested_.store(true); }
  // Re-reads the config (as SIGHUP does). Returns true if the new one applied.
  bool Reload();
  std::string RenderMetrics() const;
  int port() const { return http_ ? http_->port() : 0; }
  // The alerts the daemon evaluates itself (empty while alerting.enabled is false).
  const alerting::AlertSource& alerts() const { return *evaluator_; }

  static void BlockSignals();

  // Where /api/v1/alerts and the notifier read alerts: the evaluator (set by
  // the constructor; tests may set another before Run()). With
  // alerting.alertmanagers set, the notifier pushes them. `source` outlives Run().
  void UseAlertSource(const alerting::AlertSource* source) { alert_source_ = source; }
  // Tells the notifier a new snapshot is out (the evaluator, after each
  // publish). Never blocks.
  void AlertsPublished();

 private:
  Status StartCollectors();
  // The collectors of `config` (and the Kafka client they share, into *deps).
  Result<std::unique_ptr<CollectorRunner>> BuildRunner(const Config& config, CollectorDeps* deps);
  void PublishSelf();  // the self metrics into the store (after a reload)
  void StopCollectors();
  // (Re)starts the notifier for config_.alerting (none without a source or an Alertmanager).
  void StartNotifier();
  void StopNotifier();
  // Applies config.alerting to the evaluator (start and reload).
  void ConfigureAlerting(const Config& config);
  // The incident events' pipeline when incidents.enabled (started before the
  // collectors, stopped after them, so it sees every transition).
  void StartIncidents();
  void StopIncidents();

  Config config_;
  Flags flags_;
  SelfMetrics self_;
  SnapshotStore store_;
  // Built-in alert evaluation (alerting/evaluator.h); fed by every runner
  // (with alerting.enabled false it has no rules and feeds the status page
  // alone). Outlives every runner.
  std::unique_ptr<alerting::Evaluator> evaluator_;
  std::mutex mu_;  // guards runner_/deps_ against a concurrent reload
  CollectorDeps deps_;
  std::unique_ptr<CollectorRunner> runner_;
  std::unique_ptr<HttpServer> http_;
  std::atomic<bool> stop_requested_{false};
  const alerting::AlertSource* alert_source_ = nullptr;
  std::unique_ptr<alerting::NotifierMetrics>
      notifier_metrics_;  // once: its families live in self_'s registry
  std::mutex notifier_mu_;
  std::unique_ptr<alerting::Notifier> notifier_;
  std::unique_ptr<incidents::IncidentMetrics>
      incident_metrics_;  // once: its families live in self_'s registry
  // Set before the collectors start and reset after they stopped: the
  // evaluator's transition hook reads it from their threads.
  std::unique_ptr<incidents::Pipeline> incidents_;
};

}  // namespace dora
