#include "support/prometheus.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "support/daemon.h"

namespace dora::test {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

bool PrometheusProcess::Installed() { return std::system("command -v prometheus >/dev/null 2>&1") == 0; }

PrometheusProcess::PrometheusProcess(const std::string& dir, int target_port)
    : port_(FreePort()), log_(dir + "/prometheus.log") {
  std::string rules = Slurp(std::string(DORA_SOURCE_DIR) + "/rules/dora-kafka.rules.yml");
  rules = std::regex_replace(rules, std::regex(R"((\n\s+for:) \S+)"), "$1 3s");
  std::ofstream(dir + "/rules.yml") << rules;
  std::ofstream(dir + "/prometheus.yml") << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                                            "rule_files: ['"
                                         << dir
                                         << "/rules.yml']\n"
                                            "scrape_configs:\n"
                                            "  - job_name: dora-kafka-exporter\n"
                                            "    static_configs: [{targets: ['127.0.0.1:"
                                         << target_port << "'], labels: {cluster: test}}]\n";
  const std::vector<std::string> args = {"prometheus", "--config.file=" + dir + "/prometheus.yml",
                                         "--storage.tsdb.path=" + dir + "/prometheus-data",
                                         "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                         "--log.level=warn"};
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    // A test binary that dies takes its Prometheus with it.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
}

PrometheusProcess::~PrometheusProcess() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {  // bounded: 10 s, then SIGKILL
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

bool PrometheusProcess::WaitReady(std::chrono::seconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (HttpGet(port_, "/-/ready").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

bool PrometheusProcess::Firing(const std::string& alertname, const std::string& label,
                               const std::string& value) {
  // ALERTS{alertname="...",alertstate="firing",<label>="<value>"}, URL-encoded
  // (names and values here are plain: letters, digits, '-', '_').
  const std::string q = "/api/v1/query?query=ALERTS%7Balertname%3D%22" + alertname +
                        "%22%2Calertstate%3D%22firing%22%2C" + label + "%3D%22" + value + "%22%7D";
  const HttpReply r = HttpGet(port_, q);
  return r.status == 200 && r.body.find("\"alertname\":\"" + alertname + "\"") != std::string::npos;
}

std::string PrometheusProcess::log() const { return Slurp(log_); }

}  // namespace dora::test
