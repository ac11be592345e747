// broker_process against the real broker JVMs of a 3-node test cluster, one
// daemon per broker as sidecars would run (here all three brokers are in view,
// as in a shared host PID namespace): each value agrees with what /proc and
// `ps` say about that PID, a daemon left to choose among three brokers refuses
// to guess, and a broker restart (graceful, and SIGKILL) shows as a new start
// time.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "collectors/procfs.h"
#include "support/daemon.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"

using namespace dora::test;
using namespace std::chrono_literals;
namespace procfs = dora::procfs;

namespace {

std::string WriteConfig(const std::string& name, const std::string& body) {
  std::string path = "/tmp/dora-it-" + std::to_string(getpid()) + "-" + name + ".yaml";
  std::ofstream(path) << body;
  return path;
}

// Only broker_process: the Kafka collectors are off (the daemon still has a client).
std::string Config(const std::string& broker_process) {
  return "alerting: {enabled: false}\n"
         "collectors:\n"
         "  cluster: {enabled: false}\n"
         "  offsets: {enabled: false}\n"
         "  consumer_groups: {enabled: false}\n"
         "  broker_stats: {enabled: false}\n"
         "  broker_process: {enabled: true, interval: 1s, " +
         broker_process + "}\n";
}

int NodePid(const KafkaCluster& k, int id) {
  std::ifstream f(k.dir() + "/node-" + std::to_string(id) + "/pid");
  int pid = 0;
  f >> pid;
  return pid;
}

std::string Slurp(const std::string& path) { return procfs::ReadAll(path).text; }

struct ProcNow {
  double cpu_seconds = 0;
  double start_time = 0;
  double open_fds = 0;
  double max_fds = 0;
  procfs::Io io;
  procfs::NetDev lo;
};

// What /proc says about `pid` now, read independently of the collector's code paths where it matters
// (fds by listing, limits and boot time by their own files).
ProcNow ReadProc(int pid) {
  ProcNow n;
  const std::string base = "/proc/" + std::to_string(pid);
  auto st = procfs::ParseStat(Slurp(base + "/stat"));
  REQUIRE(st);
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  n.cpu_seconds = static_cast<double>(st->utime_ticks + st->stime_ticks) / tick;
  auto btime = procfs::ParseBootTime(Slurp("/proc/stat"));
  REQUIRE(btime);
  n.start_time = static_cast<double>(*btime) + static_cast<double>(st->start_ticks) / tick;
  n.open_fds = static_cast<double>(std::distance(std::filesystem::directory_iterator(base + "/fd"),
                                                 std::filesystem::directory_iterator()));
  auto max = procfs::ParseMaxOpenFiles(Slurp(base + "/limits"));
  REQUIRE(max);
  n.max_fds = static_cast<double>(*max);
  auto io = procfs::ParseIo(Slurp(base + "/io"));
  REQUIRE(io);
  n.io = *io;
  auto net = procfs::ParseNetDev(Slurp(base + "/net/dev"));
  REQUIRE(net);
  for (const auto& d : *net)
    if (d.device == "lo") n.lo = d;
  REQUIRE(n.lo.device == "lo");
  return n;
}

// `ps -o rss=,vsz=,nlwp=,etimes=,times= -p PID`: KiB, KiB, threads, elapsed s, CPU s.
struct Ps {
  double rss_bytes = 0;
  double vsz_bytes = 0;
  double threads = 0;
  double elapsed = 0;
  double cpu_seconds = 0;
  double at = 0;  // unix time of the call
};
Ps RunPs(int pid) {
  Ps p;
  const std::string cmd = "ps -o rss=,vsz=,nlwp=,etimes=,times= -p " + std::to_string(pid);
  p.at = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  FILE* f = popen(cmd.c_str(), "r");
  REQUIRE(f != nullptr);
  char buf[256] = {0};
  const bool got = fgets(buf, sizeof buf, f) != nullptr;
  pclose(f);
  REQUIRE(got);
  std::istringstream in(buf);
  in >> p.rss_bytes >> p.vsz_bytes >> p.threads >> p.elapsed >> p.cpu_seconds;
  REQUIRE(in);
  p.rss_bytes *= 1024;
  p.vsz_bytes *= 1024;
  return p;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Scrapes until a broker_process run that began after `t0` is published; its samples.
std::vector<Sample> RunAfter(Daemon& d, double t0) {
  std::vector<Sample> s;
  const bool ok = d.WaitFor(
      [t0](const std::vector<Sample>& x) {
        auto ts = Find(x, "kafka_exporter_collector_last_success_timestamp_seconds",
                       {{"collector", "broker_process"}});
        auto dur = Find(x, "kafka_exporter_collector_duration_seconds", {{"collector", "broker_process"}});
        return ts && dur &&
               Find(x, "kafka_exporter_collector_success", {{"collector", "broker_process"}}) == 1.0 &&
               *ts - *dur > t0 && Find(x, "kafka_broker_process_start_time_seconds").has_value();
      },
      20s, &s);
  INFO(d.Log());
  REQUIRE(ok);
  return s;
}

double Get(const std::vector<Sample>& s, const std::string& name, const std::string& broker,
           std::map<std::string, std::string> more = {}) {
  more["broker"] = broker;
  auto v = Find(s, name, more);
  INFO(name << " broker " << broker);
  REQUIRE(v.has_value());
  return *v;
}

int Affinity(int pid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(sched_getaffinity(pid, sizeof set, &set) == 0);
  return CPU_COUNT(&set);
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("broker_process agrees with /proc and ps for real brokers and follows their restarts",
          "[kafka][broker_process]") {
  auto kafka = KafkaCluster::Start(3);
  kafka->CreateTopic("agent-events", 3, 3);
  SteadyProducer load(kafka->bootstrap(), "agent-events", 200);  // disk writes and network traffic
  const std::string dir = kafka->dir();
  const int pid1 = NodePid(*kafka, 1);
  const int pid2 = NodePid(*kafka, 2);
  const int pid3 = NodePid(*kafka, 3);
  REQUIRE(pid1 > 0);
  REQUIRE(pid2 > 0);
  REQUIRE(pid3 > 0);

  // Broker 1 by its pid file, broker 2 by its config path, and one left to choose.
  const std::string cfg1 = WriteConfig("bp1", Config("broker_id: '1', pid_file: '" + dir + "/node-1/pid'"));
  // The full path: other clusters on this machine have a node-2 too.
  std::string dir_re;
  for (char c : dir)
    dir_re += (c == '.' || c == '+' || c == '(' || c == ')') ? std::string("\\") + c : std::string(1, c);
  const std::string cfg2 = WriteConfig(
      "bp2", Config("broker_id: '2', cmdline_regex: '^" + dir_re + "/node-2/server\\.properties$'"));
  const std::string cfg3 = WriteConfig("bp3", Config("broker_id: '3'"));
  Daemon d1({"--config", cfg1, "--kafka.server=" + kafka->bootstrap()});
  Daemon d2({"--config", cfg2, "--kafka.server=" + kafka->bootstrap()});
  Daemon d3({"--config", cfg3, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d1.WaitHealthy());
  REQUIRE(d2.WaitHealthy());
  REQUIRE(d3.WaitHealthy());
  std::this_thread::sleep_for(3s);  // some traffic first

  {
    // Values agree with /proc and ps.
    for (int round = 0; round < 2; ++round) {
      Daemon& d = round == 0 ? d1 : d2;
      const int pid = round == 0 ? pid1 : pid2;
      const std::string broker = round == 0 ? "1" : "2";
      INFO("broker " << broker << " pid " << pid);
      const ProcNow before = ReadProc(pid);
      const Ps ps_before = RunPs(pid);
      const double t0 = Now();
      const std::vector<Sample> s = RunAfter(d, t0);
      const Ps ps_after = RunPs(pid);
      const ProcNow after = ReadProc(pid);

      // Counters: between the readings taken before and after the run.
      const double cpu = Get(s, "kafka_broker_process_cpu_seconds_total", broker);
      CHECK(cpu >= before.cpu_seconds);
      CHECK(cpu <= after.cpu_seconds);
      CHECK(cpu >= ps_before.cpu_seconds);  // ps truncates to whole seconds
      CHECK(cpu <= ps_after.cpu_seconds + 1.0);
      const double rd = Get(s, "kafka_broker_process_read_bytes_total", broker);
      const double wr = Get(s, "kafka_broker_process_written_bytes_total", broker);
      CHECK(rd >= static_cast<double>(before.io.read_bytes));
      CHECK(rd <= static_cast<double>(after.io.read_bytes));
      CHECK(wr >= static_cast<double>(before.io.write_bytes));
      CHECK(wr <= static_cast<double>(after.io.write_bytes));
      CHECK(wr > 0);  // the producer's records reached the disk
      const double rx =
          Get(s, "kafka_broker_process_network_receive_bytes_total", broker, {{"device", "lo"}});
      const double tx =
          Get(s, "kafka_broker_process_network_transmit_bytes_total", broker, {{"device", "lo"}});
      CHECK(rx >= static_cast<double>(before.lo.receive_bytes));
      CHECK(rx <= static_cast<double>(after.lo.receive_bytes));
      CHECK(tx >= static_cast<double>(before.lo.transmit_bytes));
      CHECK(tx <= static_cast<double>(after.lo.transmit_bytes));

      // The start: /proc's to the tick (boot time may move by a second), ps's to its whole seconds.
      const double start = Get(s, "kafka_broker_process_start_time_seconds", broker);
      CHECK(std::abs(start - before.start_time) <= 1.0);
      CHECK(std::abs(start - (ps_after.at - ps_after.elapsed)) <= 2.0);

      // Gauges: within what the JVM changes between the readings.
      const double rss = Get(s, "kafka_broker_process_resident_memory_bytes", broker);
      const double vsz = Get(s, "kafka_broker_process_virtual_memory_bytes", broker);
      const double threads = Get(s, "kafka_broker_process_threads", broker);
      const double fds = Get(s, "kafka_broker_process_open_fds", broker);
      const double rss_ps = (ps_before.rss_bytes + ps_after.rss_bytes) / 2;
      CHECK(std::abs(rss - rss_ps) <= std::max(0.05 * rss_ps, 16.0 * 1024 * 1024));
      const double vsz_ps = (ps_before.vsz_bytes + ps_after.vsz_bytes) / 2;
      CHECK(std::abs(vsz - vsz_ps) <= 0.02 * vsz_ps);
      CHECK(threads >= std::min(ps_before.threads, ps_after.threads) - 3);
      CHECK(threads <= std::max(ps_before.threads, ps_after.threads) + 3);
      CHECK(fds >= std::min(before.open_fds, after.open_fds) - 10);
      CHECK(fds <= std::max(before.open_fds, after.open_fds) + 10);
      CHECK(Get(s, "kafka_broker_process_max_fds", broker) == before.max_fds);
      const double cores = Get(s, "kafka_broker_process_cpu_limit_cores", broker);
      CHECK(cores > 0);
      CHECK(cores <= Affinity(pid));
      for (const char* file : {"fd", "io", "limits", "net/dev", "cgroup"})
        CHECK(Get(s, "kafka_broker_process_source_readable", broker, {{"file", file}}) == 1.0);
      std::fprintf(
          stderr,
          "[broker_process] broker %s pid %d: cpu %.2f s (ps %.0f..%.0f), rss %.1f MiB (ps %.1f MiB, "
          "diff %+.2f%%), vsz %.1f MiB (ps %.1f MiB, diff %+.3f%%), threads %.0f (ps %.0f..%.0f), "
          "fds %.0f (/proc %.0f..%.0f) of %.0f, start %.2f (ps %.0f), cores %.2f, run %.2f ms\n",
          broker.c_str(), pid, cpu, ps_before.cpu_seconds, ps_after.cpu_seconds, rss / 1048576,
          rss_ps / 1048576, 100 * (rss - rss_ps) / rss_ps, vsz / 1048576, vsz_ps / 1048576,
          100 * (vsz - vsz_ps) / vsz_ps, threads, ps_before.threads, ps_after.threads, fds, before.open_fds,
          after.open_fds, before.max_fds, start, ps_after.at - ps_after.elapsed, cores,
          1000 * Find(s, "kafka_exporter_collector_duration_seconds", {{"collector", "broker_process"}})
                     .value_or(-1));
    }
  }

  {
    // A daemon with three brokers in view and nothing to choose by refuses to guess.
    std::vector<Sample> s;
    const bool failed = d3.WaitFor(
        [](const std::vector<Sample>& x) {
          return Find(x, "kafka_exporter_collector_errors_total",
                      {{"collector", "broker_process"}, {"reason", "config"}})
                     .value_or(0) >= 3;
        },
        20s, &s);
    const std::string log = d3.Log();
    INFO(log);
    REQUIRE(failed);
    CHECK(Find(s, "kafka_exporter_collector_success", {{"collector", "broker_process"}}) == 0.0);
    CHECK(FindAll(s, "kafka_broker_process_cpu_seconds_total").empty());
    // Said once (the runner logs the change to failing), naming every candidate.
    CHECK(Count(log, "processes run kafka.Kafka") == 1);
    for (int pid : {pid1, pid2, pid3}) CHECK(log.find(std::to_string(pid)) != std::string::npos);
    CHECK(log.find("cmdline_regex") != std::string::npos);
  }

  {
    // A restart shows as a new start time: graceful (pid file) and SIGKILL (command line).
    const std::vector<Sample> s1 = RunAfter(d1, Now());
    const std::vector<Sample> s2 = RunAfter(d2, Now());
    const double start1 = Get(s1, "kafka_broker_process_start_time_seconds", "1");
    const double start2 = Get(s2, "kafka_broker_process_start_time_seconds", "2");

    kafka->StopNode(1);
    std::vector<Sample> s;
    CHECK(d1.WaitFor(
        [](const std::vector<Sample>& x) {
          return Find(x, "kafka_exporter_collector_success", {{"collector", "broker_process"}}) == 0.0;
        },
        20s, &s));
    CHECK(FindAll(s, "kafka_broker_process_start_time_seconds").empty());  // nothing invented
    kafka->StartNode(1);
    const int new1 = NodePid(*kafka, 1);
    REQUIRE(new1 != pid1);
    s = RunAfter(d1, Now());
    const double restarted1 = Get(s, "kafka_broker_process_start_time_seconds", "1");
    CHECK(restarted1 > start1 + 1);
    CHECK(std::abs(restarted1 - ReadProc(new1).start_time) <= 1.0);
    // Broker 2's daemon saw nothing of it.
    CHECK(Get(RunAfter(d2, Now()), "kafka_broker_process_start_time_seconds", "2") == start2);

    kafka->StopNode(2, /*kill=*/true);
    kafka->StartNode(2);
    const int new2 = NodePid(*kafka, 2);
    REQUIRE(new2 != pid2);
    s = RunAfter(d2, Now());
    const double restarted2 = Get(s, "kafka_broker_process_start_time_seconds", "2");
    CHECK(restarted2 > start2 + 1);
    CHECK(std::abs(restarted2 - ReadProc(new2).start_time) <= 1.0);
    const std::string log2 = d2.Log();
    INFO(log2);
    CHECK(log2.find("broker process: PID " + std::to_string(pid2)) != std::string::npos);
    CHECK(log2.find("broker process: PID " + std::to_string(new2)) != std::string::npos);
    std::fprintf(stderr, "[broker_process] restarts: broker 1 %.2f -> %.2f, broker 2 %.2f -> %.2f\n", start1,
                 restarted1, start2, restarted2);
  }
  for (const auto& c : {cfg1, cfg2, cfg3}) unlink(c.c_str());
}
