// The daemon's own endpoint with --web.config.file (exporter-toolkit format):
// TLS 1.2/1.3, client certificates, basic auth, response headers, the plain
// health listener, certificate rotation without restart, and rejection of bad
// web configs (exit 2). No broker needed: the daemon points at a dead port.
// Certificates are made in-process with OpenSSL; the client is raw OpenSSL, so
// every handshake parameter is under the test's control.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "http/basic_auth.h"
#include "http/web_config.h"
#include "support/certs.h"
#include "support/daemon.h"
#include "support/temp_dir.h"

using namespace dora::test;
using namespace std::chrono_literals;

namespace {

// Daemon arguments: a dead broker and only the cluster collector, with a short
// timeout, so stopping the daemon does not wait on a Kafka request.
std::vector<std::string> DaemonArgs(const TempDir& dir, std::vector<std::string> extra) {
  std::string cfg = dir.Write("exporter.yaml",
                              "collectors:\n  cluster: {interval: 1s, timeout: 1s}\n"
                              "  offsets: {enabled: false}\n  consumer_groups: {enabled: false}\n");
  std::vector<std::string> args = {"--config", cfg, DeadBroker()};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// ---- a raw TLS client

struct TlsOptions {
  std::string ca_file;              // verify the server (chain and IP 127.0.0.1)
  std::string cert_file, key_file;  // client certificate
  int min_version = 0, max_version = 0;
  std::string path = "/healthz";
  std::string authorization;  // Authorization header value
};

struct TlsResult {
  bool handshake = false;  // the client finished its side of the handshake
  int status = 0;          // HTTP status; 0: no response
  std::string version;
  std::string peer_cn;
  std::string head;  // status line and headers
  std::string body;
  std::string error;
};

// Writing to a connection the server already closed (a refused client
// certificate) raises SIGPIPE: blocked for this thread while the client runs.
struct SigpipeGuard {
  sigset_t set{}, old{};
  SigpipeGuard() {
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old);
  }
  ~SigpipeGuard() {
    timespec zero{0, 0};
    for (int i = 0; i < 16 && sigtimedwait(&set, nullptr, &zero) > 0; ++i) {
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
};

TlsResult TlsGet(int port, const TlsOptions& o) {
  SigpipeGuard no_sigpipe;
  TlsResult r;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;  // as Prometheus' (Go's) client: no Nagle delay behind the TLS 1.3 Finished
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    r.error = "connect failed";
    return r;
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (o.min_version) SSL_CTX_set_min_proto_version(ctx, o.min_version);
  if (o.max_version) SSL_CTX_set_max_proto_version(ctx, o.max_version);
  if (!o.ca_file.empty()) {
    SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  if (!o.cert_file.empty()) {
    SSL_CTX_use_certificate_chain_file(ctx, o.cert_file.c_str());
    SSL_CTX_use_PrivateKey_file(ctx, o.key_file.c_str(), SSL_FILETYPE_PEM);
  }
  SSL* ssl = SSL_new(ctx);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
  SSL_set_fd(ssl, fd);
  ERR_clear_error();
  if (SSL_connect(ssl) == 1) {
    r.handshake = true;
    r.version = SSL_get_version(ssl);
    if (X509* peer = SSL_get1_peer_certificate(ssl)) {
      char cn[256] = {0};
      X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
      r.peer_cn = cn;
      X509_free(peer);
    }
    std::string req = "GET " + o.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (!o.authorization.empty()) req += "Authorization: " + o.authorization + "\r\n";
    req += "\r\n";
    std::string resp;
    if (SSL_write(ssl, req.data(), static_cast<int>(req.size())) > 0) {
      char buf[16384];
      for (int i = 0; i < 1000; ++i) {  // bounded: at most ~16 MB
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) break;
        resp.append(buf, static_cast<size_t>(n));
      }
    }
    auto end = resp.find("\r\n\r\n");
    if (resp.rfind("HTTP/1.1 ", 0) == 0 && end != std::string::npos) {
      r.status = std::atoi(resp.c_str() + 9);
      r.head = resp.substr(0, end);
      r.body = resp.substr(end + 4);
    }
  }
  unsigned long e = ERR_peek_last_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    r.error = buf;
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  return r;
}

bool HasHeader(const TlsResult& r, const std::string& line) {
  return r.head.find("\r\n" + line) != std::string::npos;
}

std::string Basic(const std::string& user, const std::string& password) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string in = user + ":" + password, out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    out += std::string{kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out += std::string{kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return "Basic " + out;
}

// Polls until `pred` holds (bounded).
bool Eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 20000ms) {
  auto end = std::chrono::steady_clock::now() + timeout;
  for (int i = 0; i < 100000 && std::chrono::steady_clock::now() < end; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

double MeanMs(int n, const std::function<void()>& fn) {
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) fn();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / n;
}

}  // namespace

TEST_CASE(
    "web config: mTLS with TLS 1.3 only and basic auth and headers on every path plus a plain health "
    "listener",
    "[daemon][web]") {
  TempDir dir("dora-webtls");
  KeyCert ca, server, client, other_ca, other_client, wrong_eku;
  MakeKeyCert(&ca, "dora-test-ca", nullptr, "ca");
  MakeKeyCert(&server, "exporter-server", &ca, "server");
  MakeKeyCert(&client, "prometheus", &ca, "client");
  MakeKeyCert(&other_ca, "someone-else", nullptr, "ca");
  MakeKeyCert(&other_client, "prometheus", &other_ca, "client");
  MakeKeyCert(&wrong_eku, "prometheus", &ca, "server-only-eku");
  dir.Write("ca.crt", PemCert(ca.cert));
  dir.Write("tls.crt", PemCert(server.cert));
  dir.Write("tls.key", PemKey(server.key));
  dir.Write("client.crt", PemCert(client.cert));
  dir.Write("client.key", PemKey(client.key));
  dir.Write("other.crt", PemCert(other_client.cert));
  dir.Write("other.key", PemKey(other_client.key));
  dir.Write("eku.crt", PemCert(wrong_eku.cert));
  dir.Write("eku.key", PemKey(wrong_eku.key));
  const std::string password = "scrape-Passw0rd!";
  const std::string hash = dora::BcryptHash(password, 6);
  REQUIRE(dora::IsBcryptHash(hash));
  int health = FreePort();
  std::string web = dir.Write("web.yml",
                              "tls_server_config:\n"
                              "  cert_file: tls.crt\n"
                              "  key_file: tls.key\n"
                              "  client_auth_type: RequireAndVerifyClientCert\n"
                              "  client_ca_file: ca.crt\n"
                              "  min_version: TLS13\n"
                              "http_server_config:\n"
                              "  headers:\n"
                              "    X-Content-Type-Options: nosniff\n"
                              "    X-Frame-Options: deny\n"
                              "    Strict-Transport-Security: max-age=31536000\n"
                              "basic_auth_users:\n"
                              "  prometheus: " +
                                  hash +
                                  "\n"
                                  "health_server_config:\n"
                                  "  listen_address: 127.0.0.1:" +
                                  std::to_string(health) + "\n");
  Daemon d(DaemonArgs(dir, {"--web.config.file", web}));
  REQUIRE(Eventually([&] { return HttpGet(health, "/healthz").status == 200; }));
  INFO(d.Log());

  TlsOptions good;
  good.ca_file = dir.P("ca.crt");
  good.cert_file = dir.P("client.crt");
  good.key_file = dir.P("client.key");
  good.authorization = Basic("prometheus", password);
  good.path = "/metrics";

  auto ok = TlsGet(d.port(), good);
  INFO(ok.error << "\n" << ok.head);
  CHECK(ok.handshake);
  CHECK(ok.version == "TLSv1.3");
  CHECK(ok.peer_cn == "exporter-server");
  REQUIRE(ok.status == 200);
  CHECK(ok.body.find("kafka_exporter_build_info") != std::string::npos);
  CHECK(HasHeader(ok, "X-Content-Type-Options: nosniff"));
  CHECK(HasHeader(ok, "X-Frame-Options: deny"));
  CHECK(HasHeader(ok, "Strict-Transport-Security: max-age=31536000"));

  SECTION("client certificates") {
    TlsOptions none = good;
    none.cert_file.clear();
    none.key_file.clear();
    auto r = TlsGet(d.port(), none);
    CHECK(r.status == 0);  // TLS 1.3: the alert arrives after the client's Finished
    TlsOptions other = good;
    other.cert_file = dir.P("other.crt");
    other.key_file = dir.P("other.key");
    CHECK(TlsGet(d.port(), other).status == 0);
    TlsOptions eku = good;
    eku.cert_file = dir.P("eku.crt");
    eku.key_file = dir.P("eku.key");
    CHECK(TlsGet(d.port(), eku).status == 0);  // not meant for client authentication
  }
  SECTION("protocol versions") {
    TlsOptions tls12 = good;
    tls12.max_version = TLS1_2_VERSION;
    auto r = TlsGet(d.port(), tls12);
    CHECK_FALSE(r.handshake);
    CHECK(r.status == 0);
    CHECK(HttpGet(d.port(), "/healthz").status == 0);  // plain HTTP on the TLS port: no answer
  }
  SECTION("basic auth covers every path, 401 with WWW-Authenticate, headers included") {
    for (const char* path : {"/metrics", "/healthz", "/ready", "/", "/nope"}) {
      INFO(path);
      TlsOptions anon = good;
      anon.authorization.clear();
      anon.path = path;
      auto r = TlsGet(d.port(), anon);
      CHECK(r.status == 401);
      CHECK(HasHeader(r, "WWW-Authenticate: Basic"));
      CHECK(HasHeader(r, "X-Frame-Options: deny"));
    }
    TlsOptions wrong = good;
    wrong.authorization = Basic("prometheus", "not-it");
    CHECK(TlsGet(d.port(), wrong).status == 401);
    TlsOptions unknown = good;
    unknown.authorization = Basic("grafana", password);
    CHECK(TlsGet(d.port(), unknown).status == 401);
    TlsOptions health_path = good;
    health_path.path = "/healthz";
    CHECK(TlsGet(d.port(), health_path).status == 200);
    TlsOptions missing = good;
    missing.path = "/nope";
    CHECK(TlsGet(d.port(), missing).status == 404);
  }
  SECTION("the health listener serves only /healthz and /ready, without TLS or auth") {
    CHECK(HttpGet(health, "/healthz").status == 200);
    int ready = HttpGet(health, "/ready").status;
    CHECK((ready == 200 || ready == 503));
    CHECK(HttpGet(health, "/metrics").status == 404);
    CHECK(HttpGet(health, "/").status == 404);
  }
  SECTION("timings") {
    TlsOptions h = good;
    h.path = "/healthz";
    double tls13 = MeanMs(30, [&] { CHECK(TlsGet(d.port(), h).status == 200); });
    double plain = MeanMs(30, [&] { CHECK(HttpGet(health, "/healthz").status == 200); });
    std::printf(
        "web-tls timing: new TLS 1.3 connection (mTLS, P-256) + GET /healthz with cached basic auth: "
        "%.2f ms mean of 30; plain HTTP GET on the health listener: %.2f ms\n",
        tls13, plain);
  }
  d.Signal(SIGTERM);
  CHECK(d.Wait(20s) == 0);
}

TEST_CASE("web config: certificates rotate without a restart and a bad rotation keeps the old one",
          "[daemon][web]") {
  TempDir dir("dora-webtls");
  KeyCert ca, a, b, c;
  MakeKeyCert(&ca, "dora-test-ca", nullptr, "ca");
  MakeKeyCert(&a, "server-a", &ca, "server");
  MakeKeyCert(&b, "server-b", &ca, "server");
  MakeKeyCert(&c, "server-c", &ca, "server");
  dir.Write("ca.crt", PemCert(ca.cert));
  dir.Write("tls.crt", PemCert(a.cert));
  dir.Write("tls.key", PemKey(a.key));
  std::string web = dir.Write("web.yml", "tls_server_config: {cert_file: tls.crt, key_file: tls.key}\n");
  Daemon d(DaemonArgs(dir, {"--web.config.file", web}));
  TlsOptions o;
  o.ca_file = dir.P("ca.crt");
  REQUIRE(Eventually([&] { return TlsGet(d.port(), o).status == 200; }));
  pid_t pid = d.pid();
  CHECK(TlsGet(d.port(), o).peer_cn == "server-a");

  // Both default versions are offered (min TLS12).
  TlsOptions v12 = o;
  v12.max_version = TLS1_2_VERSION;
  auto r12 = TlsGet(d.port(), v12);
  CHECK(r12.version == "TLSv1.2");
  CHECK(r12.status == 200);
  double ms12 = MeanMs(30, [&] { TlsGet(d.port(), v12); });
  double ms13 = MeanMs(30, [&] { TlsGet(d.port(), o); });
  std::printf(
      "web-tls timing: new connection + GET /healthz, server auth only: TLS 1.2 %.2f ms, TLS 1.3 %.2f ms "
      "(mean of 30)\n",
      ms12, ms13);

  // Rotation as cert-manager / a Kubernetes Secret update does it: new files renamed into place.
  dir.Write("tls.key", PemKey(b.key));
  dir.Write("tls.crt", PemCert(b.cert));
  CHECK(Eventually([&] { return TlsGet(d.port(), o).peer_cn == "server-b"; }, 5000ms));

  // Half a rotation (certificate without its key): refused, the working pair stays.
  dir.Write("tls.crt", PemCert(c.cert));
  for (int i = 0; i < 3; ++i) CHECK(TlsGet(d.port(), o).peer_cn == "server-b");
  CHECK(d.Log().find("web config change not applied") != std::string::npos);
  CHECK(d.Log().find("does not match the certificate") != std::string::npos);
  dir.Write("tls.key", PemKey(c.key));
  CHECK(Eventually([&] { return TlsGet(d.port(), o).peer_cn == "server-c"; }, 5000ms));

  // Turning TLS off live is a downgrade: refused, TLS stays on.
  dir.Write("web.yml", "http_server_config: {headers: {X-Frame-Options: deny}}\n");
  auto still = TlsGet(d.port(), o);
  CHECK(still.status == 200);
  CHECK(still.peer_cn == "server-c");
  CHECK(d.Log().find("refused: it would turn TLS off") != std::string::npos);

  CHECK(d.pid() == pid);
  CHECK(d.Running());
  INFO(d.Log());
  CHECK(d.Log().find("TLS certificate /CN=server-c") != std::string::npos);
}

TEST_CASE("web config: basic auth users change without a restart (plain HTTP)", "[daemon][web]") {
  TempDir dir("dora-webtls");
  std::string h1 = dora::BcryptHash("first-password", 5);
  std::string h2 = dora::BcryptHash("second-password", 5);
  std::string web = dir.Write("web.yml", "basic_auth_users:\n  alice: " + h1 + "\n");
  Daemon d(DaemonArgs(dir, {"--web.config.file", web}));
  auto get = [&](const std::string& user, const std::string& pw, const char* path = "/metrics") {
    httplib::Client cli("127.0.0.1", d.port());
    cli.set_connection_timeout(2, 0);
    cli.set_read_timeout(10, 0);
    if (!user.empty()) cli.set_basic_auth(user.c_str(), pw.c_str());
    auto res = cli.Get(path);
    return res ? res->status : 0;
  };
  REQUIRE(Eventually([&] { return get("alice", "first-password") == 200; }));
  CHECK(get("", "") == 401);
  // The status page and the alerts API are behind the same auth.
  CHECK(get("", "", "/") == 401);
  CHECK(get("alice", "first-password", "/") == 200);
  CHECK(get("", "", "/api/v1/alerts") == 401);
  CHECK(get("alice", "second-password") == 401);
  dir.Write("web.yml", "basic_auth_users:\n  alice: " + h2 + "\n  bob: " + h1 + "\n");
  CHECK(Eventually([&] { return get("alice", "second-password") == 200; }, 5000ms));
  CHECK(get("alice", "first-password") == 401);
  CHECK(get("bob", "first-password") == 200);
  // A broken edit is logged and ignored.
  dir.Write("web.yml", "basic_auth_users:\n  alice: plaintext\n");
  CHECK(get("alice", "second-password") == 200);
  INFO(d.Log());
  CHECK(d.Log().find("web config change not applied") != std::string::npos);
  CHECK(d.Log().find("plaintext") == std::string::npos);
  CHECK(d.Log().find("second-password") == std::string::npos);
}

TEST_CASE("web config: invalid files are rejected at --check-config and at start (exit 2)", "[daemon][web]") {
  TempDir dir("dora-webtls");
  KeyCert k1, k2;
  MakeKeyCert(&k1, "one", nullptr, "server");
  MakeKeyCert(&k2, "two", nullptr, "server");
  dir.Write("one.crt", PemCert(k1.cert));
  dir.Write("two.key", PemKey(k2.key));
  dir.Write("one.key", PemKey(k1.key));

  std::string unknown = dir.Write("unknown.yml",
                                  "tls_server_config:\n  cert_file: one.crt\n  key_file: one.key\n"
                                  "  client_auth: RequireAndVerifyClientCert\n");
  auto r = RunExporter({"--web.config.file", unknown, "--check-config"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(unknown + ":4:3: tls_server_config.client_auth: unknown key") != std::string::npos);

  std::string mismatch =
      dir.Write("mismatch.yml", "tls_server_config: {cert_file: one.crt, key_file: two.key}\n");
  r = RunExporter({"--web.config.file", mismatch, "--check-config"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("does not match the certificate") != std::string::npos);
  r = RunExporter({"--web.config.file", mismatch, DeadBroker(), "--web.listen-address=127.0.0.1:0"}, 30s);
  CHECK(r.exit_code == 2);  // at start too, before anything listens

  std::string via_config = dir.Write("exporter.yaml", "web:\n  config_file: " + mismatch + "\n");
  r = RunExporter({"--config", via_config, "--check-config"});
  CHECK(r.exit_code == 2);

  std::string good = dir.Write("good.yml", "tls_server_config: {cert_file: one.crt, key_file: one.key}\n");
  r = RunExporter({"--web.config.file", good, "--check-config"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
}
