// The connect collector against a REAL Kafka Connect worker in distributed
// mode (the Kafka release's own connect-runtime jars, plus the same release's
// connect-file plugin: FileStreamSink), on the test broker, loopback only.
// One worker serves every step (its start is the slow part): a healthy sink
// RUNNING with its task, a sink whose file cannot be created FAILED with the
// first line of its trace, pause / resume / a task restart reflected within
// one collector interval, and the stopped worker: up 0 while the other
// collectors keep running.
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "support/daemon.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"

using namespace dora::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The n-th (0-based) match of `re`'s first group in `text`, or "". The JSON
// here is small and flat enough (kafkactl's files, a connector's status);
// (nlohmann's getters trip GCC 12's -Wnull-dereference at -O2 in this file.)
std::string Nth(const std::string& text, const std::regex& re, size_t n = 0) {
  size_t i = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it, ++i)
    if (i == n) return (*it)[1];
  return "";
}

// The state whose series is 1, "" unless exactly one of the six is.
std::string StateOf(const std::vector<Sample>& s, const std::string& family,
                    const std::map<std::string, std::string>& match) {
  auto all = FindAll(s, family, match);
  std::string state;
  int ones = 0;
  for (const auto& x : all) {
    if (x.value == 1) {
      state = x.labels.at("state");
      ++ones;
    }
  }
  return all.size() == 6 && ones == 1 ? state : "";
}

std::string ConnectorState(const std::vector<Sample>& s, const std::string& connector) {
  return StateOf(s, "kafka_connect_connector_state", {{"connect", "main"}, {"connector", connector}});
}

std::string TaskState(const std::vector<Sample>& s, const std::string& connector,
                      const std::string& task = "0") {
  return StateOf(s, "kafka_connect_task_state",
                 {{"connect", "main"}, {"connector", connector}, {"task", task}});
}

// The worker's own view: GET /connectors/<name>/status.
struct RestStatus {
  std::string connector;
  std::string task0;
};

class ConnectRest {
 public:
  explicit ConnectRest(const std::string& url) : cli_(url) {
    cli_.set_connection_timeout(5, 0);
    cli_.set_read_timeout(30, 0);
  }
  int Put(const std::string& path, const std::string& body = "") {
    auto r = cli_.Put(path.c_str(), body, "application/json");
    return r ? r->status : 0;
  }
  int Post(const std::string& path) {
    auto r = cli_.Post(path.c_str(), "", "application/json");
    return r ? r->status : 0;
  }
  RestStatus Status(const std::string& name) {
    static const std::regex kState(R"re("state"\s*:\s*"([A-Z_]+)")re");
    RestStatus s;
    auto r = cli_.Get(("/connectors/" + name + "/status").c_str());
    if (!r || r->status != 200) return s;
    // {"name":..,"connector":{"state":..,"worker_id":..},"tasks":[{"id":0,"state":..,..}],"type":..}
    s.connector = Nth(r->body, kState, 0);
    s.task0 = Nth(r->body, kState, 1);
    return s;
  }

 private:
  httplib::Client cli_;
};

std::string SinkConfig(const std::string& topic, const std::string& file) {
  return "{\"connector.class\": \"org.apache.kafka.connect.file.FileStreamSinkConnector\", \"tasks.max\": "
         "\"1\", "
         "\"topics\": \"" +
         topic + "\", \"file\": \"" + file + "\"}";
}

}  // namespace

TEST_CASE("a real Connect worker: RUNNING, FAILED with its trace, pause/resume/restart, worker stopped",
          "[kafka][connect]") {
  const auto t_start = Clock::now();
  auto kafka = KafkaCluster::Start(1);
  const double t_kafka = Since(t_start);
  kafka->CreateTopic("connect-in", 1, 1);

  const auto t_worker0 = Clock::now();
  kafka->Ctl({"connect-start", "--timeout", "150"}, 200s);
  const double t_worker = Since(t_worker0);
  const std::string worker = ReadFile(kafka->dir() + "/connect/connect.json");
  const std::string url = Nth(worker, std::regex(R"re("url"\s*:\s*"([^"]+)")re"));
  REQUIRE(!url.empty());
  const std::string worker_id = "127.0.0.1:" + Nth(worker, std::regex(R"re("port"\s*:\s*([0-9]+))re"));
  const std::string cluster_id =
      Nth(ReadFile(kafka->dir() + "/cluster.json"), std::regex(R"re("cluster_id"\s*:\s*"([^"]+)")re"));
  auto worker_log = [&] {
    std::ifstream in(kafka->dir() + "/connect/logs/connect.log");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    return s.size() > 6000 ? s.substr(s.size() - 6000) : s;
  };

  const std::string out_dir = kafka->dir() + "/sink-out";
  REQUIRE(mkdir(out_dir.c_str(), 0755) == 0);
  const std::string missing_dir = out_dir + "/missing";  // does not exist until the restart step
  ConnectRest rest(url);
  REQUIRE(rest.Put("/connectors/sink-ok/config", SinkConfig("connect-in", out_dir + "/ok.txt")) == 201);
  REQUIRE(rest.Put("/connectors/sink-bad/config", SinkConfig("connect-in", missing_dir + "/out.txt")) == 201);
  REQUIRE(ProduceMessages(kafka->bootstrap(), "connect-in", 20, 0, 0) == 20);

  const std::string cfg = "/tmp/dora-it-connect-" + std::to_string(getpid()) + ".yaml";
  std::ofstream(cfg) << "collectors:\n"
                        "  cluster: {interval: 1s}\n"
                        "  offsets: {interval: 1s}\n"
                        "  consumer_groups: {interval: 1s}\n"
                        "  connect:\n"
                        "    interval: 1s\n"
                        "    timeout: 3s\n"
                        "    clusters:\n"
                        "      - {name: main, url: '"
                     << url << "'}\n";
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  std::vector<Sample> s;

  // A healthy connector RUNNING with its task; the failing one FAILED with its trace line.
  const std::string want_trace =
      "org.apache.kafka.connect.errors.ConnectException: Couldn't find or create file '" + missing_dir +
      "/out.txt' for FileStreamSinkTask";
  bool seen = d.WaitFor(
      [&](const auto& x) {
        return ConnectorState(x, "sink-ok") == "RUNNING" && TaskState(x, "sink-ok") == "RUNNING" &&
               TaskState(x, "sink-bad") == "FAILED" &&
               !FindAll(x, "kafka_connect_task_failure_info", {{"connector", "sink-bad"}}).empty();
      },
      60s, &s);
  if (!seen) {
    INFO(d.Log());
    INFO(worker_log());
    REQUIRE(seen);
  }
  CHECK(Find(s, "kafka_connect_up", {{"connect", "main"}}) == 1.0);
  CHECK(Find(s, "kafka_connect_info", {{"connect", "main"}, {"version", kafka->version()}}) == 1.0);
  if (!cluster_id.empty())
    CHECK(Find(s, "kafka_connect_info", {{"connect", "main"}, {"kafka_cluster_id", cluster_id}}) == 1.0);
  CHECK(Find(s, "kafka_connect_connectors", {{"connect", "main"}}) == 2.0);
  CHECK(Find(s, "kafka_connect_connector_info",
             {{"connect", "main"},
              {"connector", "sink-ok"},
              {"type", "sink"},
              {"class", "org.apache.kafka.connect.file.FileStreamSinkConnector"},
              {"worker", worker_id}}) == 1.0);
  CHECK(Find(s, "kafka_connect_task_info",
             {{"connector", "sink-ok"}, {"task", "0"}, {"worker", worker_id}}) == 1.0);
  // The task fails, its connector does not.
  CHECK(ConnectorState(s, "sink-bad") == "RUNNING");
  auto failure = FindAll(s, "kafka_connect_task_failure_info", {{"connector", "sink-bad"}, {"task", "0"}});
  REQUIRE(failure.size() == 1);
  CHECK(failure[0].labels.at("trace") == want_trace.substr(0, 200));
  CHECK(FindAll(s, "kafka_connect_task_failure_info", {{"connector", "sink-ok"}}).empty());
  CHECK(Find(s, "kafka_connect_worker_tasks", {{"connect", "main"}, {"worker", worker_id}}) == 2.0);
  // The sink's consumer group connect-<name> is in the lag families (the dashboard's link).
  CHECK(d.WaitFor(
      [](const auto& x) {
        return Find(x, "kafka_consumergroup_lag_sum",
                    {{"consumergroup", "connect-sink-ok"}, {"topic", "connect-in"}})
            .has_value();
      },
      30s));

  // Pause, resume and a task restart: the exporter shows what the worker
  // reports within one interval (1 s) plus a scrape.
  auto reflected = [&](const char* what, const std::function<bool(const RestStatus&)>& rest_done,
                       const std::function<bool(const std::vector<Sample>&)>& exported) {
    const auto t0 = Clock::now();
    double t_rest = -1, t_exported = -1;
    for (int i = 0; i < 300 && Since(t0) < 30 && t_exported < 0; ++i) {
      if (t_rest < 0 && rest_done(rest.Status(what))) t_rest = Since(t0);
      if (exported(d.Samples())) t_exported = Since(t0);
      std::this_thread::sleep_for(100ms);
    }
    if (t_rest < 0 && t_exported >= 0) t_rest = t_exported;  // seen by both in the same poll
    WARN(what << ": worker reported after " << t_rest << " s, exporter after " << t_exported << " s");
    REQUIRE(t_exported >= 0);
    CHECK(t_exported - t_rest <= 2.5);
  };
  REQUIRE(rest.Put("/connectors/sink-ok/pause") == 202);
  reflected(
      "sink-ok", [](const RestStatus& r) { return r.connector == "PAUSED" && r.task0 == "PAUSED"; },
      [](const auto& x) {
        return ConnectorState(x, "sink-ok") == "PAUSED" && TaskState(x, "sink-ok") == "PAUSED";
      });
  REQUIRE(rest.Put("/connectors/sink-ok/resume") == 202);
  reflected(
      "sink-ok", [](const RestStatus& r) { return r.connector == "RUNNING" && r.task0 == "RUNNING"; },
      [](const auto& x) {
        return ConnectorState(x, "sink-ok") == "RUNNING" && TaskState(x, "sink-ok") == "RUNNING";
      });
  // The cause is fixed (the directory exists now), then the failed task is restarted.
  REQUIRE(mkdir(missing_dir.c_str(), 0755) == 0);
  const int restart = rest.Post("/connectors/sink-bad/tasks/0/restart");
  CHECK((restart == 204 || restart == 200 || restart == 202));
  reflected(
      "sink-bad", [](const RestStatus& r) { return r.task0 == "RUNNING"; },
      [](const auto& x) {
        return TaskState(x, "sink-bad") == "RUNNING" &&
               FindAll(x, "kafka_connect_task_failure_info", {{"connector", "sink-bad"}}).empty();
      });

  // The worker stopped: up 0, its connector series gone, and every other collector keeps running.
  const double cluster_success_before =
      Find(d.Samples(), "kafka_exporter_collector_last_success_timestamp_seconds", {{"collector", "cluster"}})
          .value_or(0);
  kafka->Ctl({"connect-stop", "--grace", "10"}, 60s);
  seen = d.WaitFor(
      [&](const auto& x) {
        return Find(x, "kafka_connect_up", {{"connect", "main"}}) == 0.0 &&
               Find(x, "kafka_connect_last_error", {{"connect", "main"}, {"class", "connection"}}) == 1.0 &&
               Find(x, "kafka_exporter_collector_last_success_timestamp_seconds", {{"collector", "cluster"}})
                       .value_or(0) > cluster_success_before + 1;
      },
      30s, &s);
  if (!seen) {
    INFO(d.Log());
    REQUIRE(seen);
  }
  CHECK(FindAll(s, "kafka_connect_connector_state").empty());
  CHECK(FindAll(s, "kafka_connect_task_state").empty());
  CHECK(Find(s, "kafka_connect_last_success_timestamp_seconds", {{"connect", "main"}}).value_or(0) > 0);
  for (const char* c : {"connect", "cluster", "offsets", "consumer_groups"}) {
    INFO("collector " << c);
    CHECK(Find(s, "kafka_exporter_collector_success", {{"collector", c}}) == 1.0);
  }
  CHECK(Find(s, "kafka_brokers") == 1.0);
  // A clean exit (in the sanitized build a memory error would have aborted the daemon).
  d.Signal(SIGTERM);
  CHECK(d.Wait(20s) == 0);
  const std::string log = d.Log();
  for (const char* m : {"AddressSanitizer", "LeakSanitizer", "runtime error:"})
    CHECK(log.find(m) == std::string::npos);
  WARN("Kafka start " << t_kafka << " s, Connect worker start " << t_worker << " s, whole test "
                      << Since(t_start) << " s");
  unlink(cfg.c_str());
}
