// The web config file (exporter-toolkit format): strict parsing with marks,
// TLS material loading, bcrypt basic auth (libxcrypt) and its timing.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>

#include "http/basic_auth.h"
#include "http/web_config.h"
#include "support/certs.h"

using namespace dora;
using dora::test::KeyCert;
using dora::test::MakeKeyCert;
using dora::test::PemCert;
using dora::test::PemKey;

namespace {

bool Contains(const ConfigErrors& e, const std::string& needle) {
  for (const auto& s : e.errors)
    if (s.find(needle) != std::string::npos) return true;
  return false;
}

WebFileConfig Parse(const std::string& yaml, ConfigErrors* e) {
  return ParseWebConfig(yaml, "web.yml", "/etc/x", e);
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/dora-webcfg-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::string cmd = "rm -rf '" + path + "'";
    if (std::system(cmd.c_str()) != 0) {
    }
  }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string p = path + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
};

double SecondsOf(const std::function<void()>& fn) {
  auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("web config: a full exporter-toolkit file parses", "[web_config]") {
  ConfigErrors e;
  auto c = Parse(R"(tls_server_config:
  cert_file: tls.crt
  key_file: /abs/tls.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  min_version: TLS13
  prefer_server_cipher_suites: true
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    Strict-Transport-Security: max-age=31536000
basic_auth_users:
  prometheus: $2b$10$UEofP8dqtzoWycr1qgAPAuI497VDaeQKp61Wxk2cc1Dvir32muVC.
health_server_config:
  listen_address: 127.0.0.1:9309
)",
                 &e);
  INFO(e.Joined());
  REQUIRE(e.empty());
  CHECK(c.tls.enabled);
  CHECK(c.tls.cert_file == "/etc/x/tls.crt");  // relative to the web config's directory
  CHECK(c.tls.key_file == "/abs/tls.key");
  CHECK(c.tls.client_ca_file == "/etc/x/ca.crt");
  CHECK(c.tls.client_auth == ClientAuthType::kRequireAndVerifyClientCert);
  CHECK(c.tls.min_version == TLS1_3_VERSION);
  CHECK(c.tls.max_version == TLS1_3_VERSION);
  REQUIRE(c.headers.size() == 2);
  CHECK(c.basic_auth_users.count("prometheus") == 1);
  CHECK(c.health_listen_address == "127.0.0.1:9309");
}

TEST_CASE("web config: empty file and empty TLS block mean plain HTTP", "[web_config]") {
  for (const char* text : {"", "tls_server_config: {}\n", "tls_server_config:\n  min_version: TLS13\n"}) {
    ConfigErrors e;
    auto c = Parse(text, &e);
    INFO(text);
    CHECK(e.empty());
    CHECK_FALSE(c.tls.enabled);
    CHECK(c.basic_auth_users.empty());
  }
}

TEST_CASE("web config: unknown keys are errors with file:line:column and key path", "[web_config]") {
  ConfigErrors e;
  Parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  certfile: c\nbasic_auth: {}\n", &e);
  INFO(e.Joined());
  CHECK(Contains(e, "web.yml:4:3: tls_server_config.certfile: unknown key"));
  CHECK(Contains(e, "web.yml:5:1: basic_auth: unknown key"));
  ConfigErrors e2;
  Parse("http_server_config:\n  header: {}\n", &e2);
  CHECK(Contains(e2, "web.yml:2:3: http_server_config.header: unknown key (known keys: headers, http2)"));
}

TEST_CASE("web config: bad values and combinations", "[web_config]") {
  struct Case {
    const char* yaml;
    const char* error;
  } cases[] = {
      {"tls_server_config: {cert_file: a, key_file: b, client_auth_type: Sometimes}\n",
       "tls_server_config.client_auth_type: expected one of"},
      {"tls_server_config: {cert_file: a, key_file: b, min_version: TLS11}\n",
       "tls_server_config.min_version: expected TLS12 or TLS13, got \"TLS11\""},
      {"tls_server_config: {cert_file: a, key_file: b, min_version: TLS13, max_version: TLS12}\n",
       "max_version: must not be lower than min_version"},
      {"tls_server_config: {cert_file: a}\n", "tls_server_config.key_file: missing key_file"},
      {"tls_server_config: {key_file: a}\n", "tls_server_config.cert_file: missing cert_file"},
      {"tls_server_config: {cert_file: a, key_file: b, client_ca_file: c}\n",
       "client CAs are configured without a client auth policy"},
      {"tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAndVerifyClientCert}\n",
       "RequireAndVerifyClientCert needs client_ca_file"},
      {"tls_server_config: {cert_file: a, key_file: b, cipher_suites: [TLS_AES_128_GCM_SHA256]}\n",
       "tls_server_config.cipher_suites: exporter-toolkit option not supported"},
      {"http_server_config: {headers: {Server: nginx}}\n",
       "http_server_config.headers.Server: this header can not be configured"},
      {"http_server_config: {headers: {X-Frame-Options: allow}}\n", "expected one of deny, sameorigin"},
      {"http_server_config: {headers: {Content-Security-Policy: \"a\\r\\nSet-Cookie: x\"}}\n",
       "header values must be one line"},
      {"http_server_config: {http2: maybe}\n", "http_server_config.http2: expected true or false"},
      {"basic_auth_users: {alice: hunter2}\n", "basic_auth_users.alice: expected a bcrypt hash"},
      {"basic_auth_users: {\"a:b\": $2b$10$UEofP8dqtzoWycr1qgAPAuI497VDaeQKp61Wxk2cc1Dvir32muVC.}\n",
       "must not contain ':'"},
      {"basic_auth_users: [alice]\n", "basic_auth_users: expected a mapping"},
      {"health_server_config: {listen_address: nine}\n",
       "health_server_config.listen_address: expected HOST:PORT"},
      {"tls_server_config: [a]\n", "tls_server_config: expected a mapping"},
      {"tls_server_config: {cert_file: [a], key_file: b}\n",
       "tls_server_config.cert_file: expected a string"},
      {"a: [\n", "invalid YAML"},
  };
  for (const auto& c : cases) {
    ConfigErrors e;
    Parse(c.yaml, &e);
    INFO(c.yaml << "\n" << e.Joined());
    CHECK(Contains(e, c.error));
  }
}

TEST_CASE("web config: error messages never quote a basic auth hash", "[web_config]") {
  ConfigErrors e;
  Parse("basic_auth_users:\n  alice: $2b$10$tooshort\n", &e);
  REQUIRE_FALSE(e.empty());
  CHECK(e.Joined().find("tooshort") == std::string::npos);
}

TEST_CASE("web config: TLS material loads and mismatches are caught at load", "[web_config]") {
  TempDir dir;
  KeyCert ca, server, other;
  MakeKeyCert(&ca, "test-ca");
  MakeKeyCert(&server, "localhost", &ca);
  MakeKeyCert(&other, "other");
  std::string crt = dir.Write("tls.crt", PemCert(server.cert) + PemCert(ca.cert));  // leaf + chain
  std::string key = dir.Write("tls.key", PemKey(server.key));
  std::string other_key = dir.Write("other.key", PemKey(other.key));
  std::string enc_key = dir.Write("enc.key", PemKey(server.key, "passphrase"));
  std::string ca_file = dir.Write("ca.crt", PemCert(ca.cert));
  std::string empty = dir.Write("empty.crt", "");

  auto load = [&](const std::string& body, ConfigErrors* e) {
    return LoadWebConfigFile(dir.Write("web.yml", body), e);
  };
  ConfigErrors ok;
  auto c = load(
      "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n"
      "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n",
      &ok);
  INFO(ok.Joined());
  CHECK(ok.empty());
  auto material = TlsMaterial::Load(c.tls);
  REQUIRE(material.ok());
  CHECK(material.value()->Subject().find("CN=localhost") != std::string::npos);
  CHECK_FALSE(material.value()->NotAfter().empty());

  ConfigErrors mismatch;
  load("tls_server_config: {cert_file: tls.crt, key_file: other.key}\n", &mismatch);
  CHECK(Contains(mismatch, "does not match the certificate"));
  ConfigErrors encrypted;
  load("tls_server_config: {cert_file: tls.crt, key_file: enc.key}\n", &encrypted);
  CHECK(Contains(encrypted, "no unencrypted PEM private key"));
  ConfigErrors missing;
  load("tls_server_config: {cert_file: nope.crt, key_file: tls.key}\n", &missing);
  CHECK(Contains(missing, "cert_file \"" + dir.path + "/nope.crt\""));
  ConfigErrors no_ca;
  load(
      "tls_server_config: {cert_file: tls.crt, key_file: tls.key, client_auth_type: VerifyClientCertIfGiven, "
      "client_ca_file: empty.crt}\n",
      &no_ca);
  CHECK(Contains(no_ca, "client_ca_file"));
  ConfigErrors unreadable;
  LoadWebConfigFile(dir.path + "/does-not-exist.yml", &unreadable);
  CHECK(Contains(unreadable, "cannot read web config file"));
  (void)crt;
  (void)key;
  (void)other_key;
  (void)enc_key;
  (void)ca_file;
  (void)empty;
}

TEST_CASE("FileStamp sees a rewritten file", "[web_config]") {
  TempDir dir;
  std::string p = dir.Write("f", "one");
  FileStamp a = StampFile(p);
  CHECK(a.exists);
  CHECK(StampFile(p) == a);
  std::string q = dir.Write("g", "two!");
  CHECK(std::rename(q.c_str(), p.c_str()) == 0);  // atomic replace, as Kubernetes does
  CHECK(StampFile(p) != a);
  CHECK_FALSE(StampFile(dir.path + "/none").exists);
}

TEST_CASE("bcrypt via libxcrypt: known vector and round trip and variants", "[web_config][bcrypt]") {
  // The original OpenBSD bcrypt test vector.
  CHECK(BcryptVerify("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
  CHECK_FALSE(BcryptVerify("U*V", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
  std::string h = BcryptHash("correct horse", 5);
  REQUIRE(IsBcryptHash(h));
  CHECK(h.rfind("$2b$05$", 0) == 0);
  CHECK(BcryptVerify("correct horse", h));
  CHECK_FALSE(BcryptVerify("correct horsE", h));
  CHECK_FALSE(BcryptVerify(std::string("correct horse\0x", 15), h));  // NUL: never a match
  // htpasswd -B writes $2y$; crypt(3) treats it like $2b$.
  std::string y = "$2y$" + h.substr(4);
  CHECK(BcryptVerify("correct horse", y));
  CHECK_FALSE(BcryptVerify("x", "not a hash"));
  CHECK_FALSE(IsBcryptHash("$2b$03$" + h.substr(7)));  // cost below 4
  CHECK_FALSE(IsBcryptHash("$1$abc$def"));
}

TEST_CASE("basic auth: users and header parsing and cache", "[web_config][bcrypt]") {
  std::string hash = BcryptHash("s3cret:with:colons", 6);
  BasicAuth auth({{"prometheus", hash}});
  CHECK(auth.Check("prometheus", "s3cret:with:colons"));
  CHECK_FALSE(auth.Check("prometheus", "s3cret"));
  CHECK_FALSE(auth.Check("nobody", "s3cret:with:colons"));
  CHECK_FALSE(auth.Check("", ""));
  // "prometheus:s3cret:with:colons": the user ends at the first colon.
  CHECK(auth.CheckHeader("Basic cHJvbWV0aGV1czpzM2NyZXQ6d2l0aDpjb2xvbnM="));
  CHECK(auth.CheckHeader("basic cHJvbWV0aGV1czpzM2NyZXQ6d2l0aDpjb2xvbnM="));
  CHECK_FALSE(auth.CheckHeader("Bearer cHJvbWV0aGV1czpzM2NyZXQ6d2l0aDpjb2xvbnM="));
  CHECK_FALSE(auth.CheckHeader("Basic cHJvbWV0aGV1czpzM2NyZXQ6d2l0aDpjb2xvbnM"));  // bad padding
  CHECK_FALSE(auth.CheckHeader("Basic !!!!"));
  CHECK_FALSE(auth.CheckHeader("Basic cHJvbWV0aGV1cw=="));  // "prometheus", no colon
  CHECK_FALSE(auth.CheckHeader(""));
  BasicAuth none({});
  CHECK_FALSE(none.Check("prometheus", "x"));
}

TEST_CASE("basic auth: an unknown user costs a bcrypt like a known one and a cached success costs none",
          "[web_config][bcrypt][timing]") {
  const int cost = 8;  // ~20 ms per check: measurable, short
  BasicAuth auth({{"prometheus", BcryptHash("right", cost)}});
  auto min_of = [](const std::function<void()>& fn) {
    double best = 1e9;
    for (int i = 0; i < 5; ++i) best = std::min(best, SecondsOf(fn));
    return best;
  };
  double known_wrong = min_of([&] { CHECK_FALSE(auth.Check("prometheus", "wrong")); });
  double unknown = min_of([&] { CHECK_FALSE(auth.Check("mallory", "wrong")); });
  CHECK(auth.Check("prometheus", "right"));  // first success pays bcrypt ...
  double cached = min_of([&] { CHECK(auth.Check("prometheus", "right")); });
  INFO("known user, wrong password " << known_wrong * 1e3 << " ms; unknown user " << unknown * 1e3
                                     << " ms; cached success " << cached * 1e3 << " ms");
  CHECK(unknown > known_wrong / 3);  // same cost dummy hash: same order of magnitude
  CHECK(unknown < known_wrong * 3);
  CHECK(cached < known_wrong / 10);  // ... later ones do not
}

TEST_CASE("web config: a live reload may add security but never take it away", "[web_config][fail-closed]") {
  WebFileConfig none, auth, tls, mtls, tls13;
  auth.basic_auth_users["alice"] = "$2y$05$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0";
  tls.tls.enabled = true;
  mtls = tls;
  mtls.tls.client_auth = ClientAuthType::kRequireAndVerifyClientCert;
  tls13 = tls;
  tls13.tls.min_version = 0x0304;  // TLS1_3_VERSION
  tls.tls.min_version = 0x0303;

  CHECK(SecurityDowngrade(none, auth).empty());
  CHECK(SecurityDowngrade(none, none).empty());
  CHECK(SecurityDowngrade(auth, auth).empty());
  CHECK(SecurityDowngrade(tls, mtls).empty());
  CHECK(SecurityDowngrade(tls, tls13).empty());
  CHECK(SecurityDowngrade(auth, none) == "it would turn basic authentication off (no basic_auth_users)");
  CHECK(SecurityDowngrade(tls, none) == "it would turn TLS off");
  CHECK(SecurityDowngrade(mtls, tls) ==
        "it would weaken client certificate checks from RequireAndVerifyClientCert to NoClientCert");
  CHECK(SecurityDowngrade(tls13, tls) == "it would lower tls_server_config.min_version");

  // What an emptied, commented-out or {} file parses to is "none": refused over auth.
  for (const char* text : {"", "{}\n", "# only a comment\n"}) {
    ConfigErrors e;
    WebFileConfig parsed = Parse(text, &e);
    INFO(text);
    CHECK(e.empty());
    CHECK_FALSE(SecurityDowngrade(auth, parsed).empty());
  }
}
