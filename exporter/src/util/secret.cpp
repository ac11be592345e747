#include "util/secret.h"

#include <cctype>
#include <cstdlib>

#include "util/file.h"

namespace dora {
namespace {

Status Fail(const std::string& message) { return Status::Error(Reason::kConfig, message); }

std::string CannotRead(const std::string& key, const std::string& path, const std::string& cause) {
  return key + ": cannot read \"" + path + "\": " + cause;
}

std::string NotSet(const std::string& key, const std::string& variable) {
  return key + ": environment variable " + variable + " is not set";
}

}  // namespace

Result<std::string> ReadSecretFile(const std::string& key, const std::string& path, size_t max_bytes) {
  auto text = ReadRegularFile(path, max_bytes);
  if (!text.ok()) return Fail(CannotRead(key, path, text.status().message));
  std::string s = std::move(text.value());
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

Result<std::string> ReadSecretEnv(const std::string& key, const std::string& variable) {
  const char* v = variable.empty() ? nullptr : std::getenv(variable.c_str());
  if (v == nullptr) return Fail(NotSet(key, variable));
  return std::string(v);
}

Status CheckSecretFile(const std::string& key, const std::string& path) {
  Status s = CheckRegularFile(path);
  if (!s.ok) return Fail(CannotRead(key, path, s.message));
  return Status::Ok();
}

Status CheckSecretEnv(const std::string& key, const std::string& variable) {
  if (variable.empty() || std::getenv(variable.c_str()) == nullptr) return Fail(NotSet(key, variable));
  return Status::Ok();
}

bool IsSecretKey(const std::string& key) {
  // librdkafka's (sasl.password, ssl.key.password, ssl.key.pem, ssl_key,
  // sasl.oauthbearer.config, sasl.oauthbearer.client.secret) and Kafka
  // Connect's and its plugins' (sasl.jaas.config, *.api.key, aws.secret.access.key,
  // basic.auth.user.info, ssl.keystore.key...).
  static const char* kMarkers[] = {"password",      "passwd",     "secret",       "token",
                                   "credential",    "jaas",       "apikey",       "api.key",
                                   "api_key",       "access.key", "accesskey",    "private.key",
                                   "key.pem",       "ssl_key",    "keystore.key", "sasl.oauthbearer.config",
                                   "auth.user.info"};
  std::string k = key;
  for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* m : kMarkers) {
    if (k.find(m) != std::string::npos) return true;
  }
  return false;
}

void RedactUrlCredentials(std::string* s) {
  size_t pos = 0;
  for (int guard = 0; guard < 1000; ++guard) {
    size_t sep = s->find("://", pos);
    if (sep == std::string::npos) return;
    size_t start = sep + 3;
    size_t end = s->find_first_of("/?# \t\"'", start);
    if (end == std::string::npos) end = s->size();
    size_t at = end > start ? s->rfind('@', end - 1) : std::string::npos;
    if (at != std::string::npos && at >= start) {
      s->replace(start, at + 1 - start, "[redacted]@");
      end = start + 11;
    }
    pos = end;
  }
}

}  // namespace dora
