// util/secret.h: the one resolver for secrets in files and environment
// variables (kafka.property_files / property_env, password_file / password_env)
// and the one list of secret-looking key names.
#include "util/secret.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <string>

#include "collectors/http_client.h"
#include "config/config.h"
#include "kafka/properties.h"
#include "support/temp_dir.h"

using namespace dora;
using dora::test::TempDir;

namespace {

const std::string kSecret = "s3cret-Value-of-dora";
const std::string kKey = "kafka.property_files.sasl.password";

}  // namespace

TEST_CASE("secret file: trailing newlines are cut, nothing else", "[secret]") {
  TempDir dir("dora-secret");
  auto read = [&](const std::string& text) {
    auto r = ReadSecretFile(kKey, dir.Write("s", text));
    REQUIRE(r.ok());
    return r.value();
  };
  CHECK(read(kSecret) == kSecret);
  CHECK(read(kSecret + "\n") == kSecret);
  CHECK(read(kSecret + "\r\n") == kSecret);
  CHECK(read(kSecret + "\n\n\r\n") == kSecret);
  CHECK(read(" " + kSecret + " \n") == " " + kSecret + " ");
  CHECK(read("line1\nline2\n") == "line1\nline2");
  CHECK(read(std::string("a\0b\n", 4)) == std::string("a\0b", 3));
  // Empty (or only a newline) is an empty value, as before: not an error.
  CHECK(read("").empty());
  CHECK(read("\n").empty());
  CHECK(CheckSecretFile(kKey, dir.P("s")).ok);
}

TEST_CASE("secret file: errors name the key, the file and the cause, never the value", "[secret]") {
  TempDir dir("dora-secret");
  const std::string missing = dir.P("missing");
  auto r = ReadSecretFile(kKey, missing);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().reason == Reason::kConfig);
  CHECK(r.status().message == kKey + ": cannot read \"" + missing + "\": No such file or directory");
  CHECK(CheckSecretFile(kKey, missing).message == r.status().message);

  auto d = ReadSecretFile("password_file", dir.path);
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().message == "password_file: cannot read \"" + dir.path + "\": is a directory");
  CHECK(CheckSecretFile("password_file", dir.path).message == d.status().message);

  auto empty_name = ReadSecretFile(kKey, "");
  REQUIRE_FALSE(empty_name.ok());
  CHECK(empty_name.status().message == kKey + ": cannot read \"\": empty file name");

  const std::string fifo = dir.P("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto f = ReadSecretFile(kKey, fifo);
  REQUIRE_FALSE(f.ok());
  CHECK(f.status().message == kKey + ": cannot read \"" + fifo + "\": not a regular file");

  // Too large: the message tells the limit, not the content.
  const std::string big = dir.Write("big", kSecret + kSecret + "\n");
  auto b = ReadSecretFile(kKey, big, kSecret.size());
  REQUIRE_FALSE(b.ok());
  CHECK(b.status().message ==
        kKey + ": cannot read \"" + big + "\": larger than " + std::to_string(kSecret.size()) + " bytes");
  for (const auto* s : {&r.status(), &d.status(), &f.status(), &b.status()})
    CHECK(s->message.find(kSecret) == std::string::npos);
}

TEST_CASE("secret env: value as set, unset is an error naming key and variable", "[secret]") {
  const std::string key = "kafka.property_env.sasl.password";
  ::setenv("DORA_SECRET_TEST_SET", (kSecret + "\n").c_str(), 1);
  ::setenv("DORA_SECRET_TEST_EMPTY", "", 1);
  ::unsetenv("DORA_SECRET_TEST_UNSET");

  auto set = ReadSecretEnv(key, "DORA_SECRET_TEST_SET");
  REQUIRE(set.ok());
  CHECK(set.value() == kSecret + "\n");  // a variable is taken as it is, as before
  auto empty = ReadSecretEnv(key, "DORA_SECRET_TEST_EMPTY");
  REQUIRE(empty.ok());
  CHECK(empty.value().empty());
  CHECK(CheckSecretEnv(key, "DORA_SECRET_TEST_SET").ok);
  CHECK(CheckSecretEnv(key, "DORA_SECRET_TEST_EMPTY").ok);

  auto unset = ReadSecretEnv(key, "DORA_SECRET_TEST_UNSET");
  REQUIRE_FALSE(unset.ok());
  CHECK(unset.status().reason == Reason::kConfig);
  CHECK(unset.status().message == key + ": environment variable DORA_SECRET_TEST_UNSET is not set");
  CHECK(CheckSecretEnv(key, "DORA_SECRET_TEST_UNSET").message == unset.status().message);
  auto no_name = ReadSecretEnv("password_env", "");
  REQUIRE_FALSE(no_name.ok());
  CHECK(no_name.status().message == "password_env: environment variable  is not set");
  ::unsetenv("DORA_SECRET_TEST_SET");
  ::unsetenv("DORA_SECRET_TEST_EMPTY");
}

TEST_CASE("secret resolver behind the librdkafka properties", "[secret]") {
  TempDir dir("dora-secret");
  KafkaConfig c;
  c.bootstrap_servers = {"127.0.0.1:9092"};
  c.property_files["sasl.password"] = dir.Write("pw", kSecret + "\n");
  ::setenv("DORA_SECRET_TEST_USER", "svc-user", 1);
  c.property_env["sasl.username"] = "DORA_SECRET_TEST_USER";
  auto props = ResolveKafkaProperties(c);
  REQUIRE(props.ok());
  CHECK(props.value().at("sasl.password") == kSecret);
  CHECK(props.value().at("sasl.username") == "svc-user");

  c.property_files["sasl.password"] = dir.P("gone");
  auto missing = ResolveKafkaProperties(c);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message == "kafka.property_files.sasl.password: cannot read \"" + dir.P("gone") +
                                        "\": No such file or directory");

  c.property_files["sasl.password"] = dir.P("pw");
  ::unsetenv("DORA_SECRET_TEST_USER");
  auto unset = ResolveKafkaProperties(c);
  REQUIRE_FALSE(unset.ok());
  CHECK(unset.status().message ==
        "kafka.property_env.sasl.username: environment variable DORA_SECRET_TEST_USER is not set");
}

TEST_CASE("secret resolver behind password_file and password_env of HTTP endpoints", "[secret]") {
  TempDir dir("dora-secret");
  HttpEndpoint ep;
  ep.url = "http://127.0.0.1:1";
  ep.username = "monitor";
  auto session_message = [&](HttpErrorClass* cls) {
    HttpSession s(ep, std::chrono::steady_clock::now() + std::chrono::seconds(1), nullptr,
                  "application/json");
    *cls = s.error();
    return s.message();
  };
  HttpErrorClass cls = HttpErrorClass::kNone;
  ep.password_file = dir.Write("pw", kSecret + "\n");
  CHECK(session_message(&cls).empty());
  CHECK(cls == HttpErrorClass::kNone);

  ep.password_file = dir.P("gone");
  CHECK(session_message(&cls) ==
        "password_file: cannot read \"" + dir.P("gone") + "\": No such file or directory");
  CHECK(cls == HttpErrorClass::kAuth);
  ep.password_file = dir.path;
  CHECK(session_message(&cls) == "password_file: cannot read \"" + dir.path + "\": is a directory");
  CHECK(cls == HttpErrorClass::kAuth);
  // The limit for a password is 64 KiB.
  ep.password_file = dir.Write("huge", std::string(64 * 1024 + 1, 'x'));
  CHECK(session_message(&cls) ==
        "password_file: cannot read \"" + dir.P("huge") + "\": larger than 65536 bytes");

  ep.password_file.clear();
  ep.password_env = "DORA_SECRET_TEST_PW_UNSET";
  ::unsetenv("DORA_SECRET_TEST_PW_UNSET");
  CHECK(session_message(&cls) == "password_env: environment variable DORA_SECRET_TEST_PW_UNSET is not set");
  CHECK(cls == HttpErrorClass::kAuth);
  ::setenv("DORA_SECRET_TEST_PW_UNSET", kSecret.c_str(), 1);
  CHECK(session_message(&cls).empty());
  ::unsetenv("DORA_SECRET_TEST_PW_UNSET");
}

TEST_CASE("secret-looking key names: one list for librdkafka and Kafka Connect", "[secret]") {
  // librdkafka properties (config dumps, conf errors).
  for (const char* k : {"sasl.password", "ssl.key.password", "ssl.keystore.password", "ssl.key.pem",
                        "ssl_key", "sasl.oauthbearer.config", "sasl.oauthbearer.client.secret",
                        "sasl.oauthbearer.token.endpoint.url", "SASL.PASSWORD"})
    CHECK(IsSecretKey(k));
  // Kafka Connect connector configs (trace redaction).
  for (const char* k : {"connection.password", "sasl.jaas.config", "aws.secret.access.key",
                        "consumer.override.ssl.keystore.key", "basic.auth.user.info", "datadog.api.key",
                        "gcs.credentials.json", "s3.accessKey", "tls.private.key", "db.passwd", "ApiKey"})
    CHECK(IsSecretKey(k));
  for (const char* k : {"bootstrap.servers", "client.id", "ssl.key.location", "ssl.ca.location",
                        "sasl.username", "sasl.mechanism", "key.converter", "topics", "connector.class", ""})
    CHECK_FALSE(IsSecretKey(k));
}
