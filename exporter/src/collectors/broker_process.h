#pragma once
// broker_process: the resource use of the broker this sidecar runs next to,
// read from /proc (no JMX, no agent in the broker). Needs the broker's process
// in view: a shared process namespace (the chart's sidecar mode sets
// shareProcessNamespace), or the same host.
//
// Exports, per broker (label `broker` = collectors.broker_process.broker_id):
// kafka_broker_process_cpu_seconds_total, _cpu_limit_cores, _resident_memory_bytes,
// _virtual_memory_bytes, _threads, _start_time_seconds (/proc/PID/stat and
// status, readable by anyone), _max_fds (limits), _open_fds (fd),
// _read_bytes_total and _written_bytes_total (io),
// _network_receive_bytes_total and _network_transmit_bytes_total{device}
// (net/dev: the pod's interfaces, i.e. the broker's network namespace), and
// _source_readable{file}: 1 or 0 per optional file. /proc/PID/fd and io
// need the broker's uid (ptrace read access): without it those families are
// left out, the readable series says so and the log says it once.
//
// Which process: the PID in collectors.broker_process.pid_file, else the one
// process whose command line runs java with the main class kafka.Kafka; with
// cmdline_regex set, only processes with an argument it matches count (each
// argument searched on its own, those over 4 KiB, a class path, not at all).
// Several candidates are never guessed between: the run fails (reason config)
// naming their PIDs. No process: the run fails (reason unavailable). Either is
// logged once by the runner; the chosen PID is logged at info when it changes.
//
// Requests per run: none. File reads per run: /proc/PID/{stat,status,limits,
// io,net/dev,cgroup}, one stat (or a listing) of /proc/PID/fd, the cgroup's CPU
// quota files; a scan of /proc's command lines only when the broker's PID is
// not known or its process is gone. ACLs: none.
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "collectors/procfs.h"

namespace dora {

// One run's reading of the broker process. Optional members are what may be
// unreadable (or absent on this kernel); `readable` says which optional files
// were read, by name (fd, io, limits, net/dev, cgroup).
struct BrokerProcessSample {
  int pid = 0;
  double cpu_seconds = 0;
  double start_time_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double threads = 0;
  std::optional<double> cpu_limit_cores;  // affinity, lowered by a cgroup quota
  std::optional<double> open_fds;
  std::optional<double> max_fds;
  std::optional<procfs::Io> io;
  std::vector<procfs::NetDev> net;
  std::vector<std::pair<std::string, bool>> readable;
};

// Pure: renders one sample.
void RenderBrokerProcess(const std::string& broker, const BrokerProcessSample& s, MetricsBuilder& out);

// Finds the broker's process and reads it. Not thread-safe: one owner (the
// collector's thread); keeps the PID and start of the process it found.
class BrokerProcessReader {
 public:
  // `cmdline_regex` must compile (the config is validated).
  BrokerProcessReader(const BrokerProcessCollectorConfig& config, procfs::ProcFs fs);
  // One reading. Errors: unavailable (no such process, a pid file that does
  // not name a Kafka broker, stat unreadable), config (several candidates).
  Result<BrokerProcessSample> Read();
  // How the current process was chosen (for the log), "" before the first.
  const std::string& how() const { return how_; }
  // Optional files first found unreadable in the last Read() ("io: Permission denied").
  std::vector<std::string> TakeNewProblems();

 private:
  Result<int> Select();
  Status Check(int pid) const;  // it runs kafka.Kafka (and matches the regex)
  bool Matches(const std::vector<std::string>& argv) const;

  std::string pid_file_;
  std::optional<std::regex> match_;
  std::string match_text_;
  procfs::ProcFs fs_;
  int pid_ = 0;
  uint64_t start_ticks_ = 0;
  std::string how_;
  std::set<std::string> reported_;  // files whose unreadability was logged
  std::vector<std::string> new_problems_;
};

class BrokerProcessCollector : public Collector {
 public:
  explicit BrokerProcessCollector(BrokerProcessCollectorConfig config, procfs::ProcFs fs = procfs::ProcFs());
  std::string name() const override { return "broker_process"; }
  Millis interval() const override { return config_.interval; }
  Millis timeout() const override { return config_.timeout; }
  Status Collect(const CollectContext& ctx, MetricsBuilder& out) override;

 private:
  BrokerProcessCollectorConfig config_;
  BrokerProcessReader reader_;
  int logged_pid_ = 0;
};

}  // namespace dora
