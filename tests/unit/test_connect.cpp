// connect collector against the in-process fake HTTP server serving Kafka
// Connect answers: states, tasks per worker, failed traces reduced and free of
// secrets, every failure class (500, hang, malformed JSON, ...), recovery,
// bounded time, basic auth, the connector cap.
#include "collectors/connect.h"

#include <spdlog/sinks/ostream_sink.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "collectors/registry.h"
#include "config/loader.h"
#include "support/daemon.h"
#include "support/fake_connect.h"
#include "support/metrics_text.h"
#include "util/log.h"
#include "util/secret.h"

using namespace dora;
using namespace dora::test;
using namespace std::chrono_literals;
using Failure = FakeRegistry::Failure;

namespace {

ConnectEndpoint Endpoint(const std::string& url, const std::string& name = "main",
                         Millis timeout = Millis(1000)) {
  ConnectEndpoint e;
  e.name = name;
  e.url = url;
  e.timeout = timeout;
  return e;
}

ConnectCollectorConfig CcConfig(std::vector<ConnectEndpoint> clusters, Millis timeout = Millis(2000)) {
  ConnectCollectorConfig c;
  c.timeout = timeout;
  c.clusters = std::move(clusters);
  return c;
}

struct Run {
  Status status;
  std::string text;
  std::vector<Sample> samples;
  double seconds = 0;
};

Run CollectOnce(ConnectCollector& c) {
  CollectContext ctx;
  auto start = std::chrono::steady_clock::now();
  ctx.deadline = start + c.timeout();
  ctx.wall_now = std::chrono::system_clock::now();
  MetricsBuilder b;
  Run r;
  r.status = c.Collect(ctx, b);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.text = b.Render();
  r.samples = ParseExposition(r.text);
  return r;
}

std::string ErrorClass(const Run& r, const std::string& connect = "main") {
  auto all = FindAll(r.samples, "kafka_connect_last_error", {{"connect", connect}});
  if (all.size() != 1 || all[0].value != 1) return "";
  return all[0].labels.at("class");
}

void CheckDown(const Run& r, const std::string& cls, const std::string& connect = "main") {
  INFO(r.text);
  CHECK(r.status.ok);
  CHECK(Find(r.samples, "kafka_connect_up", {{"connect", connect}}) == 0.0);
  CHECK(ErrorClass(r, connect) == cls);
  for (const char* gone :
       {"kafka_connect_info", "kafka_connect_request_latency_seconds", "kafka_connect_connectors",
        "kafka_connect_connector_state", "kafka_connect_connector_info", "kafka_connect_task_state",
        "kafka_connect_task_info", "kafka_connect_worker_tasks"}) {
    INFO(gone);
    CHECK(FindAll(r.samples, gone, {{"connect", connect}}).empty());
  }
  CHECK(FindAll(r.samples, "kafka_connect_last_success_timestamp_seconds", {{"connect", connect}}).size() ==
        1);
}

bool IsUp(const Run& r, const std::string& connect = "main") {
  return Find(r.samples, "kafka_connect_up", {{"connect", connect}}) == 1.0 &&
         ErrorClass(r, connect) == "none";
}

// The state whose series is 1, "" unless exactly one is (and all six are present).
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

std::vector<FakeConnector> Healthy() {
  FakeConnector sink;
  sink.name = "orders-sink";
  sink.tasks = {{0, "RUNNING", "10.0.0.1:8083", ""}, {1, "RUNNING", "10.0.0.2:8083", ""}};
  FakeConnector source;
  source.name = "audit-source";
  source.type = "source";
  source.connector_class = "org.apache.kafka.connect.file.FileStreamSourceConnector";
  source.worker = "10.0.0.2:8083";
  source.state = "PAUSED";
  source.tasks = {{0, "PAUSED", "10.0.0.2:8083", ""}};
  return {sink, source};
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = "/tmp/dora-connect-unit-" + std::to_string(getpid()) + "-" + name;
  std::ofstream(path) << text;
  return path;
}

// Captures everything the collector logs, at every level, while alive.
class LogCapture {
 public:
  LogCapture() : logger_(GetLogger("collector.connect")), level_(logger_->level()) {
    sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    logger_->sinks().push_back(sink_);
    logger_->set_level(spdlog::level::trace);
  }
  ~LogCapture() {
    auto& sinks = logger_->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    logger_->set_level(level_);
  }
  std::string text() const { return stream_.str(); }

 private:
  std::shared_ptr<spdlog::logger> logger_;
  spdlog::level::level_enum level_;
  std::ostringstream stream_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

}  // namespace

TEST_CASE("a failed trace is reduced to its bounded first line without secrets", "[connect]") {
  const std::string trace =
      "org.apache.kafka.connect.errors.ConnectException: cannot open jdbc:postgresql://app:hunter2@db:5432/x "
      "with password=s3cr3t-value and token: abc.def\n"
      "\tat org.apache.kafka.connect.file.FileStreamSinkTask.start(FileStreamSinkTask.java:70)\n"
      "\tat org.apache.kafka.connect.runtime.WorkerSinkTask.initializeAndStart(WorkerSinkTask.java:329)\n";
  std::string line = ReduceTrace(trace, {}, 1000);
  INFO(line);
  CHECK(line.rfind("org.apache.kafka.connect.errors.ConnectException: cannot open", 0) == 0);
  CHECK(line.find("FileStreamSinkTask.java") == std::string::npos);
  CHECK(line.find("hunter2") == std::string::npos);
  CHECK(line.find("s3cr3t") == std::string::npos);
  CHECK(line.find("abc.def") == std::string::npos);
  CHECK(line.find("jdbc:postgresql://[redacted]@db:5432/x") != std::string::npos);
  CHECK(line.find("password=[redacted]") != std::string::npos);

  // A configured secret value, wherever it shows up, and the length bound.
  line = ReduceTrace("java.io.IOException: login as svc with Zx9!longvalue failed\n\tat x", {"Zx9!longvalue"},
                     40);
  CHECK(line == "java.io.IOException: login as svc with [");
  CHECK(ReduceTrace("", {}, 200).empty());
  CHECK(ReduceTrace("caf\xc3\xa9 \x01\r\nnext", {}, 200) == "caf?? ?");
  // A huge one-line trace costs a bounded amount of work, also as one long "secret".
  CHECK(ReduceTrace(std::string(1000000, 'x'), {}, 200).size() == 200);
  CHECK(ReduceTrace("password=" + std::string(1000000, 'x'), {}, 1000) == "password=[redacted]");

  CHECK(IsSecretKey("connection.password"));
  CHECK(IsSecretKey("sasl.jaas.config"));
  CHECK(IsSecretKey("aws.secret.access.key"));
  CHECK(IsSecretKey("consumer.override.ssl.keystore.key"));
  CHECK_FALSE(IsSecretKey("key.converter"));
  CHECK_FALSE(IsSecretKey("topics"));
  CHECK_FALSE(IsSecretKey("connector.class"));
}

TEST_CASE("healthy cluster: version, connectors, states, tasks per worker", "[connect]") {
  FakeRegistry f;
  REQUIRE(f.running());
  ServeConnect(f, Healthy());
  ConnectCollector c(CcConfig({Endpoint(f.url())}));
  auto r = CollectOnce(c);
  INFO(r.text);
  CHECK(r.status.ok);
  REQUIRE(IsUp(r));
  CHECK(Find(r.samples, "kafka_connect_info",
             {{"connect", "main"},
              {"version", "3.9.1"},
              {"commit", "f745dfdcee2b9851"},
              {"kafka_cluster_id", "Uq6zV3DyQ5mBOzJtY0E1nA"}}) == 1.0);
  auto latency = Find(r.samples, "kafka_connect_request_latency_seconds", {{"connect", "main"}});
  REQUIRE(latency);
  CHECK(*latency > 0);
  CHECK(*latency < 1);
  CHECK(Find(r.samples, "kafka_connect_connectors", {{"connect", "main"}}) == 2.0);
  CHECK(StateOf(r.samples, "kafka_connect_connector_state", {{"connector", "orders-sink"}}) == "RUNNING");
  CHECK(StateOf(r.samples, "kafka_connect_connector_state", {{"connector", "audit-source"}}) == "PAUSED");
  CHECK(Find(r.samples, "kafka_connect_connector_info",
             {{"connector", "orders-sink"},
              {"type", "sink"},
              {"class", "org.apache.kafka.connect.file.FileStreamSinkConnector"},
              {"worker", "10.0.0.1:8083"}}) == 1.0);
  CHECK(Find(r.samples, "kafka_connect_connector_info",
             {{"connector", "audit-source"}, {"type", "source"}}) == 1.0);
  CHECK(StateOf(r.samples, "kafka_connect_task_state", {{"connector", "orders-sink"}, {"task", "1"}}) ==
        "RUNNING");
  CHECK(StateOf(r.samples, "kafka_connect_task_state", {{"connector", "audit-source"}, {"task", "0"}}) ==
        "PAUSED");
  CHECK(Find(r.samples, "kafka_connect_task_info",
             {{"connector", "orders-sink"}, {"task", "1"}, {"worker", "10.0.0.2:8083"}}) == 1.0);
  CHECK(Find(r.samples, "kafka_connect_worker_tasks", {{"worker", "10.0.0.1:8083"}}) == 1.0);
  CHECK(Find(r.samples, "kafka_connect_worker_tasks", {{"worker", "10.0.0.2:8083"}}) == 2.0);
  CHECK(FindAll(r.samples, "kafka_connect_task_failure_info").empty());
  CHECK(FindAll(r.samples, "kafka_connect_connector_failure_info").empty());
  // Never a configuration value other than the class.
  CHECK(r.text.find("tasks.max") == std::string::npos);
  CHECK(f.Requests("/connectors") == 1);
  CHECK(f.Requests("/") == 2);
}

TEST_CASE("a failed task and connector: FAILED with the first trace line, secrets never exported or logged",
          "[connect]") {
  LogCapture log;
  FakeRegistry f;
  REQUIRE(f.running());
  const std::string secret = "Pa55-w0rd-never-shown";
  FakeConnector bad;
  bad.name = "jdbc-sink";
  bad.connector_class = "io.confluent.connect.jdbc.JdbcSinkConnector";
  bad.extra_config = {{"connection.password", secret}, {"connection.user", "svc"}};
  bad.tasks = {
      {0, "FAILED", "10.0.0.1:8083",
       "org.apache.kafka.connect.errors.ConnectException: java.sql.SQLException: login failed for svc "
       "with " +
           secret + "\n\tat io.confluent.connect.jdbc.sink.JdbcSinkTask.put(JdbcSinkTask.java:101)\n"},
      {1, "RUNNING", "10.0.0.2:8083", ""}};
  FakeConnector broken;
  broken.name = "broken-source";
  broken.type = "source";
  broken.state = "FAILED";
  broken.trace =
      "java.lang.NoClassDefFoundError: com/example/Missing\n\tat java.base/java.lang.Class.forName0";
  ServeConnect(f, {bad, broken});
  ConnectCollector c(CcConfig({Endpoint(f.url())}));
  auto r = CollectOnce(c);
  INFO(r.text);
  REQUIRE(IsUp(r));
  CHECK(StateOf(r.samples, "kafka_connect_task_state", {{"connector", "jdbc-sink"}, {"task", "0"}}) ==
        "FAILED");
  CHECK(StateOf(r.samples, "kafka_connect_task_state", {{"connector", "jdbc-sink"}, {"task", "1"}}) ==
        "RUNNING");
  auto failures = FindAll(r.samples, "kafka_connect_task_failure_info", {{"connector", "jdbc-sink"}});
  REQUIRE(failures.size() == 1);
  CHECK(failures[0].labels.at("task") == "0");
  CHECK(failures[0].labels.at("trace") ==
        "org.apache.kafka.connect.errors.ConnectException: java.sql.SQLException: login failed for svc with "
        "[redacted]");
  CHECK(StateOf(r.samples, "kafka_connect_connector_state", {{"connector", "broken-source"}}) == "FAILED");
  CHECK(Find(r.samples, "kafka_connect_connector_failure_info",
             {{"connector", "broken-source"},
              {"trace", "java.lang.NoClassDefFoundError: com/example/Missing"}}) == 1.0);
  CHECK(r.text.find(secret) == std::string::npos);
  CHECK(r.text.find("JdbcSinkTask.java") == std::string::npos);
  CHECK(log.text().find(secret) == std::string::npos);
}

TEST_CASE("every failure class of a Connect cluster, then recovery", "[connect]") {
  LogCapture log;
  FakeRegistry::Options o;
  o.hang_limit = 5000ms;
  FakeRegistry f(o);
  REQUIRE(f.running());
  ServeConnect(f, Healthy());
  ConnectCollector c(CcConfig({Endpoint(f.url(), "main", Millis(800))}, Millis(2000)));
  REQUIRE(IsUp(CollectOnce(c)));

  struct Case {
    Failure failure;
    std::string path;
    std::string cls;
  };
  const std::vector<Case> cases = {
      {Failure::kHttp500, "", "http_5xx"},
      {Failure::kHttp500, "/connectors", "http_5xx"},
      {Failure::kUnauthorized, "", "auth"},
      {Failure::kNotFound, "/connectors", "http_4xx"},
      {Failure::kMalformedJson, "/connectors", "bad_response"},
      {Failure::kMalformedJson, "/", "bad_response"},
      {Failure::kWrongContentType, "", "bad_response"},
      {Failure::kHang, "", "timeout"},
      {Failure::kHang, "/connectors", "timeout"},
      {Failure::kTrickle, "/connectors", "timeout"},
  };
  for (const auto& k : cases) {
    DYNAMIC_SECTION(static_cast<int>(k.failure)
                    << " on '" << (k.path.empty() ? "*" : k.path) << "' -> " << k.cls) {
      f.SetFailure(k.failure, k.path);
      auto r = CollectOnce(c);
      CheckDown(r, k.cls);
      CHECK(r.seconds < 1.5);  // the cluster's 800 ms, not the fake's 5 s hang
      CHECK(
          Find(r.samples, "kafka_connect_last_success_timestamp_seconds", {{"connect", "main"}}).value_or(0) >
          0);
      f.SetFailure(Failure::kNone);
      REQUIRE(IsUp(CollectOnce(c)));
    }
  }
  // The log names the class, never a body.
  CHECK(log.text().find("orders-sink") == std::string::npos);
}

TEST_CASE("answers of the wrong shape are bad_response", "[connect]") {
  FakeRegistry f;
  REQUIRE(f.running());
  ServeConnect(f, Healthy());
  ConnectCollector c(CcConfig({Endpoint(f.url())}));
  SECTION("GET /connectors without expand support: a list of names") {
    f.SetJson("/connectors", "[\"orders-sink\"]");
    CheckDown(CollectOnce(c), "bad_response");
  }
  SECTION("GET / without a version") {
    f.SetJson("/", "{\"kafka_cluster_id\": \"x\"}");
    CheckDown(CollectOnce(c), "bad_response");
  }
  SECTION("an entry that is not an object") {
    f.SetJson("/connectors", "{\"orders-sink\": 3}");
    CheckDown(CollectOnce(c), "bad_response");
  }
  SECTION("odd but valid: unknown state, missing task ids, non-string fields") {
    f.SetJson("/connectors",
              R"({"x": {"status": {"connector": {"state": "SUSPENDED", "worker_id": 7},
                        "tasks": [{"state": "RUNNING"}, {"id": -1, "state": "RUNNING"}, {"id": 0, "state": 1}],
                        "type": "weird"}, "info": {"config": {"connector.class": 5}}}})");
    auto r = CollectOnce(c);
    INFO(r.text);
    REQUIRE(IsUp(r));
    CHECK(Find(r.samples, "kafka_connect_connector_info",
               {{"connector", "x"}, {"type", "unknown"}, {"class", "unknown"}, {"worker", "unknown"}}) ==
          1.0);
    // No known state is 1; the task with a usable id is kept, its state unknown.
    for (const auto& s : FindAll(r.samples, "kafka_connect_connector_state", {{"connector", "x"}}))
      CHECK(s.value == 0);
    CHECK(FindAll(r.samples, "kafka_connect_task_state", {{"connector", "x"}}).size() == 6);
  }
}

TEST_CASE("connection refused, a cluster that comes up later, and one hanging among two", "[connect]") {
  int port = FreePort();
  FakeRegistry healthy;
  REQUIRE(healthy.running());
  ServeConnect(healthy, Healthy());
  ConnectCollector c(CcConfig(
      {Endpoint("http://127.0.0.1:" + std::to_string(port), "late"), Endpoint(healthy.url(), "other")},
      Millis(3000)));
  auto r = CollectOnce(c);
  CheckDown(r, "connection", "late");
  CHECK(IsUp(r, "other"));
  CHECK(r.seconds < 0.5);

  FakeRegistry::Options o;
  o.port = port;
  o.hang_limit = 10000ms;
  FakeRegistry late(o);
  REQUIRE(late.running());
  ServeConnect(late, Healthy());
  r = CollectOnce(c);
  CHECK(IsUp(r, "late"));
  CHECK(IsUp(r, "other"));

  late.SetFailure(Failure::kHang);
  r = CollectOnce(c);
  CheckDown(r, "timeout", "late");
  CHECK(IsUp(r, "other"));
  CHECK(r.seconds < 2.0);  // late's own 1 s timeout
  late.SetFailure(Failure::kNone);
}

TEST_CASE("basic auth from password_file, and the password never shows", "[connect]") {
  LogCapture log;
  const std::string password = "c0nnect-Secret-42";
  FakeRegistry::Options o;
  o.username = "monitor";
  o.password = password;
  FakeRegistry f(o);
  REQUIRE(f.running());
  ServeConnect(f, Healthy());
  auto e = Endpoint(f.url());
  e.username = "monitor";
  e.password_file = WriteTemp("password", password + "\n");
  {
    ConnectCollector c(CcConfig({e}));
    auto r = CollectOnce(c);
    CHECK(IsUp(r));
    CHECK(r.text.find(password) == std::string::npos);
  }
  std::ofstream(e.password_file) << "wrong\n";
  {
    ConnectCollector c(CcConfig({e}));
    CheckDown(CollectOnce(c), "auth");
  }
  unlink(e.password_file.c_str());
  {
    ConnectCollector c(CcConfig({e}));
    CheckDown(CollectOnce(c), "auth");
  }
  // Credentials in the URL are ignored, and never in the label.
  auto in_url = Endpoint("http://monitor:" + password + "@127.0.0.1:" + std::to_string(f.port()), "");
  {
    ConnectCollector c(CcConfig({in_url}));
    auto r = CollectOnce(c);
    const std::string label = "http://127.0.0.1:" + std::to_string(f.port());
    CheckDown(r, "auth", label);
    CHECK(r.text.find(password) == std::string::npos);
  }
  CHECK(log.text().find(password) == std::string::npos);
}

TEST_CASE("at most max_connectors connectors are exported, all are counted", "[connect]") {
  FakeRegistry f;
  REQUIRE(f.running());
  std::vector<FakeConnector> many;
  for (const char* n : {"c-3", "c-1", "c-2"}) {
    FakeConnector k;
    k.name = n;
    k.tasks = {{0, "RUNNING", "w:8083", ""}};
    many.push_back(k);
  }
  ServeConnect(f, many);
  auto cfg = CcConfig({Endpoint(f.url())});
  cfg.max_connectors = 2;
  ConnectCollector c(cfg);
  auto r = CollectOnce(c);
  INFO(r.text);
  REQUIRE(IsUp(r));
  CHECK(Find(r.samples, "kafka_connect_connectors") == 3.0);
  CHECK(FindAll(r.samples, "kafka_connect_connector_info").size() == 2);
  CHECK(FindAll(r.samples, "kafka_connect_connector_info", {{"connector", "c-3"}}).empty());
  CHECK(Find(r.samples, "kafka_connect_worker_tasks", {{"worker", "w:8083"}}) == 2.0);
}

TEST_CASE("connect is registered only when enabled with at least one cluster", "[connect]") {
  auto names = [](const dora::Config& cfg) {
    CollectorDeps deps;
    auto built = BuildCollectors(cfg, &deps);
    std::vector<std::string> out;
    if (built.ok()) {
      for (const auto& col : built.value()) out.push_back(col->name());
    }
    return out;
  };
  auto has = [](const std::vector<std::string>& v) {
    return std::find(v.begin(), v.end(), "connect") != v.end();
  };
  dora::Config cfg;
  cfg.kafka.bootstrap_servers = {"127.0.0.1:" + std::to_string(FreePort())};
  CHECK_FALSE(has(names(cfg)));
  cfg.collectors.connect.clusters.push_back(Endpoint("http://127.0.0.1:8083"));
  CHECK(has(names(cfg)));
  cfg.collectors.connect.enabled = false;
  CHECK_FALSE(has(names(cfg)));
}

TEST_CASE("connect config: keys, defaults and errors with their place", "[connect][config]") {
  ConfigErrors errors;
  Config c = ParseConfig(
      "collectors:\n"
      "  connect:\n"
      "    interval: 10s\n"
      "    timeout: 3s\n"
      "    max_connectors: 50\n"
      "    max_trace_length: 120\n"
      "    clusters:\n"
      "      - {name: mm2, url: 'https://connect:8083', username: m, password_file: /run/p, timeout: 2s}\n"
      "      - {url: 'http://other:8083'}\n",
      "test.yaml", &errors);
  INFO(errors.Joined());
  REQUIRE(errors.empty());
  const auto& cc = c.collectors.connect;
  CHECK(cc.interval == Millis(10000));
  CHECK(cc.max_connectors == 50);
  CHECK(cc.max_trace_length == 120);
  REQUIRE(cc.clusters.size() == 2);
  CHECK(cc.clusters[0].name == "mm2");
  CHECK(cc.clusters[0].timeout == Millis(2000));
  CHECK(cc.clusters[1].timeout == Millis(3000));  // the collector's timeout

  ConfigErrors bad;
  Config b = ParseConfig(
      "collectors:\n"
      "  connect:\n"
      "    max_trace_length: 5\n"
      "    clusters:\n"
      "      - {name: a, url: 'connect:8083'}\n"
      "      - {name: a, url: 'http://x:8083', timeout: 0s, passwd: x}\n",
      "test.yaml", &bad);
  ValidateConfig(b, &bad);
  const std::string all = bad.Joined();
  INFO(all);
  CHECK(all.find("test.yaml:6:") != std::string::npos);
  CHECK(all.find("collectors.connect.clusters[1].passwd: unknown key") != std::string::npos);
  CHECK(all.find("collectors.connect.clusters[0].url: expected an http:// or https:// URL") !=
        std::string::npos);
  CHECK(all.find("collectors.connect.clusters[1].name: duplicate Connect cluster \"a\"") !=
        std::string::npos);
  CHECK(all.find("collectors.connect.clusters[1].timeout: must be greater than 0") != std::string::npos);
  CHECK(all.find("test.yaml:3:") != std::string::npos);
  CHECK(all.find("collectors.connect.max_trace_length: must be between 20 and 1000") != std::string::npos);
}
