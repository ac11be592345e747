#pragma once
// Runs the real dora-kafka-exporter binary for integration tests: on a free
// loopback port, output captured to a file, stopped (SIGTERM, then SIGKILL)
// by the destructor.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "support/metrics_text.h"

namespace dora::test {

int FreePort();
// "--kafka.server=127.0.0.1:<a free port>": a broker address nothing answers on.
std::string DeadBroker();

struct HttpReply {
  int status = 0;  // 0: no connection
  std::string body;
  std::string content_encoding;
};
HttpReply HttpGet(int port, const std::string& path, bool gzip = false);

class Daemon {
 public:
  // Starts the binary with `args` plus --web.listen-address=127.0.0.1:<free port>.
  explicit Daemon(std::vector<std::string> args);
  ~Daemon();
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Waits until /healthz answers (bounded).
  bool WaitHealthy(std::chrono::seconds timeout = std::chrono::seconds(20));
  std::string Metrics();
  std::vector<Sample> Samples() { return ParseExposition(Metrics()); }
  // Polls /metrics until `pred` holds or the timeout passes; returns the last samples.
  bool WaitFor(const std::function<bool(const std::vector<Sample>&)>& pred, std::chrono::seconds timeout,
               std::vector<Sample>* last = nullptr);
  void Signal(int sig);
  // Waits for exit; returns the exit status or -1 on timeout.
  int Wait(std::chrono::seconds timeout);
  bool Running();
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
  int exit_code_ = -2;
};

// Runs the binary to completion (bounded), capturing stdout and stderr.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
RunResult RunExporter(const std::vector<std::string>& args,
                      std::chrono::seconds timeout = std::chrono::seconds(60));

}  // namespace dora::test
