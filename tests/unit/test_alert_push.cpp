// The Alertmanager push (alerting/notifier.h) against a recording HTTP server
// standing in for Alertmanager, its queue, the /api/v1/alerts JSON
// (alerting/api_json.h) and the alerting.* configuration keys. The real
// Alertmanager is in tests/integration/test_alertmanager.cpp.
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <prometheus/registry.h>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>

#include "alerting/api_json.h"
#include "alerting/format.h"
#include "alerting/notifier.h"
#include "alerting/send_queue.h"
#include "config/loader.h"
#include "http/basic_auth.h"
#include "http/server.h"
#include "support/alertmanager.h"
#include "support/temp_dir.h"

using namespace dora;
using namespace dora::alerting;
using namespace std::chrono_literals;
using dora::test::HookServer;
using dora::test::TestAlerts;
using json = nlohmann::json;

namespace {

const SysTime kT0 = std::chrono::system_clock::from_time_t(1796630400);  // 2026-12-07T08:00:00Z

Alert MakeAlert(const std::string& name, AlertState state, Labels extra = {}) {
  Alert a;
  a.labels = std::move(extra);
  a.labels["alertname"] = name;
  a.labels.emplace("severity", "page");
  a.annotations = {{"summary", name + " summary"}, {"runbook_url", "docs/runbooks.md#" + name}};
  a.state = state;
  a.value = 10001;
  a.active_at = kT0;
  if (state != AlertState::kPending) a.fired_at = kT0 + 30s;
  if (state == AlertState::kResolved) a.resolved_at = kT0 + 90s;
  return a;
}

NotifierOptions Options(const std::string& url) {
  NotifierOptions o;
  AlertmanagerEndpoint am;
  am.name = "am1";
  am.url = url;
  am.timeout = 2s;
  o.alertmanagers = {am};
  o.resend_delay = 400ms;
  o.evaluation_interval = 100ms;
  o.poll_interval = 20ms;
  o.initial_backoff = 50ms;
  o.max_backoff = 200ms;
  return o;
}

// The alerts of every POST, in order.
std::vector<json> Sent(const HookServer& hook) {
  std::vector<json> out;
  for (const auto& p : hook.posts()) {
    for (const auto& a : json::parse(p.body)) out.push_back(a);
  }
  return out;
}

size_t CountNamed(const std::vector<HookServer::Post>& posts, const std::string& name) {
  size_t n = 0;
  for (const auto& p : posts) {
    for (const auto& a : json::parse(p.body)) n += a["labels"]["alertname"] == name ? 1 : 0;
  }
  return n;
}

}  // namespace

TEST_CASE("/api/v1/alerts: Prometheus's JSON for a known snapshot, pending and firing only", "[api_alerts]") {
  AlertsSnapshot snap;
  Alert firing = MakeAlert("KafkaConsumerGroupLag", AlertState::kFiring, {{"consumergroup", "billing"}});
  firing.annotations = {{"summary", "Group \"billing\" lags 10000 messages"}};
  firing.value = 10000;
  firing.active_at = kT0 + 500ms;
  Alert pending = MakeAlert("KafkaBrokerDiskUsage", AlertState::kPending, {{"broker", "1"}});
  pending.annotations = {};
  pending.value = 0.8125;
  Alert resolved = MakeAlert("KafkaTopicPartitionOffline", AlertState::kResolved);
  snap.alerts = {pending, firing, resolved};
  CHECK(RenderAlertsApi(snap) ==
        R"({"status":"success","data":{"alerts":[)"
        R"({"labels":{"alertname":"KafkaBrokerDiskUsage","broker":"1","severity":"page"},"annotations":{},)"
        R"("state":"pending","activeAt":"2026-12-07T08:00:00Z","value":"8.125e-01"},)"
        R"({"labels":{"alertname":"KafkaConsumerGroupLag","consumergroup":"billing","severity":"page"},)"
        R"("annotations":{"summary":"Group \"billing\" lags 10000 messages"},)"
        R"("state":"firing","activeAt":"2026-12-07T08:00:00.5Z","value":"1e+04"}]}})");
  CHECK(RenderAlertsApi(AlertsSnapshot{}) == R"({"status":"success","data":{"alerts":[]}})");
}

TEST_CASE("alert values and times are written as Prometheus writes them", "[api_alerts]") {
  CHECK(PromValue(0) == "0e+00");
  CHECK(PromValue(1) == "1e+00");
  CHECK(PromValue(0.1) == "1e-01");
  CHECK(PromValue(1234.5) == "1.2345e+03");
  CHECK(PromValue(-2.5) == "-2.5e+00");
  CHECK(PromValue(1e21) == "1e+21");
  CHECK(PromValue(1.0 / 3) == "3.333333333333333e-01");  // 16 digits read back exactly
  CHECK(PromValue(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(PromValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(PromValue(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  CHECK(Rfc3339Nano(kT0) == "2026-12-07T08:00:00Z");
  CHECK(Rfc3339Nano(kT0 + 123456789ns) == "2026-12-07T08:00:00.123456789Z");
  CHECK(Rfc3339Nano(kT0 + 120ms) == "2026-12-07T08:00:00.12Z");
  CHECK(Rfc3339Millis(kT0) == "2026-12-07T08:00:00.000Z");
  CHECK(Rfc3339Millis(kT0 + 61s + 7ms) == "2026-12-07T08:01:01.007Z");
}

TEST_CASE("/api/v1/alerts is served by the HTTP server behind its basic auth", "[api_alerts]") {
  dora::test::TempDir dir("dora-api-alerts");
  const std::string web = dir.Write("web.yml", "basic_auth_users:\n  alice: " + BcryptHash("pw-1", 5) + "\n");
  AlertsSnapshot snap;
  snap.alerts = {MakeAlert("KafkaBrokersMissing", AlertState::kFiring)};
  WebConfig wc;
  wc.listen_address = "127.0.0.1:0";
  wc.config_file = web;
  HttpHandlers handlers;
  handlers.metrics = [](bool) { return nullptr; };
  handlers.ready = [] { return true; };
  handlers.alerts = [&] { return RenderAlertsApi(snap); };
  HttpServer server(wc, handlers);
  REQUIRE(server.Bind().ok);
  std::thread serve([&] { server.Serve(); });
  httplib::Client cli("127.0.0.1", server.port());
  cli.set_read_timeout(5, 0);
  auto anonymous = cli.Get("/api/v1/alerts");
  cli.set_basic_auth("alice", "pw-1");
  auto res = cli.Get("/api/v1/alerts");
  server.Stop();
  serve.join();
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "application/json");
  CHECK(res->body == RenderAlertsApi(snap));
  CHECK(json::parse(res->body)["data"]["alerts"][0]["labels"]["alertname"] == "KafkaBrokersMissing");
}

TEST_CASE("send queue: bounded, oldest dropped first, a waiting alert replaced by its newer version",
          "[notifier]") {
  SendQueue q(3);
  CHECK(q.Push({{"a", "1"}, {"b", "2"}}) == 0);
  CHECK(q.Push({{"a", "1b"}}) == 0);  // replaced in place, not added
  CHECK(q.size() == 2);
  auto batch = q.Front(10);
  CHECK(batch.body == "[1b,2]");
  CHECK(q.Push({{"b", "2b"}, {"c", "3"}, {"d", "4"}, {"e", "5"}}) == 2);  // a and b dropped
  CHECK(q.size() == 3);
  CHECK(q.Remove(batch) == 0);  // a is gone, b was replaced and then dropped
  auto next = q.Front(2);
  CHECK(next.body == "[3,4]");
  q.Push({{"c", "3b"}});
  CHECK(q.Remove(next) == 1);  // d; c waits with its newer version
  CHECK(q.Front(10).body == "[3b,5]");
}

TEST_CASE("notifier: firing sent with external labels, re-sent every resend_delay, resolved with its end",
          "[notifier]") {
  HookServer am;
  TestAlerts source;
  prometheus::Registry registry;
  NotifierMetrics metrics(registry);
  NotifierOptions o = Options(am.url());
  o.external_labels = {{"cluster", "prod"}, {"severity", "never-wins"}};
  o.generator_url = "http://kx-a:9308/api/v1/alerts";
  Alert firing = MakeAlert("KafkaBrokersMissing", AlertState::kFiring, {{"instance", "kx-a:9308"}});
  source.Set({MakeAlert("KafkaTopicUnderReplicated", AlertState::kPending), firing});
  Notifier n(&source, o, &metrics);
  const SysTime before = std::chrono::system_clock::now();
  n.Start();
  REQUIRE(am.WaitFor([](const auto& posts) { return !posts.empty(); }, 5s));
  const SysTime after = std::chrono::system_clock::now();
  const auto first_at = std::chrono::steady_clock::now();
  auto posts = am.posts();
  CHECK(posts[0].path == "/api/v2/alerts");
  CHECK(posts[0].headers["content-type"] == "application/json");
  json a = json::parse(posts[0].body);
  REQUIRE(a.size() == 1);
  CHECK(a[0]["labels"] == json({{"alertname", "KafkaBrokersMissing"},
                                {"cluster", "prod"},
                                {"instance", "kx-a:9308"},
                                {"severity", "page"}}));
  CHECK(a[0]["annotations"] == json({{"summary", "KafkaBrokersMissing summary"},
                                     {"runbook_url", "docs/runbooks.md#KafkaBrokersMissing"}}));
  CHECK(a[0]["startsAt"] == "2026-12-07T08:00:30.000Z");
  // endsAt = send time + 4 x max(evaluation interval 100ms, resend_delay 400ms).
  const std::string ends = a[0]["endsAt"];
  CHECK(ends >= Rfc3339Millis(before + 1600ms));
  CHECK(ends <= Rfc3339Millis(after + 1600ms));
  CHECK(a[0]["generatorURL"] == "http://kx-a:9308/api/v1/alerts");

  // Re-sent after resend_delay, not before.
  REQUIRE(am.WaitFor([](const auto& p) { return CountNamed(p, "KafkaBrokersMissing") >= 2; }, 5s));
  CHECK(std::chrono::steady_clock::now() - first_at >= 350ms);

  // Resolved: sent at once with endsAt = the resolve time.
  Alert resolved = firing;
  resolved.state = AlertState::kResolved;
  resolved.resolved_at = kT0 + 95s;
  source.Set({resolved});
  n.Wake();
  auto resolved_posts = [](const std::vector<HookServer::Post>& all) {
    std::vector<json> out;
    for (const auto& p : all) {
      for (const auto& x : json::parse(p.body))
        if (x["endsAt"] == "2026-12-07T08:01:35.000Z") out.push_back(x);
    }
    return out;
  };
  REQUIRE(am.WaitFor([&](const auto& p) { return !resolved_posts(p).empty(); }, 5s));
  json r = resolved_posts(am.posts()).front();
  CHECK(r["startsAt"] == "2026-12-07T08:00:30.000Z");
  CHECK(r["labels"]["alertname"] == "KafkaBrokersMissing");
  // And again every resend_delay while the snapshot lists it.
  REQUIRE(am.WaitFor([&](const auto& p) { return resolved_posts(p).size() >= 2; }, 5s));
  source.Set({});  // nothing left to send: the counters settle
  n.Wake();
  std::this_thread::sleep_for(300ms);
  n.Stop();
  for (const json& sent : Sent(am)) CHECK(sent["labels"]["alertname"] != "KafkaTopicUnderReplicated");
  const double total = static_cast<double>(Sent(am).size());
  CHECK(metrics.sent("am1").Value() == total);
  CHECK(metrics.failed("am1").Value() == 0);
  CHECK(metrics.dropped("am1").Value() == 0);
  CHECK(metrics.latency("am1").Collect().histogram.sample_count == am.posts().size());
}

TEST_CASE("notifier: a failing Alertmanager is retried with backoff until it answers", "[notifier]") {
  HookServer am;
  am.SetStatus(503);
  TestAlerts source;
  prometheus::Registry registry;
  NotifierMetrics metrics(registry);
  NotifierOptions o = Options(am.url());
  o.resend_delay = 1h;  // every post below is a retry
  source.Set({MakeAlert("KafkaBrokersMissing", AlertState::kFiring)});
  Notifier n(&source, o, &metrics);
  const auto start = std::chrono::steady_clock::now();
  n.Start();
  // Backoff 50, 100, 200, 200 ms: the fourth attempt comes after >= 350 ms.
  REQUIRE(am.WaitFor([](const auto& p) { return p.size() >= 4; }, 5s));
  CHECK(std::chrono::steady_clock::now() - start >= 350ms);
  for (int i = 0; i < 200 && metrics.failed("am1").Value() < 4; ++i) std::this_thread::sleep_for(10ms);
  CHECK(metrics.failed("am1").Value() >= 4);
  CHECK(n.queued(0) == 1);
  am.SetStatus(200);
  for (int i = 0; i < 200 && metrics.sent("am1").Value() < 1; ++i) std::this_thread::sleep_for(10ms);
  CHECK(metrics.sent("am1").Value() == 1);
  CHECK(n.queued(0) == 0);
  CHECK(metrics.queue_length("am1").Value() == 0);
  CHECK(metrics.dropped("am1").Value() == 0);
  const size_t posts = am.posts().size();
  std::this_thread::sleep_for(300ms);
  CHECK(am.posts().size() == posts);  // delivered: no more retries
}

TEST_CASE("notifier: a batch the Alertmanager rejects is dropped and counted, not retried", "[notifier]") {
  HookServer am;
  am.SetStatus(400);
  TestAlerts source;
  prometheus::Registry registry;
  NotifierMetrics metrics(registry);
  NotifierOptions o = Options(am.url());
  o.resend_delay = 1h;
  source.Set({MakeAlert("A", AlertState::kFiring), MakeAlert("B", AlertState::kFiring)});
  Notifier n(&source, o, &metrics);
  n.Start();
  REQUIRE(am.WaitFor([](const auto& p) { return !p.empty(); }, 5s));
  for (int i = 0; i < 200 && metrics.dropped("am1").Value() < 2; ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(200ms);
  CHECK(am.posts().size() == 1);
  CHECK(metrics.dropped("am1").Value() == 2);
  CHECK(metrics.failed("am1").Value() == 2);
  CHECK(n.queued(0) == 0);
}

TEST_CASE("notifier: batches of at most max_batch alerts, every Alertmanager gets each", "[notifier]") {
  HookServer am1, am2;
  TestAlerts source;
  prometheus::Registry registry;
  NotifierMetrics metrics(registry);
  NotifierOptions o = Options(am1.url());
  AlertmanagerEndpoint second = o.alertmanagers[0];
  second.name = "am2";
  second.url = am2.url();
  o.alertmanagers.push_back(second);
  o.resend_delay = 1h;
  o.max_batch = 2;
  std::vector<Alert> alerts;
  for (int i = 0; i < 5; ++i) alerts.push_back(MakeAlert("A" + std::to_string(i), AlertState::kFiring));
  source.Set(alerts);
  Notifier n(&source, o, &metrics);
  n.Start();
  for (auto* am : {&am1, &am2}) {
    REQUIRE(am->WaitFor([](const auto& p) { return CountNamed(p, "A4") == 1; }, 5s));
    std::vector<size_t> sizes;
    for (const auto& p : am->posts()) sizes.push_back(json::parse(p.body).size());
    CHECK(sizes == std::vector<size_t>{2, 2, 1});
  }
  for (int i = 0; i < 200 && (metrics.sent("am1").Value() < 5 || metrics.sent("am2").Value() < 5); ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(metrics.sent("am1").Value() == 5);
  CHECK(metrics.sent("am2").Value() == 5);
}

TEST_CASE("notifier: a full queue drops the oldest alerts and counts them", "[notifier]") {
  HookServer am;
  am.SetStatus(503);
  TestAlerts source;
  prometheus::Registry registry;
  NotifierMetrics metrics(registry);
  NotifierOptions o = Options(am.url());
  o.resend_delay = 1h;
  o.queue_capacity = 3;
  o.initial_backoff = 300ms;
  o.max_backoff = 300ms;
  std::vector<Alert> alerts;
  for (int i = 0; i < 5; ++i) alerts.push_back(MakeAlert("A" + std::to_string(i), AlertState::kFiring));
  source.Set(alerts);
  Notifier n(&source, o, &metrics);
  n.Start();
  for (int i = 0; i < 200 && metrics.dropped("am1").Value() < 2; ++i) std::this_thread::sleep_for(10ms);
  CHECK(metrics.dropped("am1").Value() == 2);
  CHECK(n.queued(0) == 3);
  CHECK(metrics.queue_length("am1").Value() == 3);
  am.SetStatus(200);
  for (int i = 0; i < 300 && metrics.sent("am1").Value() < 3; ++i) std::this_thread::sleep_for(10ms);
  CHECK(metrics.sent("am1").Value() == 3);
  const json last = json::parse(am.posts().back().body);
  std::vector<std::string> names;
  for (const auto& a : last) names.push_back(a["labels"]["alertname"]);
  CHECK(names == std::vector<std::string>{"A2", "A3", "A4"});  // the newest three
}

TEST_CASE("notifier: bearer token from a file, basic auth password from the environment", "[notifier]") {
  dora::test::TempDir dir("dora-notifier-auth");
  HookServer am1, am2;
  TestAlerts source;
  NotifierOptions o = Options(am1.url());
  o.alertmanagers[0].bearer_token_file = dir.Write("token", "t0ken-value\n");
  AlertmanagerEndpoint basic = o.alertmanagers[0];
  basic.name = "am2";
  basic.url = am2.url();
  basic.bearer_token_file.clear();
  basic.username = "dora";
  basic.password_env = "DORA_TEST_AM_PASSWORD";
  setenv("DORA_TEST_AM_PASSWORD", "pw-from-env", 1);
  o.alertmanagers.push_back(basic);
  source.Set({MakeAlert("A", AlertState::kFiring)});
  Notifier n(&source, o, nullptr);
  n.Start();
  REQUIRE(am1.WaitFor([](const auto& p) { return !p.empty(); }, 5s));
  REQUIRE(am2.WaitFor([](const auto& p) { return !p.empty(); }, 5s));
  n.Stop();
  CHECK(am1.posts()[0].headers["authorization"] == "Bearer t0ken-value");
  // base64("dora:pw-from-env")
  CHECK(am2.posts()[0].headers["authorization"] == "Basic ZG9yYTpwdy1mcm9tLWVudg==");
}

TEST_CASE("notifier: Stop() returns at once while a send hangs", "[notifier]") {
  // A socket that listens but never accepts: the connection completes, the
  // request is written, no answer ever comes.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(fd, 16) == 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  TestAlerts source;
  prometheus::Registry registry;
  NotifierMetrics metrics(registry);
  NotifierOptions o = Options("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
  o.alertmanagers[0].timeout = 30s;
  source.Set({MakeAlert("A", AlertState::kFiring)});
  Notifier n(&source, o, &metrics);
  n.Start();
  std::this_thread::sleep_for(300ms);  // the send is in flight
  const auto start = std::chrono::steady_clock::now();
  n.Stop();
  const auto took = std::chrono::steady_clock::now() - start;
  close(fd);
  CHECK(took < 1s);
  CHECK(metrics.sent("am1").Value() == 0);
}

TEST_CASE("config: alerting keys, their defaults and their checks", "[config][notifier]") {
  Config defaults;
  CHECK(defaults.alerting.resend_delay == 1min);
  CHECK(defaults.alerting.alertmanagers.empty());
  CHECK(AlertmanagerEndpoint().timeout == 10s);
  dora::test::TempDir dir("dora-am-config");
  const std::string token = dir.Write("am-token", "t\n");
  const std::string password = dir.Write("am", "p\n");
  ConfigErrors errors;
  Config c = ParseConfig(
      "alerting:\n  resend_delay: 2m\n  external_labels: {cluster: prod}\n  alertmanagers:\n"
      "    - {name: am-a, url: 'https://am-a:9093', bearer_token_file: '" +
          token +
          "', ca_file: /ca.pem}\n"
          "    - {url: 'http://am-b:9093/prefix', username: dora, password_file: '" +
          password + "', timeout: 3s}\n",
      "test.yaml", &errors);
  INFO(errors.Joined());
  REQUIRE(errors.empty());
  ValidateConfig(c, &errors);
  CHECK(errors.empty());
  CHECK(c.alerting.resend_delay == 2min);
  CHECK(c.alerting.external_labels == std::map<std::string, std::string>{{"cluster", "prod"}});
  REQUIRE(c.alerting.alertmanagers.size() == 2);
  CHECK(c.alerting.alertmanagers[0].bearer_token_file == token);
  CHECK(c.alerting.alertmanagers[0].timeout == 10s);
  CHECK(c.alerting.alertmanagers[1].timeout == 3s);
  NotifierOptions o = NotifierOptionsFrom(c);
  CHECK(o.resend_delay == 2min);
  CHECK(o.evaluation_interval == 15s);
  CHECK(o.alertmanagers.size() == 2);

  ConfigErrors bad;
  Config b = ParseConfig(
      "alerting:\n  external_labels: {__meta: x, 'bad-name': y}\n  alertmanagers:\n"
      "    - {url: 'am:9093', username: u, bearer_token_file: /nonexistent/t}\n"
      "    - {url: 'http://am:9093', username: u, password_file: " +
          dir.path + "}\n",
      "test.yaml", &bad);
  REQUIRE(bad.empty());
  ValidateConfig(b, &bad);
  INFO(bad.Joined());
  CHECK(bad.errors.size() == 6);
  const std::string all = bad.Joined();
  // Credentials are checked at load (--check-config, reload), like the Kafka ones.
  CHECK(all.find("alerting.alertmanagers[0].bearer_token_file: cannot read \"/nonexistent/t\"") !=
        std::string::npos);
  CHECK(all.find("alerting.alertmanagers[1].password_file: cannot read \"" + dir.path +
                 "\": is a directory") != std::string::npos);
  CHECK(all.find("alerting.alertmanagers[0].url: expected an http:// or https:// URL") != std::string::npos);
  CHECK(all.find("set either username (basic auth) or bearer_token_file, not both") != std::string::npos);
  CHECK(all.find("alerting.external_labels.__meta: not a label name") != std::string::npos);
  CHECK(all.find("alerting.external_labels.bad-name: not a label name") != std::string::npos);
}
