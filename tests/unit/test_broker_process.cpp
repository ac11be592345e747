// broker_process: the /proc parsers on fixture text, and the reader on fixture
// trees (a fake /proc and cgroup root in a temp dir): which process it picks,
// what it refuses to guess, and what it says when a file cannot be read.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "collectors/broker_process.h"
#include "collectors/procfs.h"
#include "support/metrics_text.h"
#include "support/temp_dir.h"

using namespace dora;
using namespace dora::procfs;
using dora::test::Find;
using dora::test::FindAll;
using dora::test::ParseExposition;
using dora::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A JVM's stat line: comm with a space and a ')' in it, 52 fields.
std::string StatLine(int pid, uint64_t utime, uint64_t stime, int threads, uint64_t start, uint64_t vsize,
                     int64_t rss, char state = 'S') {
  return std::to_string(pid) + " (java (x) y) " + state + " 1 " + std::to_string(pid) + " " +
         std::to_string(pid) + " 0 -1 4194560 100 0 0 0 " + std::to_string(utime) + " " +
         std::to_string(stime) + " 0 0 20 0 " + std::to_string(threads) + " 0 " + std::to_string(start) +
         " " + std::to_string(vsize) + " " + std::to_string(rss) +
         " 18446744073709551615 1 1 0 0 0 0 0 2 16800972 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
}

const char kLimits[] =
    "Limit                     Soft Limit           Hard Limit           Units     \n"
    "Max cpu time              unlimited            unlimited            seconds   \n"
    "Max processes             63432                63432                processes \n"
    "Max open files            100000               1048576              files     \n"
    "Max locked memory         8388608              8388608              bytes     \n";

const char kNetDev[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls "
    "carrier compressed\n"
    "    lo: 7539933114 41502545    0    0    0     0          0         0 7539933114 41502545    0    0    "
    "0  "
    "   0       0          0\n"
    "  eth0:  123456     789    0    0    0     0          0         0   654321     987    0    0    0     0 "
    " "
    "     0          0\n";

const char kIo[] =
    "rchar: 6976\nwchar: 10\nsyscr: 10\nsyscw: 1\nread_bytes: 4096\nwrite_bytes: 81920\n"
    "cancelled_write_bytes: 0\n";

std::string Cmdline(std::initializer_list<const char*> args) {
  std::string out;
  for (const char* a : args) {
    out += a;
    out += '\0';
  }
  return out;
}

// A fake /proc (and cgroup root) under a temp dir.
struct FakeProc {
  TempDir dir{"dora-procfs"};
  std::string proc = dir.P("proc");
  std::string cgroup = dir.P("cgroup");
  FakeProc() {
    fs::create_directories(proc);
    fs::create_directories(cgroup);
    File("proc/stat", "cpu  1 2 3\nbtime 1700000000\nprocesses 5\n");
    // A cgroup v2 mount where every process below sits in a cgroup without a quota.
    File("cgroup/cgroup.controllers", "cpu memory\n");
    fs::create_directories(dir.P("cgroup/kubepods/pod1/broker"));
  }
  void File(const std::string& rel, const std::string& text) {
    fs::create_directories(fs::path(dir.P(rel)).parent_path());
    std::ofstream(dir.P(rel), std::ios::binary | std::ios::trunc) << text;
  }
  // A process with every file readable; `args` its command line.
  void Process(int pid, const std::string& cmdline, uint64_t start = 5000, int fds = 3) {
    const std::string p = "proc/" + std::to_string(pid) + "/";
    File(p + "cmdline", cmdline);
    File(p + "stat", StatLine(pid, 250, 50, 77, start, 4000000000ull, 100000));
    File(p + "status", "Name:\tjava\nThreads:\t77\nCpus_allowed:\tf\nCpus_allowed_list:\t0-3\n");
    File(p + "limits", kLimits);
    File(p + "io", kIo);
    File(p + "net/dev", kNetDev);
    File(p + "cgroup", "0::/kubepods/pod1/broker\n");
    fs::create_directories(dir.P(p + "fd"));
    for (int i = 0; i < fds; ++i) File(p + "fd/" + std::to_string(i), "");
  }
  ProcFs Fs() const { return ProcFs(proc, cgroup); }
};

BrokerProcessCollectorConfig Cfg(const std::string& pid_file = "", const std::string& regex = "") {
  BrokerProcessCollectorConfig c;
  c.enabled = true;
  c.broker_id = "1";
  c.pid_file = pid_file;
  c.cmdline_regex = regex;
  return c;
}

std::string Kafka(const char* config) {
  return Cmdline(
      {"/usr/lib/jvm/java-17/bin/java", "-Xmx1G", "-cp", "/opt/kafka/libs/*", "kafka.Kafka", config});
}

}  // namespace

TEST_CASE("procfs parsers read the kernel's formats", "[broker_process]") {
  auto st = ParseStat(StatLine(42, 250, 50, 77, 5000, 4000000000ull, 100000));
  REQUIRE(st);
  CHECK(st->state == 'S');
  CHECK(st->utime_ticks == 250);
  CHECK(st->stime_ticks == 50);
  CHECK(st->num_threads == 77);
  CHECK(st->start_ticks == 5000);
  CHECK(st->vsize_bytes == 4000000000ull);
  CHECK(st->rss_pages == 100000);
  CHECK_FALSE(ParseStat("42 (java) S 1 2"));
  CHECK_FALSE(ParseStat("no parenthesis"));
  CHECK_FALSE(ParseStat(""));

  CHECK(ParseBootTime("cpu 1 2\nbtime 1700000000\n") == 1700000000u);
  CHECK_FALSE(ParseBootTime("cpu 1 2\n"));

  CHECK(ParseMaxOpenFiles(kLimits) == 100000u);
  CHECK_FALSE(
      ParseMaxOpenFiles("Max open files            unlimited            unlimited            files\n"));
  CHECK_FALSE(ParseMaxOpenFiles("Limit  Soft Limit\n"));

  CHECK(ParseCpusAllowed("Name:\tjava\nCpus_allowed_list:\t0-3,8,10-11\n") == 7);
  CHECK(ParseCpusAllowed("Cpus_allowed_list:\t0\n") == 1);
  CHECK_FALSE(ParseCpusAllowed("Cpus_allowed_list:\t3-1\n"));
  CHECK_FALSE(ParseCpusAllowed("Name:\tjava\n"));

  auto io = ParseIo(kIo);
  REQUIRE(io);
  CHECK(io->read_bytes == 4096);
  CHECK(io->write_bytes == 81920);
  CHECK_FALSE(ParseIo("rchar: 1\n"));

  auto net = ParseNetDev(kNetDev);
  REQUIRE(net);
  REQUIRE(net->size() == 2);
  CHECK((*net)[0].device == "lo");
  CHECK((*net)[0].receive_bytes == 7539933114ull);
  CHECK((*net)[0].transmit_bytes == 7539933114ull);
  CHECK((*net)[1].device == "eth0");
  CHECK((*net)[1].receive_bytes == 123456);
  CHECK((*net)[1].transmit_bytes == 654321);
  CHECK_FALSE(ParseNetDev("Inter-|\n face |\n  eth0: 1 2 3\n"));

  CHECK(SplitCmdline(Cmdline({"java", "kafka.Kafka", "a b"})) ==
        std::vector<std::string>{"java", "kafka.Kafka", "a b"});
  CHECK(SplitCmdline(std::string("java\0x", 6)) == std::vector<std::string>{"java", "x"});
  CHECK(RunsKafka({"/usr/lib/jvm/java-17/bin/java", "-cp", "x", "kafka.Kafka", "s.properties"}));
  CHECK(RunsKafka({"java", "kafka.Kafka"}));
  CHECK_FALSE(RunsKafka({"pgrep", "-f", "kafka.Kafka"}));
  CHECK_FALSE(RunsKafka({"java", "org.apache.kafka.connect.cli.ConnectDistributed"}));
  CHECK_FALSE(RunsKafka({"java", "-Dx=kafka.Kafka"}));
  CHECK_FALSE(RunsKafka({}));

  auto cg = ParseCgroup("12:cpu,cpuacct:/kubepods/x\n0::/kubepods/y\n");
  REQUIRE(cg.size() == 2);
  CHECK(cg[0].controllers == "cpu,cpuacct");
  CHECK(cg[0].path == "/kubepods/x");
  CHECK(cg[1].controllers.empty());
  CHECK(cg[1].path == "/kubepods/y");

  CHECK(ParseCpuMax("200000 100000\n") == 2.0);
  CHECK(ParseCpuMax("50000 100000") == 0.5);
  CHECK(std::isinf(*ParseCpuMax("max 100000\n")));
  CHECK_FALSE(ParseCpuMax("x y"));
  CHECK(ParseCfsQuota("150000\n", "100000\n") == 1.5);
  CHECK(std::isinf(*ParseCfsQuota("-1\n", "100000\n")));
  CHECK_FALSE(ParseCfsQuota("", "100000"));
}

TEST_CASE("the reader finds the one kafka.Kafka process and reads every file", "[broker_process]") {
  FakeProc p;
  p.Process(100, Cmdline({"/bin/bash", "-c", "sleep 1"}));
  p.Process(200, Kafka("/etc/kafka/server.properties"), 5000, 5);
  p.Process(300, Cmdline({"pgrep", "-f", "kafka.Kafka"}));
  // The v2 cgroup: 4 CPUs of affinity, a 1.5 CPU quota on the container, 2 on the pod.
  p.File("cgroup/kubepods/pod1/cpu.max", "200000 100000\n");
  p.File("cgroup/kubepods/pod1/broker/cpu.max", "150000 100000\n");

  BrokerProcessReader reader(Cfg(), p.Fs());
  auto s = reader.Read();
  REQUIRE(s.ok());
  CHECK(s->pid == 200);
  CHECK(reader.how() == "the one process in view that runs kafka.Kafka");
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  CHECK(s->cpu_seconds == Approx(300 / tick));
  CHECK(s->start_time_seconds == Approx(1700000000 + 5000 / tick));
  CHECK(s->resident_bytes == 100000.0 * static_cast<double>(sysconf(_SC_PAGESIZE)));
  CHECK(s->virtual_bytes == 4000000000.0);
  CHECK(s->threads == 77);
  CHECK(s->open_fds == 5);
  CHECK(s->max_fds == 100000);
  REQUIRE(s->io);
  CHECK(s->io->write_bytes == 81920);
  CHECK(s->net.size() == 2);
  CHECK(s->cpu_limit_cores == 1.5);
  for (const auto& r : s->readable) {
    INFO(r.first);
    CHECK(r.second);
  }
  CHECK(reader.TakeNewProblems().empty());

  MetricsBuilder out;
  RenderBrokerProcess("1", s.value(), out);
  auto samples = ParseExposition(out.Render());
  CHECK(Find(samples, "kafka_broker_process_threads", {{"broker", "1"}}) == 77.0);
  CHECK(Find(samples, "kafka_broker_process_network_receive_bytes_total",
             {{"broker", "1"}, {"device", "eth0"}}) == 123456.0);
  CHECK(Find(samples, "kafka_broker_process_source_readable", {{"broker", "1"}, {"file", "io"}}) == 1.0);
  CHECK(FindAll(samples, "kafka_broker_process_source_readable").size() == 5);

  SECTION("no cgroup quota anywhere: the affinity") {
    fs::remove(p.dir.P("cgroup/kubepods/pod1/cpu.max"));
    fs::remove(p.dir.P("cgroup/kubepods/pod1/broker/cpu.max"));
    auto again = BrokerProcessReader(Cfg(), p.Fs()).Read();
    REQUIRE(again.ok());
    CHECK(again->cpu_limit_cores == 4.0);
  }
  SECTION("cgroup v1: the cpu controller's CFS quota") {
    p.File("proc/200/cgroup", "4:memory:/kubepods/pod1\n3:cpu,cpuacct:/kubepods/pod1/broker\n0::/\n");
    fs::remove(p.dir.P("cgroup/cgroup.controllers"));
    p.File("cgroup/cpu,cpuacct/kubepods/pod1/broker/cpu.cfs_quota_us", "250000\n");
    p.File("cgroup/cpu,cpuacct/kubepods/pod1/broker/cpu.cfs_period_us", "100000\n");
    auto again = BrokerProcessReader(Cfg(), p.Fs()).Read();
    REQUIRE(again.ok());
    CHECK(again->cpu_limit_cores == 2.5);
  }
  SECTION("a cgroup outside this namespace: the process's own view of it") {
    p.File("proc/200/cgroup", "0::/../cri-broker\n");
    p.File("proc/200/root/sys/fs/cgroup/cpu.max", "100000 100000\n");
    auto again = BrokerProcessReader(Cfg(), p.Fs()).Read();
    REQUIRE(again.ok());
    CHECK(again->cpu_limit_cores == 1.0);
  }
}

TEST_CASE("several brokers in view are never guessed between", "[broker_process]") {
  FakeProc p;
  p.Process(200, Kafka("/tmp/c/node-1/server.properties"));
  p.Process(201, Kafka("/tmp/c/node-2/server.properties"));
  p.Process(202, Kafka("/tmp/c/node-3/server.properties"));

  auto none = BrokerProcessReader(Cfg(), p.Fs()).Read();
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().reason == Reason::kConfig);
  CHECK(none.status().message.find("3 processes run kafka.Kafka (PIDs 200, 201, 202)") != std::string::npos);
  CHECK(none.status().message.find("cmdline_regex") != std::string::npos);

  BrokerProcessReader by_regex(Cfg("", "node-2/server\\.properties$"), p.Fs());
  auto two = by_regex.Read();
  REQUIRE(two.ok());
  CHECK(two->pid == 201);
  CHECK(by_regex.how().find("matching cmdline_regex") != std::string::npos);

  auto several = BrokerProcessReader(Cfg("", "/tmp/c/"), p.Fs()).Read();
  REQUIRE_FALSE(several.ok());
  CHECK(several.status().message.find("3 processes run kafka.Kafka and match") != std::string::npos);

  // A class path of 300 kB (as kafka-run-class.sh builds it, jar by jar) is not
  // searched: std::regex would overflow the stack on `.*` over it.
  std::string classpath;
  while (classpath.size() < 300000) classpath += "/opt/kafka/libs/some-library-1.2.3.jar:";
  p.Process(203,
            Cmdline({"java", "-cp", classpath.c_str(), "kafka.Kafka", "/tmp/c/node-4/server.properties"}));
  auto long_args = BrokerProcessReader(Cfg("", "^.*node-4/server[.]properties$"), p.Fs()).Read();
  REQUIRE(long_args.ok());
  CHECK(long_args->pid == 203);
  auto in_classpath = BrokerProcessReader(Cfg("", "^.*some-library-1[.]2[.]3[.]jar$"), p.Fs()).Read();
  CHECK_FALSE(in_classpath.ok());

  auto nothing = BrokerProcessReader(Cfg("", "node-9/"), p.Fs()).Read();
  REQUIRE_FALSE(nothing.ok());
  CHECK(nothing.status().reason == Reason::kUnavailable);
  CHECK(nothing.status().message.find("no process in view") != std::string::npos);
}

TEST_CASE("a pid file names the broker, and a restart is followed", "[broker_process]") {
  FakeProc p;
  p.Process(200, Kafka("/tmp/c/node-1/server.properties"), 5000);
  p.Process(201, Kafka("/tmp/c/node-2/server.properties"), 6000);
  p.Process(300, Cmdline({"sleep", "100"}));
  const std::string pid_file = p.dir.Write("broker.pid", "200\n");

  BrokerProcessReader reader(Cfg(pid_file), p.Fs());
  auto first = reader.Read();
  REQUIRE(first.ok());
  CHECK(first->pid == 200);
  CHECK(reader.how() == "named by the pid file " + pid_file);

  SECTION("the broker exits: unavailable, then its successor") {
    fs::remove_all(p.dir.P("proc/200"));
    auto gone = reader.Read();
    REQUIRE_FALSE(gone.ok());
    CHECK(gone.status().reason == Reason::kUnavailable);
    p.Process(210, Kafka("/tmp/c/node-1/server.properties"), 9000);
    p.dir.Write("broker.pid", "210\n");
    auto back = reader.Read();
    REQUIRE(back.ok());
    CHECK(back->pid == 210);
    CHECK(back->start_time_seconds > first->start_time_seconds);
  }
  SECTION("a stale pid file naming another program is refused") {
    p.dir.Write("broker.pid", "300\n");
    auto stale = reader.Read();
    REQUIRE_FALSE(stale.ok());
    CHECK(stale.status().message.find("does not run kafka.Kafka") != std::string::npos);
  }
  SECTION("a pid file without a PID, or missing") {
    p.dir.Write("broker.pid", "abc\n");
    CHECK(reader.Read().status().message.find("holds no PID") != std::string::npos);
    fs::remove(pid_file);
    auto missing = reader.Read();
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.status().reason == Reason::kUnavailable);
  }
  SECTION("a pid file and a regex the process does not match") {
    auto other = BrokerProcessReader(Cfg(pid_file, "node-2/"), p.Fs()).Read();
    REQUIRE_FALSE(other.ok());
    CHECK(other.status().message.find("does not match cmdline_regex") != std::string::npos);
  }
}

TEST_CASE("without a pid file the reader keeps its process until it exits, then finds the next",
          "[broker_process]") {
  FakeProc p;
  p.Process(200, Kafka("/etc/kafka/server.properties"), 5000);
  BrokerProcessReader reader(Cfg(), p.Fs());
  REQUIRE(reader.Read().ok());
  // A zombie, then a new broker under another PID.
  p.File("proc/200/stat", StatLine(200, 1, 1, 1, 5000, 1, 1, 'Z'));
  p.Process(220, Kafka("/etc/kafka/server.properties"), 7000);
  // The zombie's command line is empty (as the kernel shows it).
  p.File("proc/200/cmdline", "");
  auto next = reader.Read();
  REQUIRE(next.ok());
  CHECK(next->pid == 220);
  // Its PID reused by another process with another start: looked for again.
  fs::remove_all(p.dir.P("proc/220"));
  p.Process(220, Cmdline({"sleep", "1"}), 8000);
  p.Process(230, Kafka("/etc/kafka/server.properties"), 8100);
  auto third = reader.Read();
  REQUIRE(third.ok());
  CHECK(third->pid == 230);
}

TEST_CASE("unreadable optional files leave their series out and are reported once", "[broker_process]") {
  FakeProc p;
  p.Process(200, Kafka("/etc/kafka/server.properties"));
  // What a sidecar under another uid meets: fd and io need ptrace read access.
  fs::remove_all(p.dir.P("proc/200/fd"));
  fs::remove(p.dir.P("proc/200/io"));
  p.File("proc/200/limits", "garbage\n");
  BrokerProcessReader reader(Cfg(), p.Fs());
  auto s = reader.Read();
  REQUIRE(s.ok());
  CHECK_FALSE(s->open_fds);
  CHECK_FALSE(s->io);
  CHECK_FALSE(s->max_fds);
  auto problems = reader.TakeNewProblems();
  CHECK(problems == std::vector<std::string>{"fd: No such file or directory", "limits: unexpected format",
                                             "io: No such file or directory"});
  REQUIRE(reader.Read().ok());
  CHECK(reader.TakeNewProblems().empty());  // once

  MetricsBuilder out;
  RenderBrokerProcess("1", s.value(), out);
  auto samples = ParseExposition(out.Render());
  CHECK(FindAll(samples, "kafka_broker_process_open_fds").empty());
  CHECK(FindAll(samples, "kafka_broker_process_read_bytes_total").empty());
  CHECK(FindAll(samples, "kafka_broker_process_max_fds").empty());
  CHECK(Find(samples, "kafka_broker_process_source_readable", {{"broker", "1"}, {"file", "fd"}}) == 0.0);
  CHECK(Find(samples, "kafka_broker_process_source_readable", {{"broker", "1"}, {"file", "io"}}) == 0.0);
  CHECK(Find(samples, "kafka_broker_process_source_readable", {{"broker", "1"}, {"file", "net/dev"}}) == 1.0);
  CHECK(Find(samples, "kafka_broker_process_threads", {{"broker", "1"}}) == 77.0);

  // Readable again (the uid changed): reported again should it go once more.
  p.File("proc/200/io", kIo);
  REQUIRE(reader.Read().ok());
  fs::remove(p.dir.P("proc/200/io"));
  REQUIRE(reader.Read().ok());
  CHECK(reader.TakeNewProblems() == std::vector<std::string>{"io: No such file or directory"});
}

TEST_CASE("the collector fails with a reason when it cannot see a broker, and never crashes",
          "[broker_process]") {
  FakeProc p;
  BrokerProcessCollector c(Cfg(), p.Fs());
  MetricsBuilder out;
  CollectContext ctx{std::chrono::steady_clock::now() + std::chrono::seconds(5),
                     std::chrono::system_clock::now()};
  Status st = c.Collect(ctx, out);
  CHECK_FALSE(st.ok);
  CHECK(st.reason == Reason::kUnavailable);
  CHECK(out.series() == 0);
  // An empty or missing proc root is the same answer, not a crash.
  BrokerProcessCollector nowhere(Cfg(), ProcFs(p.dir.P("nonexistent"), p.dir.P("nonexistent")));
  CHECK(nowhere.Collect(ctx, out).reason == Reason::kUnavailable);

  p.Process(200, Kafka("/etc/kafka/server.properties"));
  MetricsBuilder ok_out;
  CHECK(c.Collect(ctx, ok_out).ok);
  CHECK(ok_out.series() > 10);
}
