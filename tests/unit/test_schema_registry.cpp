// schema_registry collector against the in-process fake registry: every error
// class, recovery, TLS, credentials, bounded time with hanging registries.
#include "collectors/schema_registry.h"

#include <spdlog/sinks/ostream_sink.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "collectors/registry.h"
#include "support/daemon.h"
#include "support/fake_registry.h"
#include "support/metrics_text.h"
#include "util/log.h"

using namespace dora;
using namespace dora::test;
using namespace std::chrono_literals;
using Failure = FakeRegistry::Failure;

namespace {

SchemaRegistryEndpoint Endpoint(const std::string& url, const std::string& name = "main",
                                Millis timeout = Millis(1000)) {
  SchemaRegistryEndpoint e;
  e.name = name;
  e.url = url;
  e.timeout = timeout;
  return e;
}

SchemaRegistryCollectorConfig SrConfig(std::vector<SchemaRegistryEndpoint> regs,
                                       Millis timeout = Millis(2000)) {
  SchemaRegistryCollectorConfig c;
  c.timeout = timeout;
  c.registries = std::move(regs);
  return c;
}

struct Run {
  Status status;
  std::string text;
  std::vector<Sample> samples;
  double seconds = 0;
};

Run CollectOnce(SchemaRegistryCollector& c) {
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

// The one class of kafka_schema_registry_last_error for `registry` ("" unless exactly one series).
std::string ErrorClass(const Run& r, const std::string& registry = "main") {
  auto all = FindAll(r.samples, "kafka_schema_registry_last_error", {{"registry", registry}});
  if (all.size() != 1 || all[0].value != 1) return "";
  return all[0].labels.at("class");
}

// Asserts the series of a registry that is down with `cls`.
void CheckDown(const Run& r, const std::string& cls, const std::string& registry = "main") {
  INFO(r.text);
  CHECK(r.status.ok);
  CHECK(Find(r.samples, "kafka_schema_registry_up", {{"registry", registry}}) == 0.0);
  CHECK(ErrorClass(r, registry) == cls);
  CHECK(FindAll(r.samples, "kafka_schema_registry_subjects", {{"registry", registry}}).empty());
  CHECK(FindAll(r.samples, "kafka_schema_registry_schema_versions", {{"registry", registry}}).empty());
  CHECK(FindAll(r.samples, "kafka_schema_registry_info", {{"registry", registry}}).empty());
  CHECK(
      FindAll(r.samples, "kafka_schema_registry_request_latency_seconds", {{"registry", registry}}).empty());
  CHECK(FindAll(r.samples, "kafka_schema_registry_last_success_timestamp_seconds", {{"registry", registry}})
            .size() == 1);
}

void CheckUp(const Run& r, double subjects, std::optional<double> versions,
             const std::string& mode = "READWRITE", const std::string& compat = "BACKWARD",
             const std::string& registry = "main") {
  INFO(r.text);
  CHECK(r.status.ok);
  CHECK(Find(r.samples, "kafka_schema_registry_up", {{"registry", registry}}) == 1.0);
  CHECK(ErrorClass(r, registry) == "none");
  CHECK(Find(r.samples, "kafka_schema_registry_subjects", {{"registry", registry}}) == subjects);
  if (versions) {
    CHECK(Find(r.samples, "kafka_schema_registry_schema_versions", {{"registry", registry}}) == *versions);
  } else {
    CHECK(FindAll(r.samples, "kafka_schema_registry_schema_versions", {{"registry", registry}}).empty());
  }
  CHECK(Find(r.samples, "kafka_schema_registry_info",
             {{"registry", registry}, {"mode", mode}, {"compatibility", compat}}) == 1.0);
  auto latency = Find(r.samples, "kafka_schema_registry_request_latency_seconds", {{"registry", registry}});
  REQUIRE(latency);
  CHECK(*latency > 0);
  CHECK(*latency < 1);
  auto last =
      Find(r.samples, "kafka_schema_registry_last_success_timestamp_seconds", {{"registry", registry}});
  REQUIRE(last);
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(*last > now - 10);
  CHECK(*last <= now + 1);
}

void Populate(FakeRegistry& f) {
  f.SetSubject("orders-value", 3);
  f.SetSubject("payments-value", 2);
  f.SetSubject("audit-logs-key", 1);
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = "/tmp/dora-sr-unit-" + std::to_string(getpid()) + "-" + name;
  std::ofstream(path) << text;
  return path;
}

// Captures everything the collector logs, at every level, while alive.
class LogCapture {
 public:
  LogCapture() : logger_(GetLogger("collector.schema_registry")), level_(logger_->level()) {
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

TEST_CASE("registry URL parsing, labels and path encoding", "[schema_registry]") {
  auto u = ParseRegistryUrl("http://127.0.0.1:8081");
  REQUIRE(u);
  CHECK(u->origin() == "http://127.0.0.1:8081");
  CHECK(u->base_path.empty());
  u = ParseRegistryUrl("HTTPS://user:p%40ss@registry.example:8443/apis/ccompat/v7/");
  REQUIRE(u);
  CHECK(u->scheme == "https");
  CHECK(u->host == "registry.example");
  CHECK(u->port == 8443);
  CHECK(u->base_path == "/apis/ccompat/v7");
  CHECK(u->has_userinfo);
  u = ParseRegistryUrl("https://[::1]/");
  REQUIRE(u);
  CHECK(u->host == "[::1]");
  CHECK(u->port == 443);
  CHECK_FALSE(ParseRegistryUrl("registry:8081"));
  CHECK_FALSE(ParseRegistryUrl("ftp://x"));
  CHECK_FALSE(ParseRegistryUrl("http://x:99999"));
  CHECK_FALSE(ParseRegistryUrl("http://:80"));

  SchemaRegistryEndpoint e;
  e.url = "http://admin:hunter2@127.0.0.1:8081/base";
  CHECK(RegistryLabel(e) == "http://127.0.0.1:8081/base");
  e.name = "main";
  CHECK(RegistryLabel(e) == "main");

  CHECK(EncodePathSegment("orders-value") == "orders-value");
  CHECK(EncodePathSegment("a/b c:d%") == "a%2Fb%20c%3Ad%25");
}

TEST_CASE("rendering a probe: up and down", "[schema_registry]") {
  RegistryProbe up;
  up.up = true;
  up.latency_seconds = 0.004;
  up.subjects = 3;
  up.schema_versions = 6;
  up.mode = "READONLY";
  up.compatibility = "FULL";
  MetricsBuilder b;
  RenderRegistryProbe("main", up, 1700000000, b);
  RegistryProbe down;
  down.error = RegistryErrorClass::kTls;
  RenderRegistryProbe("dr", down, 0, b);
  auto s = ParseExposition(b.Render());
  CHECK(Find(s, "kafka_schema_registry_up", {{"registry", "main"}}) == 1.0);
  CHECK(Find(s, "kafka_schema_registry_up", {{"registry", "dr"}}) == 0.0);
  CHECK(Find(s, "kafka_schema_registry_info",
             {{"registry", "main"}, {"mode", "READONLY"}, {"compatibility", "FULL"}}) == 1.0);
  CHECK(Find(s, "kafka_schema_registry_schema_versions", {{"registry", "main"}}) == 6.0);
  CHECK(Find(s, "kafka_schema_registry_last_error", {{"registry", "main"}, {"class", "none"}}) == 1.0);
  CHECK(Find(s, "kafka_schema_registry_last_error", {{"registry", "dr"}, {"class", "tls"}}) == 1.0);
  CHECK(FindAll(s, "kafka_schema_registry_last_error", {{"registry", "dr"}}).size() == 1);
  CHECK(Find(s, "kafka_schema_registry_last_success_timestamp_seconds", {{"registry", "dr"}}) == 0.0);
  CHECK(FindAll(s, "kafka_schema_registry_subjects", {{"registry", "dr"}}).empty());
}

TEST_CASE("healthy registry: subjects, versions, info, latency", "[schema_registry]") {
  FakeRegistry f;
  REQUIRE(f.running());
  Populate(f);
  SchemaRegistryCollector c(SrConfig({Endpoint(f.url())}));
  CHECK(c.name() == "schema_registry");
  auto r = CollectOnce(c);
  CheckUp(r, 3, 6);
  auto latency = Find(r.samples, "kafka_schema_registry_request_latency_seconds", {{"registry", "main"}});
  WARN("probe latency against the fake (HTTP): " << latency.value_or(-1) * 1000 << " ms; run "
                                                 << r.seconds * 1000 << " ms");

  f.SetMode("READONLY");
  f.SetCompatibility("FULL_TRANSITIVE");
  f.SetSubject("orders-value", 4);
  f.RemoveSubject("audit-logs-key");
  r = CollectOnce(c);
  CheckUp(r, 2, 6, "READONLY", "FULL_TRANSITIVE");

  f.SetMode("IMPORT");
  f.SetCompatibility("<script>");  // never a free-form label value
  r = CollectOnce(c);
  CheckUp(r, 2, 6, "IMPORT", "unknown");
}

TEST_CASE("every failure class, then recovery", "[schema_registry]") {
  FakeRegistry f;
  REQUIRE(f.running());
  Populate(f);
  SchemaRegistryCollector c(SrConfig({Endpoint(f.url(), "main", Millis(500))}));
  auto r = CollectOnce(c);
  CheckUp(r, 3, 6);
  double first_success =
      Find(r.samples, "kafka_schema_registry_last_success_timestamp_seconds", {{"registry", "main"}})
          .value_or(0);

  struct Case {
    const char* what;
    Failure failure;
    std::string path;
    std::string cls;
  };
  const std::vector<Case> cases = {
      {"500", Failure::kHttp500, "", "http_5xx"},
      {"401", Failure::kUnauthorized, "", "auth"},
      {"404", Failure::kNotFound, "", "http_4xx"},
      {"hang", Failure::kHang, "", "timeout"},
      {"trickling body", Failure::kTrickle, "", "timeout"},
      {"malformed JSON", Failure::kMalformedJson, "", "bad_response"},
      {"wrong content type", Failure::kWrongContentType, "", "bad_response"},
      {"500", Failure::kHttp500, "/config", "http_5xx"},
      {"hang", Failure::kHang, "/mode", "timeout"},
      {"malformed JSON", Failure::kMalformedJson, "/mode", "bad_response"},
  };
  for (const auto& k : cases) {
    DYNAMIC_SECTION(k.what << " on '" << (k.path.empty() ? "*" : k.path) << "' -> " << k.cls) {
      f.SetFailure(k.failure, k.path);
      r = CollectOnce(c);
      CheckDown(r, k.cls);
      // The last success is kept, not reset or advanced.
      CHECK(Find(r.samples, "kafka_schema_registry_last_success_timestamp_seconds", {{"registry", "main"}}) ==
            first_success);
      CHECK(r.seconds < 1.0);  // the registry's 500ms timeout, not the collector's 2s
      f.SetFailure(Failure::kNone);
      r = CollectOnce(c);  // recovery
      CheckUp(r, 3, 6);
    }
  }
}

// Regression: the HTTP client read any answer whole, however large.
TEST_CASE("an answer larger than 32 MiB is not read and is a bad response", "[schema_registry]") {
  FakeRegistry f;
  REQUIRE(f.running());
  Populate(f);
  f.SetFailure(Failure::kHuge, "/subjects");
  SchemaRegistryCollector c(SrConfig({Endpoint(f.url(), "main", Millis(10000))}));
  auto r = CollectOnce(c);
  CheckDown(r, "bad_response");  // the log line says "GET /subjects: answer larger than 32 MiB, not read"
  f.SetFailure(Failure::kNone);
  CheckUp(CollectOnce(c), 3, 6);
}

TEST_CASE("a missing /mode or /config is not an outage", "[schema_registry]") {
  FakeRegistry f;
  REQUIRE(f.running());
  Populate(f);
  f.SetFailure(Failure::kNotFound, "/mode");
  SchemaRegistryCollector c(SrConfig({Endpoint(f.url())}));
  CheckUp(CollectOnce(c), 3, 6, "unknown", "BACKWARD");
}

TEST_CASE("connection refused is class connection", "[schema_registry]") {
  SchemaRegistryCollector c(SrConfig({Endpoint("http://127.0.0.1:" + std::to_string(FreePort()))}));
  auto r = CollectOnce(c);
  CheckDown(r, "connection");
  CHECK(Find(r.samples, "kafka_schema_registry_last_success_timestamp_seconds", {{"registry", "main"}}) ==
        0.0);
  CHECK(r.seconds < 0.5);
}

TEST_CASE("a registry that comes up later recovers", "[schema_registry]") {
  int port = FreePort();
  SchemaRegistryCollector c(SrConfig({Endpoint("http://127.0.0.1:" + std::to_string(port))}));
  CheckDown(CollectOnce(c), "connection");
  FakeRegistry::Options o;
  o.port = port;
  FakeRegistry f(o);
  REQUIRE(f.running());
  Populate(f);
  CheckUp(CollectOnce(c), 3, 6);
  f.Stop();
  CheckDown(CollectOnce(c), "connection");
}

TEST_CASE("TLS: trusted CA, wrong CA, skip verify, client certificates", "[schema_registry]") {
  TestCerts certs = MakeTestCerts();
  if (!certs.ok()) {
    WARN("cannot make test certificates with the openssl CLI: " << certs.error);
    RemoveTestCerts(certs);
    return;
  }
  FakeRegistry::Options o;
  o.tls = true;
  o.cert_file = certs.server_cert;
  o.key_file = certs.server_key;
  FakeRegistry f(o);
  REQUIRE(f.running());
  Populate(f);

  SECTION("trusted CA") {
    auto e = Endpoint(f.url());
    e.ca_file = certs.ca_cert;
    SchemaRegistryCollector c(SrConfig({e}));
    auto r = CollectOnce(c);
    CheckUp(r, 3, 6);
    WARN("probe latency against the fake (HTTPS, new connection): "
         << Find(r.samples, "kafka_schema_registry_request_latency_seconds").value_or(-1) * 1000 << " ms");
  }
  SECTION("localhost matches the certificate too") {
    auto e = Endpoint("https://localhost:" + std::to_string(f.port()));
    e.ca_file = certs.ca_cert;
    SchemaRegistryCollector c(SrConfig({e}));
    CheckUp(CollectOnce(c), 3, 6);
  }
  SECTION("wrong CA is class tls") {
    auto e = Endpoint(f.url());
    e.ca_file = certs.other_ca_cert;
    SchemaRegistryCollector c(SrConfig({e}));
    CheckDown(CollectOnce(c), "tls");
  }
  SECTION("unreadable CA file is class tls") {
    auto e = Endpoint(f.url());
    e.ca_file = certs.dir + "/missing.pem";
    SchemaRegistryCollector c(SrConfig({e}));
    CheckDown(CollectOnce(c), "tls");
  }
  SECTION("insecure_skip_verify accepts the unknown CA") {
    auto e = Endpoint(f.url());
    e.ca_file = certs.other_ca_cert;
    e.insecure_skip_verify = true;
    SchemaRegistryCollector c(SrConfig({e}));
    CheckUp(CollectOnce(c), 3, 6);
  }
  SECTION("plain HTTP client against the TLS port is not up") {
    SchemaRegistryCollector c(SrConfig({Endpoint("http://127.0.0.1:" + std::to_string(f.port()))}));
    auto r = CollectOnce(c);
    CHECK(Find(r.samples, "kafka_schema_registry_up") == 0.0);
    CHECK(ErrorClass(r) != "none");
  }
  SECTION("TLS client against a plain HTTP server is class tls") {
    FakeRegistry plain;
    REQUIRE(plain.running());
    auto e = Endpoint("https://127.0.0.1:" + std::to_string(plain.port()));
    e.ca_file = certs.ca_cert;
    SchemaRegistryCollector c(SrConfig({e}));
    CheckDown(CollectOnce(c), "tls");
  }
  RemoveTestCerts(certs);
}

TEST_CASE("mutual TLS: client certificate required", "[schema_registry]") {
  TestCerts certs = MakeTestCerts();
  if (!certs.ok()) {
    WARN("cannot make test certificates with the openssl CLI: " << certs.error);
    RemoveTestCerts(certs);
    return;
  }
  FakeRegistry::Options o;
  o.tls = true;
  o.cert_file = certs.server_cert;
  o.key_file = certs.server_key;
  o.client_ca_file = certs.ca_cert;
  FakeRegistry f(o);
  REQUIRE(f.running());
  Populate(f);
  auto e = Endpoint(f.url());
  e.ca_file = certs.ca_cert;
  SECTION("with the client certificate") {
    e.cert_file = certs.client_cert;
    e.key_file = certs.client_key;
    SchemaRegistryCollector c(SrConfig({e}));
    CheckUp(CollectOnce(c), 3, 6);
  }
  SECTION("without it the probe fails") {
    // TLS 1.3 rejects the missing certificate after the handshake: the client
    // sees the server's alert (tls) or, if the server closed first, a reset
    // while writing the request (connection). Both are down, never up.
    SchemaRegistryCollector c(SrConfig({e}));
    auto r = CollectOnce(c);
    INFO(r.text);
    CHECK(Find(r.samples, "kafka_schema_registry_up") == 0.0);
    auto cls = ErrorClass(r);
    CHECK((cls == "tls" || cls == "connection"));
  }
  SECTION("an unreadable client key is class tls") {
    e.cert_file = certs.client_cert;
    e.key_file = certs.dir + "/missing.key";
    SchemaRegistryCollector c(SrConfig({e}));
    CheckDown(CollectOnce(c), "tls");
  }
  RemoveTestCerts(certs);
}

TEST_CASE("basic auth from password_file and password_env and the password never shows",
          "[schema_registry]") {
  const std::string secret = "s3cr3t-Pa55w0rd-dora";
  FakeRegistry::Options o;
  o.username = "exporter";
  o.password = secret;
  FakeRegistry f(o);
  REQUIRE(f.running());
  Populate(f);
  LogCapture logs;
  std::string all_text;

  std::string pw_file = WriteTemp("password", secret + "\n");
  auto by_file = Endpoint(f.url(), "by-file");
  by_file.username = "exporter";
  by_file.password_file = pw_file;
  auto by_env = Endpoint(f.url(), "by-env");
  by_env.username = "exporter";
  by_env.password_env = "DORA_SR_TEST_PASSWORD";
  setenv("DORA_SR_TEST_PASSWORD", secret.c_str(), 1);
  auto no_creds = Endpoint(f.url(), "no-creds");
  auto wrong = Endpoint(f.url(), "wrong");
  wrong.username = "exporter";
  wrong.password_env = "DORA_SR_TEST_WRONG";
  setenv("DORA_SR_TEST_WRONG", "not-the-password", 1);
  auto unset = Endpoint(f.url(), "unset-env");
  unset.username = "exporter";
  unset.password_env = "DORA_SR_TEST_UNSET";
  unsetenv("DORA_SR_TEST_UNSET");
  auto missing = Endpoint(f.url(), "missing-file");
  missing.username = "exporter";
  missing.password_file = "/nonexistent/password";
  // Credentials written into the URL are not used, and are cut from the label and the log.
  auto inline_url = Endpoint("http://exporter:" + secret + "@127.0.0.1:" + std::to_string(f.port()), "");

  SchemaRegistryCollector c(SrConfig({by_file, by_env, no_creds, wrong, unset, missing, inline_url}));
  for (int i = 0; i < 2; ++i) {
    auto r = CollectOnce(c);
    all_text += r.text;
    CheckUp(r, 3, 6, "READWRITE", "BACKWARD", "by-file");
    CheckUp(r, 3, 6, "READWRITE", "BACKWARD", "by-env");
    CheckDown(r, "auth", "no-creds");
    CheckDown(r, "auth", "wrong");
    CheckDown(r, "auth", "unset-env");
    CheckDown(r, "auth", "missing-file");
    CheckDown(r, "auth", "http://127.0.0.1:" + std::to_string(f.port()));
  }
  // Rotation: the file is read on every probe.
  std::ofstream(pw_file) << "rotated-elsewhere\n";
  auto r = CollectOnce(c);
  all_text += r.text;
  CheckDown(r, "auth", "by-file");

  std::string log_text = logs.text();
  INFO(log_text);
  CHECK(log_text.find("by-file") != std::string::npos);  // the capture works
  CHECK(log_text.find(secret) == std::string::npos);
  CHECK(all_text.find(secret) == std::string::npos);
  CHECK(log_text.find("/nonexistent/password") != std::string::npos);  // says which file, not what it holds
  unlink(pw_file.c_str());
  unsetenv("DORA_SR_TEST_PASSWORD");
  unsetenv("DORA_SR_TEST_WRONG");
}

TEST_CASE("one hanging registry among three: others unaffected, run bounded", "[schema_registry]") {
  FakeRegistry a, b, hang;
  REQUIRE(a.running());
  REQUIRE(b.running());
  REQUIRE(hang.running());
  Populate(a);
  b.SetSubject("only", 1);
  hang.SetFailure(Failure::kHang);
  SchemaRegistryCollector c(
      SrConfig({Endpoint(a.url(), "a", Millis(1000)), Endpoint(b.url(), "b", Millis(1000)),
                Endpoint(hang.url(), "hang", Millis(1000))},
               Millis(3000)));
  auto r = CollectOnce(c);
  CheckUp(r, 3, 6, "READWRITE", "BACKWARD", "a");
  CheckUp(r, 1, 1, "READWRITE", "BACKWARD", "b");
  CheckDown(r, "timeout", "hang");
  WARN("run with one hanging registry among three (registry timeout 1s): " << r.seconds << " s");
  CHECK(r.seconds >= 0.9);
  CHECK(r.seconds < 1.5);
  hang.SetFailure(Failure::kNone);
}

TEST_CASE("the collector's deadline cuts a registry whose own timeout is longer", "[schema_registry]") {
  FakeRegistry slow, ok;
  REQUIRE(slow.running());
  REQUIRE(ok.running());
  Populate(ok);
  Populate(slow);
  // A trickling body never trips a socket read timeout: only the deadline ends it.
  slow.SetFailure(Failure::kTrickle);
  SchemaRegistryCollector c(SrConfig(
      {Endpoint(slow.url(), "slow", Millis(30000)), Endpoint(ok.url(), "ok", Millis(30000))}, Millis(1000)));
  auto r = CollectOnce(c);
  CheckDown(r, "timeout", "slow");
  CheckUp(r, 3, 6, "READWRITE", "BACKWARD", "ok");
  WARN("run with a trickling registry, collector timeout 1s: " << r.seconds << " s");
  CHECK(r.seconds < 1.0);  // within the collector's timeout, so the run is not late
  slow.SetFailure(Failure::kNone);
}

TEST_CASE("version counting is capped per run and completes over runs", "[schema_registry]") {
  FakeRegistry f;
  REQUIRE(f.running());
  const int n = SchemaRegistryCollector::kMaxVersionRequestsPerRun + 50;
  for (int i = 0; i < n; ++i) f.SetSubject("subject-" + std::to_string(i), 1 + i % 3);
  double total = 0;
  for (int i = 0; i < n; ++i) total += 1 + i % 3;
  SchemaRegistryCollector c(SrConfig({Endpoint(f.url(), "main", Millis(5000))}, Millis(6000)));
  auto r = CollectOnce(c);
  CheckUp(r, n, std::nullopt);  // incomplete: absent rather than wrong
  CHECK(f.Requests("/subjects/") == SchemaRegistryCollector::kMaxVersionRequestsPerRun);
  r = CollectOnce(c);
  CheckUp(r, n, total);
  CHECK(f.Requests("/subjects/") == 2 * SchemaRegistryCollector::kMaxVersionRequestsPerRun);
  // A deleted subject leaves the total at once.
  f.RemoveSubject("subject-0");
  r = CollectOnce(c);
  CheckUp(r, n - 1, total - 1);
}

TEST_CASE("subject names are percent-encoded and the API may sit under a base path", "[schema_registry]") {
  FakeRegistry::Options o;
  o.base_path = "/apis/ccompat/v7";
  FakeRegistry f(o);
  REQUIRE(f.running());
  f.SetSubject("team/orders value", 2);
  f.SetSubject("ns:topic-key", 3);
  SchemaRegistryCollector c(SrConfig({Endpoint(f.url() + "/")}));
  CheckUp(CollectOnce(c), 2, 5);
  SchemaRegistryCollector wrong_base(SrConfig({Endpoint("http://127.0.0.1:" + std::to_string(f.port()))}));
  CheckDown(CollectOnce(wrong_base), "http_4xx");
}

TEST_CASE("registered only when enabled with at least one registry", "[schema_registry]") {
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
    return std::find(v.begin(), v.end(), "schema_registry") != v.end();
  };
  dora::Config cfg;
  cfg.kafka.bootstrap_servers = {"127.0.0.1:" + std::to_string(FreePort())};
  CHECK_FALSE(has(names(cfg)));
  cfg.collectors.schema_registry.registries.push_back(Endpoint("http://127.0.0.1:8081"));
  CHECK(has(names(cfg)));
  cfg.collectors.schema_registry.enabled = false;
  CHECK_FALSE(has(names(cfg)));
}
