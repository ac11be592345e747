#include "app/app.h"

#include <signal.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <thread>

#include "alerting/api_json.h"
#include "config/flatten.h"
#include "config/loader.h"
#include "http/status_page.h"
#include "http/web_config.h"
#include "incidents/avro.h"
#include "incidents/avro_registry.h"
#include "kafka/event_producer.h"
#include "util/log.h"

namespace dora {
namespace {

// The alerting keys that change what the notifier does (the endpoints' credentials included).
std::string FlattenAlerting(const Config& c) {
  std::string out = FormatDuration(c.alerting.resend_delay) + "\n";
  for (const auto& [k, v] : c.alerting.external_labels) out += k + "=" + v + "\n";
  return out;
}

// Every incidents.* key and value (they apply at start only).
FlatConfig IncidentsKeys(const Config& c) {
  FlatConfig out;
  for (auto& kv : FlattenConfig(c))
    if (kv.first.rfind("incidents.", 0) == 0) out.push_back(std::move(kv));
  return out;
}

std::vector<std::string> NotifierEndpoints(const Config& c) {
  std::vector<std::string> out;
  for (const auto& e : c.alerting.alertmanagers) {
    for (const std::string* field : {&e.name, &e.url, &e.username, &e.password_file, &e.password_env,
                                     &e.bearer_token_file, &e.ca_file, &e.cert_file, &e.key_file})
      out.push_back(*field);
    out.push_back(e.insecure_skip_verify ? "1" : "0");
    out.push_back(std::to_string(e.timeout.count()));
  }
  return out;
}

}  // namespace

Config LoadEffectiveConfig(const Flags& flags, ConfigErrors* errors) {
  Config config = flags.config_file.empty() ? Config{} : LoadConfigFile(flags.config_file, errors);
  ApplyFlags(flags, &config);
  // Validation messages carry the file:line:column (or flag) of their key.
  if (errors->empty()) ValidateConfig(config, errors);
  // The web config file (TLS, basic auth) is checked here too, so --check-config
  // and start-up reject a bad one (exit 2); its messages name its own file.
  if (!config.web.config_file.empty()) LoadWebConfigFile(config.web.config_file, errors);
  return config;
}

App::App(Config config, Flags flags) : config_(std::move(config)), flags_(std::move(flags)) {
  evaluator_ = std::make_unique<alerting::Evaluator>(AlertingConfig{}, &store_);
  // The evaluator is the alert source of /api/v1/alerts and the notifier.
  evaluator_->OnPublish([this] { AlertsPublished(); });
  // Incident events: every firing and resolution, queued without waiting.
  evaluator_->OnTransition([this](const alerting::Alert& alert, bool dropped) {
    if (incidents_) incidents_->Submit(alert, dropped);
  });
  UseAlertSource(evaluator_.get());
  ConfigureAlerting(config_);
  self_.SetShard(config_.sharding.index, config_.sharding.count);
}

void App::ConfigureAlerting(const Config& config) {
  if (config.alerting.enabled) {
    evaluator_->Configure(config.alerting);
    return;
  }
  // Off: no rule, no state, no ALERTS series.
  AlertingConfig none;
  none.rules.clear();
  evaluator_->Configure(none);
  store_.Remove(alerting::kAlertsEntry);
}

App::~App() {
  if (http_) http_->Stop();
  StopNotifier();
  StopCollectors();
  StopIncidents();
}

void App::StartIncidents() {
  if (!config_.incidents.enabled) return;
  if (!config_.alerting.enabled)
    GetLogger("app")->warn(
        "incidents.enabled is set but alerting.enabled is false: no incident events are made");
  if (!incident_metrics_) incident_metrics_ = std::make_unique<incidents::IncidentMetrics>(*self_.registry());
  incidents::PipelineOptions options;
  options.config = config_.incidents;
  options.alerts = evaluator_.get();
  options.cluster_id = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    auto view = deps_.cluster_state ? deps_.cluster_state->Get() : nullptr;
    return view ? view->metadata.cluster_id : std::string();
  };
  options.initial_backoff = config_.retry.initial_backoff;
  options.max_backoff = config_.retry.max_backoff;
  // An incident left open by the previous run waits this long for its alert
  // to fire again: the longest `for` plus three evaluations.
  Millis longest_for{0};
  for (const auto& rule : config_.alerting.rules)
    if (rule.second.enabled) longest_for = std::max(longest_for, rule.second.for_duration);
  options.orphan_grace = longest_for + 3 * alerting::NotifierOptionsFrom(config_).evaluation_interval;
  options.publisher.make_producer = [kafka = config_.kafka, topic = config_.incidents.topic,
                                     compression = config_.incidents.compression] {
    return CreateEventProducer(kafka, topic, compression);
  };
  if (config_.incidents.format == "avro") {
    // Avro in the Confluent wire format: the schema is registered on first
    // use (and again after a failure); the spool keeps the JSON.
    auto encoder = incidents::AvroEncoder::Create();
    if (encoder.ok()) {
      auto avro =
          std::make_shared<std::pair<std::unique_ptr<incidents::AvroEncoder>, incidents::AvroRegistration>>(
              std::move(encoder.value()),
              incidents::AvroRegistration(
                  config_.incidents.schema_registry,
                  incidents::AvroSubject(config_.incidents.subject_name_strategy, config_.incidents.topic)));
      options.publisher.encode = [avro](const std::string& json) -> Result<std::string> {
        auto id = avro->second.Id();
        if (!id.ok()) return id.status();
        return avro->first->EncodeFramed(json, id.value());
      };
    } else {  // not expected: libavro refused the built-in schema; events wait in the spool
      options.publisher.encode = [status = encoder.status()](const std::string&) -> Result<std::string> {
        return status;
      };
    }
  }
  options.publisher.initial_backoff = config_.retry.initial_backoff;
  options.publisher.max_backoff = config_.retry.max_backoff;
  options.publisher.metrics_changed = [this] { PublishSelf(); };
  incidents_ = std::make_unique<incidents::Pipeline>(std::move(options), incident_metrics_.get());
  incidents_->Start();
}

void App::StopIncidents() {
  if (incidents_) incidents_->Stop();  // the writer syncs what it holds; deliveries in flight get 1 s
  incidents_.reset();
}

void App::StartNotifier() {
  StopNotifier();
  if (alert_source_ == nullptr || config_.alerting.alertmanagers.empty()) return;
  if (!notifier_metrics_) notifier_metrics_ = std::make_unique<alerting::NotifierMetrics>(*self_.registry());
  alerting::NotifierOptions options = alerting::NotifierOptionsFrom(config_);
  options.metrics_changed = [this] { PublishSelf(); };
  auto notifier =
      std::make_unique<alerting::Notifier>(alert_source_, std::move(options), notifier_metrics_.get());
  notifier->Start();
  std::lock_guard<std::mutex> lock(notifier_mu_);
  notifier_ = std::move(notifier);
}

void App::StopNotifier() {
  std::unique_ptr<alerting::Notifier> notifier;
  {
    std::lock_guard<std::mutex> lock(notifier_mu_);
    notifier = std::move(notifier_);
  }
  if (notifier) notifier->Stop();  // aborts its requests in flight: within the shutdown budget
}

void App::AlertsPublished() {
  std::lock_guard<std::mutex> lock(notifier_mu_);
  if (notifier_) notifier_->Wake();
}

void App::BlockSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

Status App::StartCollectors() {
  CollectorDeps deps;
  auto runner = BuildRunner(config_, &deps);
  if (!runner.ok()) return runner.status();
  if (Status s = runner.value()->Start(); !s.ok) return s;
  std::lock_guard<std::mutex> lock(mu_);
  runner_ = std::move(runner.value());
  deps_ = std::move(deps);
  return Status::Ok();
}

Result<std::unique_ptr<CollectorRunner>> App::BuildRunner(const Config& config, CollectorDeps* deps) {
  deps->self = &self_;
  auto collectors = BuildCollectors(config, deps);
  if (!collectors.ok()) return collectors.status();
  auto runner =
      std::make_unique<CollectorRunner>(std::move(collectors.value()), &store_, &self_, config.retry);
  // Always: the status page reads the evaluator's samples even with alerting
  // off (the evaluator then has no rules).
  runner->SetInputSink(evaluator_.get());
  return runner;
}

void App::StopCollectors() {
  std::unique_ptr<CollectorRunner> runner;
  {
    std::lock_guard<std::mutex> lock(mu_);
    runner = std::move(runner_);
  }
  if (runner) runner->Stop();
  runner.reset();
  std::lock_guard<std::mutex> lock(mu_);
  deps_ = CollectorDeps{};  // the Kafka client goes last
}

std::string App::RenderMetrics() const { return store_.Render(); }

void App::PublishSelf() { self_.PublishTo(&store_); }

int App::RunOnce(std::string* out) {
  auto runner = BuildRunner(config_, &deps_);
  if (!runner.ok()) {
    GetLogger("app")->error("{}", runner.status().message);
    return 1;
  }
  bool ok = runner.value()->RunOnce();
  *out = RenderMetrics();
  return ok ? 0 : 1;
}

bool App::Reload() {
  auto log = GetLogger("app");
  auto fail = [&](const std::string& why) {
    log->error("configuration reload failed; keeping the previous configuration{}{}", why.empty() ? "" : ": ",
               why);
    self_.RecordReload(false);
    PublishSelf();
    return false;
  };
  ConfigErrors errors;
  Config next = LoadEffectiveConfig(flags_, &errors);
  if (!errors.empty()) {
    for (const auto& e : errors.errors) log->error("reload rejected: {}", e);
    return fail("");
  }
  if (next.web.listen_address != config_.web.listen_address ||
      next.web.telemetry_path != config_.web.telemetry_path ||
      next.web.config_file != config_.web.config_file)
    log->warn(
        "web.listen_address, web.telemetry_path and web.config_file changes need a restart; keeping the "
        "current ones (the web config file's content is re-read when it changes)");
  next.web = config_.web;
  if (IncidentsKeys(next) != IncidentsKeys(config_))
    log->warn("incidents.* changes need a restart; keeping the current ones");
  next.incidents = config_.incidents;
  // The new collectors and their Kafka client are built while the old ones
  // still run; the store keeps every entry until its new collector's first
  // run replaces it, so no scrape sees a gap (entries of collectors the new
  // config drops are removed once the new ones run).
  CollectorDeps next_deps;
  auto built = BuildRunner(next, &next_deps);
  if (!built.ok()) return fail(built.status().message);
  std::unique_ptr<CollectorRunner> next_runner = std::move(built.value());
  std::unique_ptr<CollectorRunner> old_runner;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old_runner = std::move(runner_);
  }
  if (old_runner) old_runner->Stop();
  if (Status s = next_runner->Start(); !s.ok) {
    // Keep serving what ran before: the previous collectors resume.
    if (old_runner && !old_runner->Start().ok) log->error("the previous collectors could not be restarted");
    std::lock_guard<std::mutex> lock(mu_);
    runner_ = std::move(old_runner);
    return fail(s.message);
  }
  const std::vector<std::string> kept = next_runner->names();
  CollectorDeps old_deps;
  {
    std::lock_guard<std::mutex> lock(mu_);
    runner_ = std::move(next_runner);
    old_deps = std::move(deps_);
    deps_ = std::move(next_deps);
  }
  if (old_runner) {
    for (const auto& name : old_runner->names()) {
      if (std::find(kept.begin(), kept.end(), name) != kept.end()) continue;
      store_.Remove(name);
      store_.Remove(name + kLiveSuffix);
      evaluator_->Forget(name);
    }
  }
  old_runner.reset();
  old_deps = CollectorDeps{};  // the old Kafka client goes last
  SetupLogging(next.log.level, next.log.format);
  const bool alerting_changed = FlattenAlerting(next) != FlattenAlerting(config_) ||
                                NotifierEndpoints(next) != NotifierEndpoints(config_);
  // Alerts of rules still enabled keep their state; the new thresholds,
  // `for` and labels apply from the next evaluation on.
  ConfigureAlerting(next);
  config_ = std::move(next);
  self_.SetShard(config_.sharding.index, config_.sharding.count);
  if (alerting_changed) StartNotifier();  // the new Alertmanagers; firing alerts are re-sent at once
  self_.RecordReload(true);
  PublishSelf();
  log->info("configuration reloaded");
  return true;
}

int App::Run() {
  auto log = GetLogger("app");
  HttpHandlers handlers;
  // Every scrape between two publishes shares one body (and one gzip of it).
  handlers.metrics = [this](bool gzip) { return gzip ? store_.SharedGzip() : store_.Shared(); };
  handlers.ready = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    return runner_ && runner_->AllRanOnce();
  };
  if (alert_source_ != nullptr) {
    handlers.alerts = [this] { return alerting::RenderAlertsApi(*alert_source_->Current()); };
  }
  StatusPageOptions page;
  page.telemetry_path = config_.web.telemetry_path;  // fixed until a restart
  handlers.status_page = [this, page] {
    auto alerts = alert_source_ != nullptr ? alert_source_->Current()
                                           : std::make_shared<const alerting::AlertsSnapshot>();
    return RenderStatusPage(evaluator_->Status(), *alerts, std::chrono::system_clock::now(), page);
  };
  handlers.web_config_reloaded = [this](bool applied) {
    self_.RecordWebConfigReload(applied);
    PublishSelf();
  };
  http_ = std::make_unique<HttpServer>(config_.web, handlers);
  if (Status s = http_->Bind(); !s.ok) {
    log->error("{}", s.message);
    return 1;
  }
  StartIncidents();
  if (Status s = StartCollectors(); !s.ok) {
    log->error("{}", s.message);
    return 1;
  }
  if (!config_.alerting.enabled && !config_.alerting.alertmanagers.empty())
    log->warn("alerting.alertmanagers is set but alerting.enabled is false: nothing is pushed");
  StartNotifier();
  std::atomic<bool> http_failed{false};
  std::thread http_thread([&] {
    if (!http_->Serve() && !stop_requested_.load()) http_failed.store(true);
  });
  log->info("listening on {}:{} (metrics at {})", http_->host(), http_->port(), config_.web.telemetry_path);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  while (!stop_requested_.load() && !http_failed.load()) {
    timespec ts{0, 200 * 1000 * 1000};
    int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig == SIGHUP) {
      log->info("SIGHUP: reloading configuration");
      Reload();
    } else if (sig == SIGINT || sig == SIGTERM) {
      log->info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
  }
  // A graceful stop waits for the Kafka calls in flight (each bounded by its
  // collector's timeout) and for librdkafka to close. With a frozen broker
  // that took up to 16 s; past the budget the process leaves anyway: it holds
  // nothing that needs flushing: the probe's messages are its own, and the
  // incident events are in their spool (synced) until Kafka acknowledged them.
  const int code = http_failed.load() ? 1 : 0;
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(done_mu);
    if (done_cv.wait_for(lock, kShutdownBudget, [&] { return done; })) return;
    log->warn("shutdown still waiting on Kafka after {}; exiting now", FormatDuration(kShutdownBudget));
    FlushLogs();
    std::_Exit(code);
  });
  http_->Stop();
  http_thread.join();
  StopNotifier();
  StopCollectors();
  StopIncidents();
  {
    std::lock_guard<std::mutex> lock(done_mu);
    done = true;
  }
  done_cv.notify_all();
  watchdog.join();
  log->info("stopped");
  return code;
}

}  // namespace dora
