#include "support/alertmanager.h"

#include <httplib.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <cctype>
#include <fstream>
#include <regex>
#include <sstream>

#include "support/daemon.h"

namespace dora::test {

HookServer::HookServer() : server_(std::make_unique<httplib::Server>()) {
  server_->Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
    Post p;
    p.at = std::chrono::steady_clock::now();
    p.path = req.path;
    for (const auto& [k, v] : req.headers) {
      std::string name = k;
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      p.headers[name] = v;
    }
    p.body = req.body;
    int status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      posts_.push_back(std::move(p));
      status = status_;
    }
    cv_.notify_all();
    res.status = status;
    res.set_content(status == 200 ? "" : "{\"error\":\"test\"}", "application/json");
  });
  port_ = server_->bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  for (int i = 0; i < 500 && !server_->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

HookServer::~HookServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

void HookServer::SetStatus(int status) {
  std::lock_guard<std::mutex> lock(mu_);
  status_ = status;
}

std::vector<HookServer::Post> HookServer::posts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return posts_;
}

bool HookServer::WaitFor(const std::function<bool(const std::vector<Post>&)>& pred,
                         std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return pred(posts_); });
}

// ---- AlertmanagerProcess ----

std::string AlertmanagerProcess::Binary() {
  for (const char* path :
       {"/usr/bin/prometheus-alertmanager", "/usr/local/bin/alertmanager", "/usr/bin/alertmanager"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

AlertmanagerProcess::AlertmanagerProcess(int webhook_port, int port) : port_(port == 0 ? FreePort() : port) {
  std::string tmpl = "/tmp/dora-am-XXXXXX";
  dir_ = mkdtemp(tmpl.data());
  std::ifstream in(std::string(DORA_SOURCE_DIR) + "/config/alertmanager.yml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string config = ss.str();
  // The shipped routes, receivers and inhibitions; the webhooks on the test's
  // receiver; notifications within a second instead of after 10 s to 5 min.
  config = std::regex_replace(config, std::regex("127\\.0\\.0\\.1:5001"),
                              "127.0.0.1:" + std::to_string(webhook_port));
  config = std::regex_replace(config, std::regex("group_wait: \\S+"), "group_wait: 1s");
  config = std::regex_replace(config, std::regex("group_interval: \\S+"), "group_interval: 1s");
  std::ofstream(dir_ + "/alertmanager.yml") << config;
}

AlertmanagerProcess::~AlertmanagerProcess() {
  Stop();
  std::string cmd = "rm -rf '" + dir_ + "'";
  if (std::system(cmd.c_str()) != 0) {
  }
}

bool AlertmanagerProcess::Start(std::chrono::seconds timeout) {
  const std::string bin = Binary();
  if (bin.empty() || pid_ > 0) return false;
  const std::vector<std::string> args = {
      bin, "--config.file=" + dir_ + "/alertmanager.yml", "--storage.path=" + dir_,
      "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--cluster.listen-address="};
  const std::string log_path = dir_ + "/alertmanager.log";
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    int out = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(out, 1);
    dup2(out, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  httplib::Client cli("127.0.0.1", port_);
  cli.set_connection_timeout(1, 0);
  cli.set_read_timeout(1, 0);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto res = cli.Get("/-/ready"); res && res->status == 200) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void AlertmanagerProcess::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string AlertmanagerProcess::log() const {
  std::ifstream in(dir_ + "/alertmanager.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string AlertmanagerProcess::Alerts() const {
  httplib::Client cli("127.0.0.1", port_);
  cli.set_connection_timeout(2, 0);
  cli.set_read_timeout(2, 0);
  auto res = cli.Get("/api/v2/alerts");
  return res && res->status == 200 ? res->body : "";
}

}  // namespace dora::test
