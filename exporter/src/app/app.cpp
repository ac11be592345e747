#include "app/app.h"

#include <signal.h>

#include <thread>

#include "config/loader.h"
#include "http/web_config.h"
#include "util/log.h"

namespace dora {

Config LoadEffectiveConfig(const Flags& flags, ConfigErrors* errors) {
  Config config = flags.config_file.empty() ? Config{} : LoadConfigFile(flags.config_file, errors);
  ApplyFlags(flags, &config);
  if (errors->empty()) ValidateConfig(config, errors);
  if (!flags.config_file.empty()) {
    // Validation messages name key paths; prefix them with the file for context.
    for (auto& e : errors->errors) {
      if (e.rfind(flags.config_file, 0) != 0) e = flags.config_file + ": " + e;
    }
  }
  // The web config file (TLS, basic auth) is checked here too, so --check-config
  // and start-up reject a bad one (exit 2); its messages name its own file.
  if (!config.web.config_file.empty()) LoadWebConfigFile(config.web.config_file, errors);
  return config;
}

App::App(Config config, Flags flags) : config_(std::move(config)), flags_(std::move(flags)) {}

App::~App() {
  if (http_) http_->Stop();
  StopCollectors();
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
  std::lock_guard<std::mutex> lock(mu_);
  deps_ = CollectorDeps{};
  deps_.self = &self_;
  auto collectors = BuildCollectors(config_, &deps_);
  if (!collectors.ok()) return collectors.status();
  runner_ = std::make_unique<CollectorRunner>(std::move(collectors.value()), &store_, &self_, config_.retry);
  runner_->Start();
  return Status::Ok();
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

void App::PublishSelf() { store_.Publish(kSelfEntry, self_.Render()); }

int App::RunOnce(std::string* out) {
  deps_.self = &self_;
  auto collectors = BuildCollectors(config_, &deps_);
  if (!collectors.ok()) {
    GetLogger("app")->error("{}", collectors.status().message);
    return 1;
  }
  CollectorRunner runner(std::move(collectors.value()), &store_, &self_, config_.retry);
  bool ok = runner.RunOnce();
  *out = RenderMetrics();
  return ok ? 0 : 1;
}

bool App::Reload() {
  auto log = GetLogger("app");
  ConfigErrors errors;
  Config next = LoadEffectiveConfig(flags_, &errors);
  if (!errors.empty()) {
    for (const auto& e : errors.errors) log->error("reload rejected: {}", e);
    log->error("configuration reload failed; keeping the previous configuration");
    self_.RecordReload(false);
    PublishSelf();
    return false;
  }
  if (next.web.listen_address != config_.web.listen_address ||
      next.web.telemetry_path != config_.web.telemetry_path ||
      next.web.config_file != config_.web.config_file)
    log->warn(
        "web.listen_address, web.telemetry_path and web.config_file changes need a restart; keeping the "
        "current ones (the web config file's content is re-read when it changes)");
  next.web.listen_address = config_.web.listen_address;
  next.web.telemetry_path = config_.web.telemetry_path;
  next.web.config_file = config_.web.config_file;
  SetupLogging(next.log.level, next.log.format);
  StopCollectors();
  config_ = std::move(next);
  store_.Clear();
  Status s = StartCollectors();
  if (!s.ok) {
    log->error("configuration reload failed: {}", s.message);
    self_.RecordReload(false);
    PublishSelf();
    return false;
  }
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
  http_ = std::make_unique<HttpServer>(config_.web, handlers);
  if (Status s = http_->Bind(); !s.ok) {
    log->error("{}", s.message);
    return 1;
  }
  if (Status s = StartCollectors(); !s.ok) {
    log->error("{}", s.message);
    return 1;
  }
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
  http_->Stop();
  http_thread.join();
  StopCollectors();
  log->info("stopped");
  return http_failed.load() ? 1 : 0;
}

}  // namespace dora
