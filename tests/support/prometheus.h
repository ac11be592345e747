#pragma once
// Debian's prometheus on a loopback port for integration tests: scrapes one
// target every second and evaluates the shipped rules/dora-kafka.rules.yml with
// `for:` shortened to 3s (as tests/chain/run_chain.py does: the expressions,
// thresholds and labels are the shipped ones). Killed by the destructor.
#include <sys/types.h>

#include <chrono>
#include <string>

namespace dora::test {

class PrometheusProcess {
 public:
  // False when no prometheus binary is on PATH (the tests skip with a warning).
  static bool Installed();
  // Writes its config and the shortened rules under `dir` and starts it.
  PrometheusProcess(const std::string& dir, int target_port);
  ~PrometheusProcess();
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;
  // Waits (bounded) for /-/ready.
  bool WaitReady(std::chrono::seconds timeout);
  // True while ALERTS{alertname, alertstate="firing", <label>="<value>"} exists.
  bool Firing(const std::string& alertname, const std::string& label, const std::string& value);
  std::string log() const;
  int port() const { return port_; }

 private:
  int port_;
  std::string log_;
  pid_t pid_ = -1;
};

}  // namespace dora::test
