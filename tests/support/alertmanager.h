#pragma once
// For the Alertmanager push tests (alerting/notifier.h):
//   HookServer: an HTTP server on 127.0.0.1 that records every POST (path,
//     headers, body) and answers a status the test sets: a fake Alertmanager
//     for unit tests, and the webhook receiver of a real one.
//   AlertmanagerProcess: Debian's prometheus-alertmanager on a loopback port,
//     with config/alertmanager.yml whose webhooks point at a HookServer and
//     whose group_wait/group_interval are shortened; stopped by the destructor.
//   TestAlerts: an AlertSource whose snapshot the test replaces.
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alerting/alert.h"

namespace httplib {
class Server;
}

namespace dora::test {

class HookServer {
 public:
  struct Post {
    std::string path;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::chrono::steady_clock::time_point at;  // when it arrived (for latencies)
  };
  HookServer();
  ~HookServer();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The status of every later answer (200 at first).
  void SetStatus(int status);
  std::vector<Post> posts() const;
  // Waits until `pred(posts)` holds or `timeout` passes; returns whether it held.
  bool WaitFor(const std::function<bool(const std::vector<Post>&)>& pred, std::chrono::milliseconds timeout);

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = -1;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Post> posts_;
  int status_ = 200;
};

class AlertmanagerProcess {
 public:
  // The installed binary, or "" (the tests are then skipped with a message).
  static std::string Binary();
  // Does not start it: Start() does (so a test can send before it runs).
  AlertmanagerProcess(int webhook_port, int port = 0);
  ~AlertmanagerProcess();
  // Starts it and waits (bounded) for /-/ready; false with log() on failure.
  bool Start(std::chrono::seconds timeout = std::chrono::seconds(20));
  void Stop();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const;
  // GET /api/v2/alerts, parsed as a JSON text (empty on failure).
  std::string Alerts() const;

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

class TestAlerts : public alerting::AlertSource {
 public:
  TestAlerts() : current_(std::make_shared<alerting::AlertsSnapshot>()) {}
  std::shared_ptr<const alerting::AlertsSnapshot> Current() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }
  // Publishes `alerts` as the next generation, evaluated now.
  void Set(std::vector<alerting::Alert> alerts) {
    auto next = std::make_shared<alerting::AlertsSnapshot>();
    next->alerts = std::move(alerts);
    next->evaluated_at = std::chrono::system_clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    next->generation = current_->generation + 1;
    current_ = std::move(next);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const alerting::AlertsSnapshot> current_;
};

}  // namespace dora::test
