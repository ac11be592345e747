// Security towards the brokers, against a real broker with a SASL_SSL listener
// (SCRAM-SHA-256, SCRAM-SHA-512, PLAIN), an SSL listener requiring client
// certificates, TLS 1.3 only, and StandardAuthorizer (tests/security/secure_kafka.py):
// - every authentication method works through kafka.properties + property_files;
// - with only the ACLs docs/security.md lists, cluster, offsets and
//   consumer_groups all report success 1 (and see real topics and groups),
//   while the exporter principal cannot write; the probe needs its own
//   topic's rights on top;
// - the SASL password never shows in the daemon's output (debug level,
//   librdkafka security/broker/conf debug), /metrics, --check-config or
//   --once output, or /proc/<pid>/cmdline; a rotated password file is read
//   when the client is re-created (SIGHUP).
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon.h"
#include "support/kafka_cluster.h"

using namespace dora::test;
using namespace std::chrono_literals;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

void WriteSecret(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
}

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Runs `python3 tests/security/secure_kafka.py args...` (no shell), bounded; the
// child gets its own process group, killed as a whole on timeout.
CtlRun RunSecureKafka(const std::vector<std::string>& args, std::chrono::seconds timeout) {
  const char* py_env = std::getenv("DORA_PYTHON");
  std::string python = py_env && *py_env ? py_env : "python3";
  std::string script = std::string(DORA_SOURCE_DIR) + "/tests/security/secure_kafka.py";
  char out_tmpl[] = "/tmp/dora-seckafka-out-XXXXXX";
  char err_tmpl[] = "/tmp/dora-seckafka-err-XXXXXX";
  int out = mkstemp(out_tmpl), err = mkstemp(err_tmpl);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    dup2(out, 1);
    dup2(err, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<std::string> argv_s = {python, script};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(python.c_str(), argv.data());
    _exit(127);
  }
  CtlRun r;
  auto end = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  bool done = false;
  while (std::chrono::steady_clock::now() < end) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      done = true;
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  if (!done) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
    r.timed_out = true;
  } else {
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  close(out);
  close(err);
  r.out = ReadFile(out_tmpl);
  r.err = ReadFile(err_tmpl);
  unlink(out_tmpl);
  unlink(err_tmpl);
  return r;
}

// One secured broker for the duration of a test case.
class SecureKafka {
 public:
  SecureKafka() {
    char tmpl[] = "/tmp/dora-secure-kafka-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto t0 = std::chrono::steady_clock::now();
    auto r = RunSecureKafka(
        {"start", "--dir", dir_, "--watch-pid", std::to_string(getpid()), "--timeout", "240"}, 300s);
    if (r.exit_code != 0) {
      Stop();
      throw std::runtime_error("secure_kafka.py start failed (exit " + std::to_string(r.exit_code) + "):\n" +
                               r.out + r.err);
    }
    start_seconds = Since(t0);
    auto j = nlohmann::json::parse(ReadFile(dir_ + "/secure.json"));
    version = j["version"];
    sasl_ssl = j["sasl_ssl"];
    ssl = j["ssl"];
    ca_file = j["ca_file"];
    client_cert = j["client_cert"];
    client_key = j["client_key"];
    admin_password_file = j["admin_password_file"];
    exporter_password_file = j["exporter_password_file"];
    log_file = j["log_file"];
    std::printf("security: secure Kafka %s started in %.1f s (%s)\n", version.c_str(), start_seconds,
                Trim(r.out).c_str());
  }
  ~SecureKafka() { Stop(); }
  SecureKafka(const SecureKafka&) = delete;
  SecureKafka& operator=(const SecureKafka&) = delete;

  double Acl(const std::string& preset) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = RunSecureKafka({"acl", "--dir", dir_, "--preset", preset}, 300s);
    if (r.exit_code != 0) throw std::runtime_error("acl " + preset + " failed:\n" + r.out + r.err);
    return Since(t0);
  }
  void ChangeScram(const std::string& mechanism, const std::string& password_file) {
    auto r = RunSecureKafka({"scram", "--dir", dir_, "--user", "exporter", "--mechanism", mechanism,
                             "--password-file", password_file},
                            300s);
    if (r.exit_code != 0) throw std::runtime_error("scram change failed:\n" + r.out + r.err);
  }
  std::string LogTail() const {
    std::string log = ReadFile(log_file);
    return log.size() > 6000 ? log.substr(log.size() - 6000) : log;
  }
  const std::string& dir() const { return dir_; }

  std::string version, sasl_ssl, ssl, ca_file, client_cert, client_key, admin_password_file,
      exporter_password_file, log_file;
  double start_seconds = 0;

 private:
  void Stop() {
    if (dir_.empty()) return;
    RunKafkactl({"stop", "--dir", dir_, "--grace", "10"}, 60s);
    const char* keep = std::getenv("DORA_KAFKA_KEEP");
    if (!(keep && std::string(keep) == "1")) {
      std::string cmd = "rm -rf '" + dir_ + "'";
      if (std::system(cmd.c_str()) != 0) {
      }
    }
    dir_.clear();
  }
  std::string dir_;
};

// ---- librdkafka as the admin (test setup) or as the exporter principal

using Props = std::map<std::string, std::string>;

Props AdminProps(const SecureKafka& k) {
  return {{"bootstrap.servers", k.sasl_ssl}, {"security.protocol", "SASL_SSL"},
          {"sasl.mechanism", "PLAIN"},  // works with librdkafka 2.0.2 on every Kafka version
          {"sasl.username", "admin"},        {"sasl.password", Trim(ReadFile(k.admin_password_file))},
          {"ssl.ca.location", k.ca_file}};
}

rd_kafka_t* NewClient(rd_kafka_type_t type, const Props& props, rd_kafka_conf_t* conf = nullptr) {
  if (!conf) conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      throw std::runtime_error("conf " + k + ": " + err);
  }
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) throw std::runtime_error(std::string("rd_kafka_new: ") + err);
  return rk;
}

void CreateTopic(const Props& props, const std::string& name, int partitions) {
  rd_kafka_t* rk = NewClient(RD_KAFKA_PRODUCER, props);
  char err[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(name.c_str(), partitions, 1, err, sizeof err);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 60000);
  std::string problem = ev ? "" : "no CreateTopics result within 60 s";
  if (ev) {
    const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t** tr = res ? rd_kafka_CreateTopics_result_topics(res, &n) : nullptr;
    if (rd_kafka_event_error(ev)) problem = rd_kafka_event_error_string(ev);
    for (size_t i = 0; tr && i < n; ++i) {
      auto e = rd_kafka_topic_result_error(tr[i]);
      if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) problem = rd_kafka_err2str(e);
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  if (!problem.empty()) throw std::runtime_error("create topic " + name + ": " + problem);
}

struct ProduceResult {
  int64_t acked = 0;
  rd_kafka_resp_err_t last_error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* r = static_cast<ProduceResult*>(opaque);
  if (m->err) {
    r->last_error = m->err;
  } else {
    ++r->acked;
  }
}

ProduceResult Produce(Props props, const std::string& topic, int n) {
  ProduceResult result;
  props["acks"] = "all";
  props["message.timeout.ms"] = "15000";
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  rd_kafka_conf_set_opaque(conf, &result);
  rd_kafka_t* rk = NewClient(RD_KAFKA_PRODUCER, props, conf);
  std::string payload(100, 'x');
  for (int i = 0; i < n; ++i) {
    rd_kafka_vu_t vu[3];
    vu[0].vtype = RD_KAFKA_VTYPE_TOPIC;
    vu[0].u.cstr = topic.c_str();
    vu[1].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[1].u.mem.ptr = payload.data();
    vu[1].u.mem.size = payload.size();
    vu[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu[2].u.i = RD_KAFKA_MSG_F_COPY;
    for (int attempt = 0; attempt < 1000; ++attempt) {
      rd_kafka_error_t* e = rd_kafka_produceva(rk, vu, 3);
      if (!e) break;
      bool full = rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR__QUEUE_FULL;
      rd_kafka_error_destroy(e);
      if (!full) break;
      rd_kafka_poll(rk, 10);
    }
  }
  rd_kafka_flush(rk, 30000);
  rd_kafka_destroy(rk);
  return result;
}

// Reads `n` messages of every partition from the start (assign, no membership)
// as `group` and commits them.
int64_t ConsumeAndCommit(Props props, const std::string& topic, int partitions, const std::string& group,
                         int n) {
  props["group.id"] = group;
  props["enable.auto.commit"] = "false";
  rd_kafka_t* rk = NewClient(RD_KAFKA_CONSUMER, props);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  int64_t got = 0;
  auto end = std::chrono::steady_clock::now() + 60s;
  while (got < n && std::chrono::steady_clock::now() < end) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 500);
    if (!m) continue;
    if (!m->err) {
      ++got;
      rd_kafka_commit_message(rk, m, 0);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return got;
}

// ---- the exporter's config per authentication method

std::string ExporterConfig(const SecureKafka& k, const std::string& method, const std::string& password_file,
                           const std::string& collectors, const std::string& extra_properties = "") {
  std::string props;
  std::string bootstrap = k.sasl_ssl;
  if (method == "mTLS") {
    bootstrap = k.ssl;
    props =
        "    security.protocol: SSL\n"
        "    ssl.certificate.location: " +
        k.client_cert + "\n    ssl.key.location: " + k.client_key + "\n";
  } else {
    props =
        "    security.protocol: SASL_SSL\n    sasl.mechanism: " + method + "\n    sasl.username: exporter\n";
  }
  props += "    ssl.ca.location: " + k.ca_file + "\n" + extra_properties;
  std::string files = method == "mTLS" ? "" : "  property_files:\n    sasl.password: " + password_file + "\n";
  return "kafka:\n  bootstrap_servers: [\"" + bootstrap + "\"]\n  properties:\n" + props + files +
         "retry: {initial_backoff: 250ms, max_backoff: 2s}\n" + collectors;
}

const char* kClusterWide =
    "collectors:\n"
    "  cluster: {interval: 1s, timeout: 10s}\n"
    "  offsets: {interval: 1s, timeout: 10s}\n"
    "  consumer_groups: {interval: 1s, timeout: 10s}\n";

std::string WriteFile(const SecureKafka& k, const std::string& name, const std::string& text) {
  std::string p = k.dir() + "/" + name;
  std::ofstream(p) << text;
  return p;
}

// librdkafka < 2.6.1 (Debian's 2.0.2 included) builds a SCRAM client-final-message
// that Kafka 4.x rejects (it re-appends the client nonce; confluentinc/librdkafka#4895):
// SCRAM works against Kafka 3.x only. docs/security.md.
bool ScramUsable(const SecureKafka& k) { return std::atoi(k.version.c_str()) < 4; }

// The lines of an exposition text that mention any of `needles` (for INFO on failures).
std::string Grep(const std::string& text, const std::vector<std::string>& needles) {
  std::istringstream in(text);
  std::string line, out;
  for (int i = 0; i < 100000 && std::getline(in, line); ++i) {
    if (line.empty() || line[0] == '#') continue;
    for (const auto& n : needles) {
      if (line.find(n) != std::string::npos) {
        out += line + "\n";
        break;
      }
    }
  }
  return out;
}

double Success(const std::vector<Sample>& s, const std::string& collector) {
  return Find(s, "kafka_exporter_collector_success", {{"collector", collector}}).value_or(-1);
}

double Errors(const std::vector<Sample>& s, const std::string& collector) {
  double n = 0;
  for (const auto& x : FindAll(s, "kafka_exporter_collector_errors_total", {{"collector", collector}}))
    n += x.value;
  return n;
}

// Handshake with the broker's SASL_SSL port at a given maximum TLS version.
std::string BrokerTlsVersion(const std::string& hostport, const std::string& ca, int max_version) {
  auto colon = hostport.rfind(':');
  BIO* bio = BIO_new_connect(hostport.c_str());
  (void)colon;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_max_proto_version(ctx, max_version);
  SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  std::string version;
  if (BIO_do_connect(bio) == 1) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_bio(ssl, bio, bio);
    bio = nullptr;
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
    if (SSL_connect(ssl) == 1) version = SSL_get_version(ssl);
    SSL_free(ssl);
  }
  if (bio) BIO_free_all(bio);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return version;
}

}  // namespace

TEST_CASE(
    "security: SASL SCRAM-SHA-256 and SCRAM-SHA-512 and PLAIN over TLS 1.3 and mTLS with least-privilege "
    "ACLs",
    "[security][kafka]") {
  SecureKafka k;
  INFO(k.LogTail());
  // The broker offers TLS 1.3 only (the platform's requirement), on both listeners.
  CHECK(BrokerTlsVersion(k.sasl_ssl, k.ca_file, TLS1_3_VERSION) == "TLSv1.3");
  CHECK(BrokerTlsVersion(k.sasl_ssl, k.ca_file, TLS1_2_VERSION).empty());

  double acl_seconds = k.Acl("base");
  Props admin = AdminProps(k);
  CreateTopic(admin, "payments", 3);
  REQUIRE(Produce(admin, "payments", 300).acked == 300);
  REQUIRE(ConsumeAndCommit(admin, "payments", 3, "billing", 120) == 120);

  // Least privilege: the exporter's principal can describe but not write.
  Props as_exporter = admin;
  as_exporter["sasl.username"] = "exporter";
  as_exporter["sasl.password"] = Trim(ReadFile(k.exporter_password_file));
  auto denied = Produce(as_exporter, "payments", 1);
  CHECK(denied.acked == 0);
  CHECK(denied.last_error == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);

  std::vector<std::string> methods = {"PLAIN", "mTLS"};
  if (ScramUsable(k)) methods.insert(methods.begin(), {"SCRAM-SHA-256", "SCRAM-SHA-512"});
  for (const std::string& method : methods) {
    INFO("method " << method);
    std::string cfg = WriteFile(k, "exporter-" + method + ".yaml",
                                ExporterConfig(k, method, k.exporter_password_file, kClusterWide));
    auto t0 = std::chrono::steady_clock::now();
    Daemon d({"--config", cfg});
    REQUIRE(d.WaitHealthy());
    std::vector<Sample> s;
    bool ok = d.WaitFor(
        [](const std::vector<Sample>& x) {
          return Success(x, "cluster") == 1 && Success(x, "offsets") == 1 &&
                 Success(x, "consumer_groups") == 1 &&
                 Find(x, "kafka_topic_partitions", {{"topic", "payments"}}) == 3.0 &&
                 Find(x, "kafka_consumergroup_current_offset_sum",
                      {{"consumergroup", "billing"}, {"topic", "payments"}})
                         .value_or(0) >= 120 &&
                 Find(x, "kafka_consumergroup_lag_sum", {{"consumergroup", "billing"}, {"topic", "payments"}})
                     .has_value();
        },
        90s, &s);
    INFO(d.Log());
    INFO(Grep(d.Metrics(), {"collector_success", "collector_errors", "payments", "billing"}));
    CHECK(ok);
    CHECK(Success(s, "cluster") == 1);
    CHECK(Success(s, "offsets") == 1);
    CHECK(Success(s, "consumer_groups") == 1);
    std::printf("security: %s: all collectors successful %.1f s after start (ACL setup %.1f s)\n",
                method.c_str(), Since(t0), acl_seconds);
  }

  // A wrong password fails cleanly: success 0, errors counted, the daemon keeps serving.
  std::string wrong = k.dir() + "/wrong.password";
  WriteSecret(wrong, "definitely-not-the-password\n");
  std::string cfg =
      WriteFile(k, "exporter-wrong.yaml",
                ExporterConfig(k, ScramUsable(k) ? "SCRAM-SHA-256" : "PLAIN", wrong, kClusterWide));
  Daemon d({"--config", cfg});
  REQUIRE(d.WaitHealthy());
  std::vector<Sample> s;
  bool failed = d.WaitFor(
      [](const auto& x) { return Errors(x, "cluster") >= 1 && Success(x, "cluster") == 0; }, 60s, &s);
  INFO(d.Log());
  CHECK(failed);
  CHECK(d.Log().find("definitely-not-the-password") == std::string::npos);

  if (!ScramUsable(k)) {
    // Kafka 4.x: the known librdkafka 2.0.2 SCRAM failure, reported as such.
    std::string scram = WriteFile(k, "exporter-scram4.yaml",
                                  ExporterConfig(k, "SCRAM-SHA-256", k.exporter_password_file, kClusterWide));
    Daemon d4({"--config", scram});
    REQUIRE(d4.WaitHealthy());
    CHECK(d4.WaitFor([](const auto& x) { return Errors(x, "cluster") >= 1 && Success(x, "cluster") == 0; },
                     60s));
    std::printf("security: Kafka %s: SCRAM with librdkafka %s fails as documented (librdkafka#4895)\n",
                k.version.c_str(), rd_kafka_version_str());
  }
}

TEST_CASE("least privilege: the probe needs its own topic's rights on top of the base ACLs",
          "[security][kafka]") {
  SecureKafka k;
  INFO(k.LogTail());
  k.Acl("base");
  std::string collectors =
      "collectors:\n"
      "  cluster: {interval: 1s, timeout: 10s}\n"
      "  offsets: {enabled: false}\n"
      "  consumer_groups: {enabled: false}\n"
      "  probe: {enabled: true, interval: 500ms, timeout: 10s, sla: 5s, topic_check_interval: 1s}\n";
  std::string cfg = WriteFile(
      k, "exporter-probe.yaml",
      ExporterConfig(k, ScramUsable(k) ? "SCRAM-SHA-256" : "PLAIN", k.exporter_password_file, collectors));
  Daemon d({"--config", cfg});
  REQUIRE(d.WaitHealthy());
  std::vector<Sample> s;
  bool refused = d.WaitFor(
      [](const auto& x) {
        return Success(x, "cluster") == 1 && Errors(x, "probe") >= 1 && Success(x, "probe") == 0;
      },
      60s, &s);
  INFO(d.Log());
  CHECK(refused);

  auto t0 = std::chrono::steady_clock::now();
  k.Acl("probe");
  bool probing = d.WaitFor(
      [](const auto& x) {
        return Success(x, "probe") == 1 && Find(x, "kafka_probe_messages_received_total").value_or(0) > 0;
      },
      120s, &s);
  CHECK(probing);
  CHECK(Success(s, "cluster") == 1);
  std::printf("security: probe successful %.1f s after its ACLs were granted\n", Since(t0));
}

// docs/security.md's incident events row: WRITE and DESCRIBE on the topic,
// nothing on the Cluster (the producer is idempotent; KIP-679).
TEST_CASE("least privilege: incident events need Write and Describe on their topic on top of the base ACLs",
          "[security][kafka][incidents]") {
  SecureKafka k;
  INFO(k.LogTail());
  k.Acl("base");
  Props admin = AdminProps(k);
  CreateTopic(admin, "incident-events", 1);
  // A registry nobody listens on: KafkaSchemaRegistryDown fires at once and
  // opens an incident, whatever Kafka allows.
  std::string spool = k.dir() + "/spool";
  std::string collectors =
      "collectors:\n"
      "  cluster: {interval: 1s, timeout: 10s}\n"
      "  offsets: {enabled: false}\n"
      "  consumer_groups: {enabled: false}\n"
      "  schema_registry:\n    interval: 1s\n    timeout: 1s\n    registries:\n"
      "      - {name: main, url: 'http://127.0.0.1:" +
      std::to_string(FreePort()) +
      "'}\n"
      "alerting:\n  rules:\n    KafkaSchemaRegistryDown: {for: 0s}\n"
      "incidents:\n  enabled: true\n  renotify_interval: 0s\n  spool: {directory: " +
      spool + "}\n";
  std::string cfg = WriteFile(
      k, "exporter-incidents.yaml",
      ExporterConfig(k, ScramUsable(k) ? "SCRAM-SHA-256" : "PLAIN", k.exporter_password_file, collectors));
  Daemon d({"--config", cfg});
  REQUIRE(d.WaitHealthy());
  auto metric = [](const std::vector<Sample>& x, const std::string& name) {
    return Find(x, name).value_or(-1);
  };
  std::vector<Sample> s;
  // Spooled, and refused by Kafka: it stays in the spool (the spool gauges
  // are refreshed once a second, so they are waited for too).
  bool refused = d.WaitFor(
      [&](const auto& x) {
        return Find(x, "kafka_exporter_incident_events_spooled_total", {{"type", "opened"}}).value_or(0) >=
                   1 &&
               metric(x, "kafka_exporter_incident_events_failed_total") >= 1 &&
               metric(x, "kafka_exporter_incident_spool_events") >= 1;
      },
      60s, &s);
  INFO(d.Log());
  CHECK(refused);
  CHECK(Success(s, "cluster") == 1);
  CHECK(metric(s, "kafka_exporter_incident_events_delivered_total") == 0);

  auto t0 = std::chrono::steady_clock::now();
  k.Acl("incidents");
  bool delivered = d.WaitFor(
      [&](const auto& x) {
        return metric(x, "kafka_exporter_incident_events_delivered_total") >= 1 &&
               metric(x, "kafka_exporter_incident_spool_events") == 0;
      },
      120s, &s);
  CHECK(delivered);
  std::printf("security: incident events delivered %.1f s after their ACLs were granted\n", Since(t0));
  // On the topic, read back by the admin.
  CHECK(ConsumeAndCommit(admin, "incident-events", 1, "incident-reader", 1) == 1);
}

TEST_CASE("secrets: the SASL password appears nowhere and a rotated password file is read on SIGHUP",
          "[security][kafka]") {
  SecureKafka k;
  INFO(k.LogTail());
  k.Acl("base");
  const std::string old_password = Trim(ReadFile(k.exporter_password_file));
  REQUIRE(old_password.size() >= 16);
  std::string pw_file = k.dir() + "/exporter-secret";
  WriteSecret(pw_file, old_password + "\n");
  // librdkafka's own debug output on top of the daemon's debug level.
  std::string cfg = WriteFile(
      k, "exporter-secret.yaml",
      ExporterConfig(k, ScramUsable(k) ? "SCRAM-SHA-512" : "PLAIN", pw_file,
                     "collectors:\n  cluster: {interval: 1s, timeout: 10s}\n  offsets: {interval: 1s}\n"
                     "  consumer_groups: {interval: 1s}\nlog: {level: debug}\n",
                     "    debug: security,broker,conf,protocol\n"));

  auto check_out = RunExporter({"--config", cfg, "--check-config"});
  CHECK(check_out.exit_code == 0);
  auto once = RunExporter({"--config", cfg, "--once", "--log.level=debug"}, 120s);
  CHECK(once.exit_code == 0);

  Daemon d({"--config", cfg, "--log.level=debug"});
  REQUIRE(d.WaitHealthy());
  std::vector<Sample> s;
  REQUIRE(d.WaitFor(
      [](const auto& x) { return Success(x, "cluster") == 1 && Success(x, "consumer_groups") == 1; }, 90s,
      &s));
  std::string cmdline = ReadFile("/proc/" + std::to_string(d.pid()) + "/cmdline");
  std::string env_text = ReadFile("/proc/" + std::to_string(d.pid()) + "/environ");
  std::string metrics = d.Metrics();
  std::string log = d.Log();
  INFO(log.substr(0, 4000));
  CHECK(log.find("SASL") != std::string::npos);  // the debug output did cover authentication
  CHECK(log.size() > 10000);
  for (const auto& [where, text] : std::vector<std::pair<std::string, std::string>>{
           {"daemon output", log},
           {"/metrics", metrics},
           {"/proc/pid/cmdline", cmdline},
           {"/proc/pid/environ", env_text},
           {"--check-config output", check_out.out + check_out.err},
           {"--once output", once.out + once.err}}) {
    INFO(where);
    CHECK(text.find(old_password) == std::string::npos);
  }

  if (!ScramUsable(k)) {
    std::printf("security: Kafka %s: SCRAM rotation part skipped (librdkafka#4895)\n", k.version.c_str());
    return;
  }
  // Rotation: the broker gets a new password. The running client stays connected;
  // a re-created client (SIGHUP) reads the file again.
  const std::string new_password = "rotated-" + old_password.substr(0, 12) + "-x";
  std::string new_file = k.dir() + "/new-secret";
  WriteSecret(new_file, new_password + "\n");
  k.ChangeScram("SCRAM-SHA-512", new_file);
  double errors_before = Errors(d.Samples(), "cluster");
  d.Signal(SIGHUP);  // file still holds the old password: the new client is refused
  bool refused = d.WaitFor(
      [&](const auto& x) { return Errors(x, "cluster") > errors_before && Success(x, "cluster") == 0; }, 60s,
      &s);
  CHECK(refused);
  WriteSecret(pw_file, new_password + "\n");
  auto t0 = std::chrono::steady_clock::now();
  d.Signal(SIGHUP);
  bool back = d.WaitFor([](const auto& x) { return Success(x, "cluster") == 1; }, 60s, &s);
  CHECK(back);
  std::printf("security: rotated SCRAM password in use %.1f s after SIGHUP\n", Since(t0));
  log = d.Log();
  CHECK(log.find(old_password) == std::string::npos);
  CHECK(log.find(new_password) == std::string::npos);
  CHECK(d.Metrics().find(new_password) == std::string::npos);
}
