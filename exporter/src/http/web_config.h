#pragma once
// The --web.config.file (web.config_file): Prometheus exporter-toolkit's web
// configuration for the daemon's own endpoint, parsed strictly (unknown keys and
// bad values are errors with file:line:column and the key path):
//
//   tls_server_config: {cert_file, key_file, client_auth_type, client_ca_file,
//                       min_version, max_version, prefer_server_cipher_suites}
//   http_server_config: {headers: {NAME: VALUE}, http2}
//   basic_auth_users: {USER: BCRYPT_HASH}
//   health_server_config: {listen_address}   # dora extension, see docs/security.md
//
// Relative file names are resolved against the web config file's directory, as
// the toolkit does. Also here: the loaded TLS material (immutable once built,
// shared by every connection) and the bcrypt basic-auth verifier (libxcrypt).
#include <openssl/ssl.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "config/loader.h"
#include "util/status.h"

namespace dora {

enum class ClientAuthType {
  kNoClientCert,
  kRequestClientCert,           // ask for a certificate, accept any or none, never verify
  kRequireAnyClientCert,        // require a certificate, do not verify it
  kVerifyClientCertIfGiven,     // verify a certificate if one is sent
  kRequireAndVerifyClientCert,  // require and verify (mTLS)
};
const char* ClientAuthTypeName(ClientAuthType t);

struct WebTlsConfig {
  bool enabled = false;  // tls_server_config has a certificate: serve HTTPS
  std::string cert_file;
  std::string key_file;
  ClientAuthType client_auth = ClientAuthType::kNoClientCert;
  std::string client_ca_file;
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
};

struct WebFileConfig {
  std::string source;  // the file it came from ("" = no web config file)
  WebTlsConfig tls;
  std::map<std::string, std::string> basic_auth_users;       // user -> bcrypt hash
  std::vector<std::pair<std::string, std::string>> headers;  // added to every response
  std::string health_listen_address;                         // "" = no separate health listener
};

// Parses web config YAML. `source` names the file in messages; `base_dir`
// resolves relative file names. Syntax and single-value checks only.
WebFileConfig ParseWebConfig(const std::string& yaml_text, const std::string& source,
                             const std::string& base_dir, ConfigErrors* errors);

// Reads and parses a web config file (no TLS files are opened).
WebFileConfig ReadWebConfigFile(const std::string& path, ConfigErrors* errors);

// Reads, parses and fully validates a web config file: also loads the TLS
// certificate, key and client CA (so a bad or mismatched pair is caught at
// --check-config and start) and checks every bcrypt hash's format.
WebFileConfig LoadWebConfigFile(const std::string& path, ConfigErrors* errors);

// What a live reload from `from` to `to` would take away: "" when nothing, else
// why the reload must be refused (TLS turned off, basic auth removed, client
// certificates no longer required or verified, a lower TLS minimum). A running
// daemon never downgrades its own security: docs/security.md, "Reloads".
std::string SecurityDowngrade(const WebFileConfig& from, const WebFileConfig& to);

// Identity of a file's current content as far as stat(2) tells (device, inode,
// size, mtime, ctime). Follows symlinks, so Kubernetes' ..data swaps count.
struct FileStamp {
  bool exists = false;
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileStamp& o) const {
    return exists == o.exists && dev == o.dev && ino == o.ino && size == o.size && mtime_ns == o.mtime_ns &&
           ctime_ns == o.ctime_ns;
  }
  bool operator!=(const FileStamp& o) const { return !(*this == o); }
};
FileStamp StampFile(const std::string& path);

// A certificate chain, its private key and the client CA store, loaded once and
// never modified afterwards: any number of connections may use one at the same
// time. Rotation builds a new one; connections that started with the old one
// keep it alive through their shared_ptr.
class TlsMaterial {
 public:
  // Loads cert_file (leaf first, then intermediates), key_file (PEM, not
  // encrypted) and client_ca_file. Errors name the file; never key material.
  static Result<std::shared_ptr<const TlsMaterial>> Load(const WebTlsConfig& config);
  ~TlsMaterial();
  TlsMaterial(const TlsMaterial&) = delete;
  TlsMaterial& operator=(const TlsMaterial&) = delete;

  // Puts this material and the client-auth policy on one handshake (called from
  // the ClientHello callback, before version, certificate and verification).
  bool ApplyTo(SSL* ssl) const;
  const WebTlsConfig& config() const { return config_; }
  // Subject of the leaf certificate, for log lines.
  std::string Subject() const;
  std::string NotAfter() const;

 private:
  explicit TlsMaterial(WebTlsConfig config) : config_(std::move(config)) {}
  WebTlsConfig config_;
  X509* cert_ = nullptr;
  STACK_OF(X509) * chain_ = nullptr;
  EVP_PKEY* key_ = nullptr;
  X509_STORE* client_store_ = nullptr;
  STACK_OF(X509_NAME) * client_ca_names_ = nullptr;
};

// True when `hash` looks like a bcrypt hash crypt(3) accepts ($2a$/$2b$/$2y$, cost 4..31).
bool IsBcryptHash(const std::string& hash);

// HTTP basic auth against bcrypt hashes (libxcrypt crypt_rn). Thread-safe.
// An unknown user is checked against a dummy hash of the same cost as the
// configured ones, so the answer time does not tell which users exist. bcrypt
// runs one at a time (a flood of wrong passwords cannot use every core), and
// successful checks are remembered (keyed by a salted SHA-256 of user, hash
// and password) so a scraper's every request does not pay bcrypt's cost.
class BasicAuth {
 public:
  explicit BasicAuth(std::map<std::string, std::string> users);
  // Checks an "Authorization" header value ("Basic base64(user:password)").
  bool CheckHeader(const std::string& authorization);
  bool Check(const std::string& user, const std::string& password);
  bool empty() const { return users_.empty(); }

 private:
  std::map<std::string, std::string> users_;
  std::string dummy_hash_;
  std::string cache_salt_;
  std::mutex bcrypt_mu_;  // one bcrypt at a time
  std::mutex cache_mu_;
  std::unordered_set<std::string> ok_cache_;
};

// Result of crypt_rn(password, hash) == hash, compared in constant time. False
// for a malformed hash or a password with a NUL byte. Exposed for tests and
// bench numbers; BasicAuth is the one caller in the daemon.
bool BcryptVerify(const std::string& password, const std::string& hash);
// A fresh bcrypt hash ($2b$, `cost`) of `password`, or "" on failure (tests, docs).
std::string BcryptHash(const std::string& password, int cost);

}  // namespace dora
