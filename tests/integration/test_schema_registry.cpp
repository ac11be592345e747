// The real binary probing the in-process fake registry, with Kafka dead: the
// schema_registry collector reports the registry on its own, recovers, and a
// hanging registry never slows /metrics down.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "support/daemon.h"
#include "support/fake_registry.h"

using namespace dora::test;
using namespace std::chrono_literals;
using Failure = FakeRegistry::Failure;

namespace {

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = "/tmp/dora-it-sr-" + std::to_string(getpid()) + "-" + name;
  std::ofstream(path) << text;
  return path;
}

std::string ErrorClass(const std::vector<Sample>& s, const std::string& registry) {
  auto all = FindAll(s, "kafka_schema_registry_last_error", {{"registry", registry}});
  return all.size() == 1 ? all[0].labels.at("class") : "";
}

bool IsUp(const std::vector<Sample>& s, const std::string& registry) {
  return Find(s, "kafka_schema_registry_up", {{"registry", registry}}) == 1.0 &&
         ErrorClass(s, registry) == "none";
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

TEST_CASE("daemon probes a schema registry: up, 500, recovery, hang", "[schema_registry][daemon]") {
  FakeRegistry reg;
  REQUIRE(reg.running());
  reg.SetSubject("orders-value", 3);
  reg.SetSubject("payments-value", 2);
  std::string cfg = WriteTemp("daemon.yaml",
                              "collectors:\n"
                              "  cluster: {interval: 1s, timeout: 2s}\n"
                              "  schema_registry: {interval: 1s, timeout: 2s}\n"
                              "retry: {initial_backoff: 200ms, max_backoff: 1s}\n");
  const std::string label = reg.url();  // --schema-registry.url names the registry by its URL
  Daemon d({"--config", cfg, DeadBroker(), "--schema-registry.url=" + reg.url()});
  REQUIRE(d.WaitHealthy());
  std::vector<Sample> s;

  bool up = d.WaitFor([&](const auto& x) { return IsUp(x, label); }, 30s, &s);
  INFO(d.Log());
  REQUIRE(up);
  CHECK(Find(s, "kafka_schema_registry_subjects", {{"registry", label}}) == 2.0);
  CHECK(Find(s, "kafka_schema_registry_schema_versions", {{"registry", label}}) == 5.0);
  CHECK(Find(s, "kafka_schema_registry_info",
             {{"registry", label}, {"mode", "READWRITE"}, {"compatibility", "BACKWARD"}}) == 1.0);
  CHECK(Find(s, "kafka_exporter_collector_success", {{"collector", "schema_registry"}}) == 1.0);
  // Kafka is dead: its collector fails while the registry's succeeds.
  CHECK(Find(s, "kafka_exporter_collector_success", {{"collector", "cluster"}}) == 0.0);

  reg.SetFailure(Failure::kHttp500);
  REQUIRE(d.WaitFor(
      [&](const auto& x) {
        return Find(x, "kafka_schema_registry_up", {{"registry", label}}) == 0.0 &&
               ErrorClass(x, label) == "http_5xx";
      },
      20s, &s));
  // A registry being down is not a collector failure.
  CHECK(Find(s, "kafka_exporter_collector_success", {{"collector", "schema_registry"}}) == 1.0);
  CHECK(FindAll(s, "kafka_schema_registry_subjects", {{"registry", label}}).empty());
  CHECK(Find(s, "kafka_schema_registry_last_success_timestamp_seconds", {{"registry", label}}).value_or(0) >
        0);

  reg.SetFailure(Failure::kNone);
  REQUIRE(d.WaitFor([&](const auto& x) { return IsUp(x, label); }, 20s, &s));

  // A hanging registry: every scrape still answers at once, and the probe ends
  // as a timeout within the collector's timeout.
  reg.SetFailure(Failure::kHang);
  double slowest = 0;
  bool timed_out = false;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100 && Seconds(start) < 20; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto reply = HttpGet(d.port(), "/metrics");
    slowest = std::max(slowest, Seconds(t0));
    REQUIRE(reply.status == 200);
    s = ParseExposition(reply.body);
    if (Find(s, "kafka_schema_registry_up", {{"registry", label}}) == 0.0 &&
        ErrorClass(s, label) == "timeout") {
      timed_out = true;
      if (Seconds(start) > 4) break;  // a few more hung probes, scraped meanwhile
    }
    std::this_thread::sleep_for(100ms);
  }
  WARN("slowest /metrics while the registry hung: " << slowest * 1000 << " ms");
  CHECK(timed_out);
  CHECK(slowest < 0.5);
  CHECK(Find(s, "kafka_exporter_collector_success", {{"collector", "schema_registry"}}) == 1.0);
  auto duration = Find(s, "kafka_exporter_collector_duration_seconds", {{"collector", "schema_registry"}});
  REQUIRE(duration);
  CHECK(*duration < 2.0);  // within the collector's 2s timeout

  reg.SetFailure(Failure::kNone);
  REQUIRE(d.WaitFor([&](const auto& x) { return IsUp(x, label); }, 20s, &s));
  unlink(cfg.c_str());
}

TEST_CASE("daemon: named registries with basic auth and TLS from the config file",
          "[schema_registry][daemon]") {
  TestCerts certs = MakeTestCerts();
  if (!certs.ok()) {
    WARN("cannot make test certificates with the openssl CLI: " << certs.error);
    RemoveTestCerts(certs);
    return;
  }
  const std::string secret = "it-Secret-0f-the-registry";
  FakeRegistry::Options o;
  o.tls = true;
  o.cert_file = certs.server_cert;
  o.key_file = certs.server_key;
  o.username = "exporter";
  o.password = secret;
  FakeRegistry main_reg(o);
  REQUIRE(main_reg.running());
  main_reg.SetSubject("orders-value", 1);
  std::string pw = WriteTemp("password", secret + "\n");
  std::string cfg = WriteTemp("tls.yaml",
                              "collectors:\n"
                              "  cluster: {enabled: false}\n"
                              "  schema_registry:\n"
                              "    interval: 1s\n"
                              "    timeout: 2s\n"
                              "    registries:\n"
                              "      - name: main\n"
                              "        url: " +
                                  main_reg.url() +
                                  "\n"
                                  "        username: exporter\n"
                                  "        password_file: " +
                                  pw +
                                  "\n"
                                  "        ca_file: " +
                                  certs.ca_cert +
                                  "\n"
                                  "      - name: dr\n"
                                  "        url: " +
                                  main_reg.url() +
                                  "\n"
                                  "        username: exporter\n"
                                  "        password_file: " +
                                  pw +
                                  "\n"
                                  "        ca_file: " +
                                  certs.other_ca_cert + "\n        timeout: 1s\n");
  Daemon d({"--config", cfg, DeadBroker(), "--log.level=debug"});
  REQUIRE(d.WaitHealthy());
  std::vector<Sample> s;
  bool ok =
      d.WaitFor([&](const auto& x) { return IsUp(x, "main") && ErrorClass(x, "dr") == "tls"; }, 30s, &s);
  INFO(d.Log());
  REQUIRE(ok);
  CHECK(Find(s, "kafka_schema_registry_subjects", {{"registry", "main"}}) == 1.0);
  CHECK(Find(s, "kafka_schema_registry_up", {{"registry", "dr"}}) == 0.0);
  CHECK(d.Metrics().find(secret) == std::string::npos);
  CHECK(d.Log().find(secret) == std::string::npos);
  unlink(cfg.c_str());
  unlink(pw.c_str());
  RemoveTestCerts(certs);
}
