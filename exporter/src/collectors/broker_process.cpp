#include "collectors/broker_process.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>

#include "metrics/catalogue.h"
#include "util/file.h"
#include "util/log.h"

namespace dora {
namespace {

// The boot time, read once per proc root for the daemon's life: the kernel
// recomputes btime from the wall clock, so it can move by a second when NTP
// adjusts it, and a start time that moved would read as a restart.
std::optional<uint64_t> BootTime(const procfs::ProcFs& fs) {
  static std::mutex mu;
  static std::map<std::string, uint64_t> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(fs.proc_root());
  if (it != cache.end()) return it->second;
  procfs::ReadResult r = fs.ReadProc("stat");
  if (!r.ok()) return std::nullopt;
  auto bt = procfs::ParseBootTime(r.text);
  if (bt) cache[fs.proc_root()] = *bt;
  return bt;
}

std::string ErrorText(int error) { return std::strerror(error); }

bool Gone(int error) { return error == ENOENT || error == ESRCH; }

// cmdline_regex is searched in each argument on its own, and not in arguments
// longer than this: std::regex recurses once per character a `.*` takes, and a
// JVM's class path argument can be tens of kB (a search of 200 kB overflowed
// an 8 MiB stack in a test).
constexpr size_t kMaxSearchedArgument = 4096;

}  // namespace

void RenderBrokerProcess(const std::string& broker, const BrokerProcessSample& s, MetricsBuilder& out) {
  const std::initializer_list<Label> b = {{"broker", broker}};
  out.Add(out.Family(DORA_METRIC("kafka_broker_process_cpu_seconds_total")), b, s.cpu_seconds);
  if (s.cpu_limit_cores)
    out.Add(out.Family(DORA_METRIC("kafka_broker_process_cpu_limit_cores")), b, *s.cpu_limit_cores);
  out.Add(out.Family(DORA_METRIC("kafka_broker_process_resident_memory_bytes")), b, s.resident_bytes);
  out.Add(out.Family(DORA_METRIC("kafka_broker_process_virtual_memory_bytes")), b, s.virtual_bytes);
  out.Add(out.Family(DORA_METRIC("kafka_broker_process_threads")), b, s.threads);
  if (s.open_fds) out.Add(out.Family(DORA_METRIC("kafka_broker_process_open_fds")), b, *s.open_fds);
  if (s.max_fds) out.Add(out.Family(DORA_METRIC("kafka_broker_process_max_fds")), b, *s.max_fds);
  if (s.io) {
    out.Add(out.Family(DORA_METRIC("kafka_broker_process_read_bytes_total")), b,
            static_cast<double>(s.io->read_bytes));
    out.Add(out.Family(DORA_METRIC("kafka_broker_process_written_bytes_total")), b,
            static_cast<double>(s.io->write_bytes));
  }
  auto rx = out.Family(DORA_METRIC("kafka_broker_process_network_receive_bytes_total"));
  auto tx = out.Family(DORA_METRIC("kafka_broker_process_network_transmit_bytes_total"));
  for (const auto& d : s.net) {
    out.Add(rx, {{"broker", broker}, {"device", d.device}}, static_cast<double>(d.receive_bytes));
    out.Add(tx, {{"broker", broker}, {"device", d.device}}, static_cast<double>(d.transmit_bytes));
  }
  out.Add(out.Family(DORA_METRIC("kafka_broker_process_start_time_seconds")), b, s.start_time_seconds);
  auto readable = out.Family(DORA_METRIC("kafka_broker_process_source_readable"));
  for (const auto& r : s.readable)
    out.Add(readable, {{"broker", broker}, {"file", r.first}}, r.second ? 1 : 0);
}

BrokerProcessReader::BrokerProcessReader(const BrokerProcessCollectorConfig& config, procfs::ProcFs fs)
    : pid_file_(config.pid_file), match_text_(config.cmdline_regex), fs_(std::move(fs)) {
  if (!config.cmdline_regex.empty()) match_.emplace(config.cmdline_regex, std::regex::ECMAScript);
}

bool BrokerProcessReader::Matches(const std::vector<std::string>& argv) const {
  if (!procfs::RunsKafka(argv)) return false;
  if (!match_) return true;
  for (const auto& arg : argv) {
    try {
      if (arg.size() <= kMaxSearchedArgument && std::regex_search(arg, *match_)) return true;
    } catch (const std::regex_error&) {  // error_complexity: no match
    }
  }
  return false;
}

Status BrokerProcessReader::Check(int pid) const {
  procfs::ReadResult r = fs_.ReadPid(pid, "cmdline");
  if (!r.ok())
    return Status::Error(Reason::kUnavailable, "process " + std::to_string(pid) + " named by the pid file " +
                                                   pid_file_ + ": " + ErrorText(r.error));
  if (!procfs::RunsKafka(procfs::SplitCmdline(r.text)))
    return Status::Error(Reason::kUnavailable, "process " + std::to_string(pid) + " named by the pid file " +
                                                   pid_file_ +
                                                   " does not run kafka.Kafka (a stale pid file?)");
  if (!Matches(procfs::SplitCmdline(r.text)))
    return Status::Error(Reason::kUnavailable, "process " + std::to_string(pid) + " named by the pid file " +
                                                   pid_file_ + " does not match cmdline_regex " +
                                                   match_text_);
  return Status::Ok();
}

Result<int> BrokerProcessReader::Select() {
  if (!pid_file_.empty()) {
    auto text = ReadRegularFile(pid_file_, 64);
    if (!text.ok())
      return Status::Error(Reason::kUnavailable, "pid file " + pid_file_ + ": " + text.status().message);
    std::string_view v = text.value();
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ' || v.back() == '\r')) v.remove_suffix(1);
    int pid = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), pid);
    if (ec != std::errc() || end != v.data() + v.size() || pid <= 0)
      return Status::Error(Reason::kUnavailable, "pid file " + pid_file_ + " holds no PID");
    Status ok = Check(pid);
    if (!ok) return ok;
    how_ = "named by the pid file " + pid_file_;
    return pid;
  }
  std::vector<int> found;
  const int self = static_cast<int>(getpid());
  for (int pid : fs_.Pids()) {
    if (pid == self) continue;
    procfs::ReadResult r = fs_.ReadPid(pid, "cmdline");  // a process that just exited: skipped
    if (r.ok() && Matches(procfs::SplitCmdline(r.text))) found.push_back(pid);
  }
  const std::string what =
      match_ ? "runs kafka.Kafka with an argument matching cmdline_regex " + match_text_ : "runs kafka.Kafka";
  if (found.empty())
    return Status::Error(
        Reason::kUnavailable,
        "no process in view " + what + " (in Kubernetes the pod needs shareProcessNamespace: true)");
  if (found.size() > 1) {
    std::string pids;
    for (int p : found) pids += (pids.empty() ? "" : ", ") + std::to_string(p);
    return Status::Error(
        Reason::kConfig,
        std::to_string(found.size()) + " processes " +
            (match_ ? "run kafka.Kafka and match" : "run kafka.Kafka") + " (PIDs " + pids +
            "); set collectors.broker_process.cmdline_regex (e.g. the broker's config path) or "
            "pid_file to choose one");
  }
  how_ = "the one process in view that " + what;
  return found.front();
}

std::vector<std::string> BrokerProcessReader::TakeNewProblems() { return std::exchange(new_problems_, {}); }

Result<BrokerProcessSample> BrokerProcessReader::Read() {
  // The known process while it lives with the same start (its PID could be
  // reused); else it is looked for again, once. A pid file is read every run,
  // so a restart's new PID is taken at once.
  std::optional<procfs::Stat> st;
  for (int attempt = 0; attempt < 2 && !st; ++attempt) {
    const bool cached = pid_ != 0 && pid_file_.empty();
    int pid = pid_;
    if (!cached) {
      auto sel = Select();
      if (!sel.ok()) {
        pid_ = 0;
        return sel.status();
      }
      pid = sel.value();
    }
    procfs::ReadResult r = fs_.ReadPid(pid, "stat");
    st = r.ok() ? procfs::ParseStat(r.text) : std::nullopt;
    if (st && (st->state == 'Z' || (cached && st->start_ticks != start_ticks_))) st.reset();
    if (st) {
      pid_ = pid;
      start_ticks_ = st->start_ticks;
    } else {
      pid_ = 0;
      if (cached) continue;  // gone: look again
      if (!r.ok() && !Gone(r.error))
        return Status::Error(Reason::kUnavailable,
                             "/proc/" + std::to_string(pid) + "/stat: " + ErrorText(r.error));
      return Status::Error(Reason::kUnavailable, "process " + std::to_string(pid) + " exited");
    }
  }
  if (!st) return Status::Error(Reason::kUnavailable, "the broker process exited");

  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  auto boot = BootTime(fs_);
  if (!boot || ticks <= 0 || page <= 0) return Status::Error(Reason::kUnavailable, "/proc/stat: no btime");

  BrokerProcessSample s;
  s.pid = pid_;
  s.cpu_seconds = static_cast<double>(st->utime_ticks + st->stime_ticks) / static_cast<double>(ticks);
  s.start_time_seconds =
      static_cast<double>(*boot) + static_cast<double>(st->start_ticks) / static_cast<double>(ticks);
  s.resident_bytes = static_cast<double>(st->rss_pages) * static_cast<double>(page);
  s.virtual_bytes = static_cast<double>(st->vsize_bytes);
  s.threads = static_cast<double>(st->num_threads);

  // Each optional file: read, or noted (once in the log) as unreadable.
  auto note = [this, &s](const char* file, bool ok, const std::string& why) {
    s.readable.emplace_back(file, ok);
    if (ok) {
      reported_.erase(file);
    } else if (reported_.insert(file).second) {
      new_problems_.push_back(std::string(file) + ": " + why);
    }
  };
  auto why = [](const procfs::ReadResult& r) {
    return r.ok() ? std::string("unexpected format") : ErrorText(r.error);
  };
  std::optional<int> cpus;
  if (procfs::ReadResult status = fs_.ReadPid(pid_, "status"); status.ok())
    cpus = procfs::ParseCpusAllowed(status.text);
  std::optional<double> quota = fs_.CgroupCpuLimit(pid_);
  note("cgroup", quota.has_value(), "no CPU quota file of its cgroup could be read");
  if (cpus) s.cpu_limit_cores = quota ? std::min<double>(*cpus, *quota) : *cpus;

  int64_t fds = 0;
  procfs::ReadResult fd_result = fs_.CountFds(pid_, &fds);
  note("fd", fd_result.ok(), why(fd_result));
  if (fd_result.ok()) s.open_fds = static_cast<double>(fds);

  procfs::ReadResult limits = fs_.ReadPid(pid_, "limits");
  auto max_fds = limits.ok() ? procfs::ParseMaxOpenFiles(limits.text) : std::nullopt;
  note("limits", max_fds.has_value(), why(limits));
  if (max_fds) s.max_fds = static_cast<double>(*max_fds);

  procfs::ReadResult io = fs_.ReadPid(pid_, "io");
  s.io = io.ok() ? procfs::ParseIo(io.text) : std::nullopt;
  note("io", s.io.has_value(), why(io));

  procfs::ReadResult net = fs_.ReadPid(pid_, "net/dev");
  auto devs = net.ok() ? procfs::ParseNetDev(net.text) : std::nullopt;
  note("net/dev", devs.has_value(), why(net));
  if (devs) s.net = std::move(*devs);
  return s;
}

BrokerProcessCollector::BrokerProcessCollector(BrokerProcessCollectorConfig config, procfs::ProcFs fs)
    : config_(std::move(config)), reader_(config_, std::move(fs)) {}

Status BrokerProcessCollector::Collect(const CollectContext&, MetricsBuilder& out) {
  auto log = GetLogger("collector.broker_process");
  auto sample = reader_.Read();
  if (!sample.ok()) {
    logged_pid_ = 0;
    return sample.status();
  }
  if (sample->pid != logged_pid_) {
    log->info("broker process: PID {}, {}", sample->pid, reader_.how());
    logged_pid_ = sample->pid;
  }
  for (const auto& p : reader_.TakeNewProblems())
    log->warn("cannot read /proc/{}/{}; its series are left out (/proc/PID/fd and io need the broker's uid)",
              sample->pid, p);
  RenderBrokerProcess(config_.broker_id, sample.value(), out);
  return Status::Ok();
}

}  // namespace dora
