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
// the toolkit does. The TLS settings and the material loaded from them are
// http/tls_material.*; the bcrypt basic-auth verifier is http/basic_auth.*.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/loader.h"
#include "http/tls_material.h"

namespace dora {

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

}  // namespace dora
