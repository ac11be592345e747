#include "http/web_config.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "config/yaml_reader.h"
#include "http/basic_auth.h"

namespace dora {
namespace {

// exporter-toolkit allows exactly these response headers (and, for some, values).
const std::map<std::string, std::vector<std::string>>& AllowedHeaders() {
  static const std::map<std::string, std::vector<std::string>> kAllowed = {
      {"Strict-Transport-Security", {}},
      {"X-Content-Type-Options", {"nosniff"}},
      {"X-Frame-Options", {"deny", "sameorigin"}},
      {"X-XSS-Protection", {}},
      {"Content-Security-Policy", {}},
  };
  return kAllowed;
}

std::string Join(const std::string& a, const std::string& b) { return YamlReader::Join(a, b); }

// The config loader's strict walk (config/yaml_reader.h) plus this file's values.
class Reader : public YamlReader {
 public:
  using YamlReader::YamlReader;

  // A string value; absent or null leaves `out` alone. Returns the node.
  YAML::Node String(const YAML::Node& parent, const std::string& key, const std::string& path,
                    std::string* out) {
    YAML::Node n = parent[key];
    if (!n.IsDefined() || n.IsNull()) return n;
    if (!n.IsScalar()) {
      Error(n, Join(path, key), "expected a string");
      return n;
    }
    *out = n.Scalar();
    return n;
  }

  bool Bool(const YAML::Node& parent, const std::string& key, const std::string& path, bool* out) {
    YAML::Node n = parent[key];
    if (!n.IsDefined() || n.IsNull()) return false;
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
      Error(n, Join(path, key), "expected true or false");
      return false;
    }
    *out = v;
    return true;
  }
};

std::string Resolve(const std::string& base_dir, const std::string& file) {
  if (file.empty() || file[0] == '/' || base_dir.empty()) return file;
  return base_dir + "/" + file;
}

bool ParseTlsVersion(const std::string& s, int* out) {
  if (s == "TLS12") {
    *out = TLS1_2_VERSION;
  } else if (s == "TLS13") {
    *out = TLS1_3_VERSION;
  } else {
    return false;
  }
  return true;
}

bool ParseClientAuth(const std::string& s, ClientAuthType* out) {
  if (s.empty() || s == "NoClientCert") {
    *out = ClientAuthType::kNoClientCert;
  } else if (s == "RequestClientCert") {
    *out = ClientAuthType::kRequestClientCert;
  } else if (s == "RequireAnyClientCert" || s == "RequireClientCert") {  // the toolkit's old name
    *out = ClientAuthType::kRequireAnyClientCert;
  } else if (s == "VerifyClientCertIfGiven") {
    *out = ClientAuthType::kVerifyClientCertIfGiven;
  } else if (s == "RequireAndVerifyClientCert") {
    *out = ClientAuthType::kRequireAndVerifyClientCert;
  } else {
    return false;
  }
  return true;
}

void ParseTls(const YAML::Node& t, Reader& r, const std::string& base_dir, WebTlsConfig* tls) {
  const std::string p = "tls_server_config";
  static const std::set<std::string> kUnsupported = {"cipher_suites", "curve_preferences",
                                                     "client_allowed_sans"};
  std::set<std::string> known = {"cert_file",   "key_file",    "client_auth_type",           "client_ca_file",
                                 "min_version", "max_version", "prefer_server_cipher_suites"};
  known.insert(kUnsupported.begin(), kUnsupported.end());
  if (!r.Map(t, p, known)) return;
  for (const auto& k : kUnsupported) {
    if (t[k].IsDefined())
      r.Error(t[k], Join(p, k),
              "exporter-toolkit option not supported by dora-kafka-exporter (OpenSSL's defaults apply; "
              "see docs/security.md)");
  }
  std::string cert, key, auth, ca, min_v = "TLS12", max_v = "TLS13";
  r.String(t, "cert_file", p, &cert);
  r.String(t, "key_file", p, &key);
  YAML::Node auth_node = r.String(t, "client_auth_type", p, &auth);
  YAML::Node ca_node = r.String(t, "client_ca_file", p, &ca);
  YAML::Node min_node = r.String(t, "min_version", p, &min_v);
  YAML::Node max_node = r.String(t, "max_version", p, &max_v);
  bool prefer = true;
  r.Bool(t, "prefer_server_cipher_suites", p, &prefer);  // accepted; the server's order is always used

  if (!ParseClientAuth(auth, &tls->client_auth))
    r.Error(auth_node, Join(p, "client_auth_type"),
            "expected one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, "
            "RequireAndVerifyClientCert; got \"" +
                auth + "\"");
  if (!ParseTlsVersion(min_v, &tls->min_version))
    r.Error(min_node, Join(p, "min_version"),
            "expected TLS12 or TLS13, got \"" + min_v + "\" (TLS 1.0 and 1.1 are not offered)");
  if (!ParseTlsVersion(max_v, &tls->max_version))
    r.Error(max_node, Join(p, "max_version"), "expected TLS12 or TLS13, got \"" + max_v + "\"");
  else if (tls->max_version < tls->min_version)
    r.Error(max_node, Join(p, "max_version"), "must not be lower than min_version");

  // The toolkit serves plain HTTP when none of these is set.
  if (cert.empty() && key.empty() && auth.empty() && ca.empty()) return;
  tls->enabled = true;
  tls->cert_file = Resolve(base_dir, cert);
  tls->key_file = Resolve(base_dir, key);
  tls->client_ca_file = Resolve(base_dir, ca);
  if (cert.empty()) r.Error(t, Join(p, "cert_file"), "missing cert_file");
  if (key.empty()) r.Error(t, Join(p, "key_file"), "missing key_file");
  if (!ca.empty() && tls->client_auth == ClientAuthType::kNoClientCert)
    r.Error(ca_node, Join(p, "client_ca_file"),
            "client CAs are configured without a client auth policy (set client_auth_type)");
  if (ca.empty() && (tls->client_auth == ClientAuthType::kVerifyClientCertIfGiven ||
                     tls->client_auth == ClientAuthType::kRequireAndVerifyClientCert))
    r.Error(auth_node, Join(p, "client_auth_type"),
            std::string(ClientAuthTypeName(tls->client_auth)) + " needs client_ca_file");
}

void ParseHttp(const YAML::Node& h, Reader& r, WebFileConfig* c) {
  const std::string p = "http_server_config";
  if (!r.Map(h, p, {"headers", "http2"})) return;
  bool http2 = true;
  r.Bool(h, "http2", p, &http2);  // accepted; the endpoint speaks HTTP/1.1 only
  YAML::Node headers = h["headers"];
  if (!headers.IsDefined() || headers.IsNull()) return;
  const std::string hp = Join(p, "headers");
  if (!headers.IsMap()) {
    r.Error(headers, hp, "expected a mapping of header names to values");
    return;
  }
  for (const auto& kv : headers) {
    const std::string name = kv.first.Scalar();
    const std::string path = hp + "." + name;
    auto allowed = AllowedHeaders().find(name);
    if (allowed == AllowedHeaders().end()) {
      std::string names;
      for (const auto& [n, _] : AllowedHeaders()) names += (names.empty() ? "" : ", ") + n;
      r.Error(kv.first, path, "this header can not be configured (allowed: " + names + ")");
      continue;
    }
    if (!kv.second.IsScalar()) {
      r.Error(kv.second, path, "expected a string");
      continue;
    }
    const std::string value = kv.second.Scalar();
    if (value.find_first_of("\r\n") != std::string::npos || value.find('\0') != std::string::npos) {
      r.Error(kv.second, path, "header values must be one line");
      continue;
    }
    const auto& values = allowed->second;
    if (!values.empty() && std::find(values.begin(), values.end(), value) == values.end()) {
      std::string list;
      for (const auto& v : values) list += (list.empty() ? "" : ", ") + v;
      r.Error(kv.second, path, "expected one of " + list + ", got \"" + value + "\"");
      continue;
    }
    c->headers.emplace_back(name, value);
  }
}

void ParseUsers(const YAML::Node& u, Reader& r, WebFileConfig* c) {
  const std::string p = "basic_auth_users";
  if (!u.IsDefined() || u.IsNull()) return;
  if (!u.IsMap()) {
    r.Error(u, p, "expected a mapping of user names to bcrypt hashes");
    return;
  }
  for (const auto& kv : u) {
    const std::string user = kv.first.Scalar();
    const std::string path = p + "." + user;
    if (user.empty() || user.find(':') != std::string::npos) {
      r.Error(kv.first, path, "user names must be non-empty and must not contain ':'");
      continue;
    }
    // The hash is a secret for the toolkit: messages never quote it.
    if (!kv.second.IsScalar() || !IsBcryptHash(kv.second.Scalar())) {
      r.Error(kv.second, path,
              "expected a bcrypt hash ($2y$, $2b$ or $2a$, cost 04-31), e.g. from `htpasswd -nBC 10 USER`");
      continue;
    }
    c->basic_auth_users[user] = kv.second.Scalar();
  }
}

std::string DirName(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

WebFileConfig ParseWebConfig(const std::string& yaml_text, const std::string& source,
                             const std::string& base_dir, ConfigErrors* errors) {
  WebFileConfig c;
  c.source = source;
  YAML::Node root;
  if (!LoadYaml(yaml_text, source, errors, &root)) return c;
  Reader r(source, errors);
  try {
    if (!r.Map(root, "",
               {"tls_server_config", "http_server_config", "basic_auth_users", "health_server_config"}))
      return c;  // an empty file is a valid config: plain HTTP, no auth
    ParseTls(root["tls_server_config"], r, base_dir, &c.tls);
    ParseHttp(root["http_server_config"], r, &c);
    ParseUsers(root["basic_auth_users"], r, &c);
    YAML::Node h = root["health_server_config"];
    if (r.Map(h, "health_server_config", {"listen_address"})) {
      YAML::Node a = r.String(h, "listen_address", "health_server_config", &c.health_listen_address);
      std::string host;
      int port = 0;
      if (!c.health_listen_address.empty() && !ParseListenAddress(c.health_listen_address, &host, &port))
        r.Error(a, "health_server_config.listen_address",
                "expected HOST:PORT or :PORT, got \"" + c.health_listen_address + "\"");
    }
  } catch (const YAML::Exception& ex) {  // defensive: yaml-cpp throws on odd shapes
    errors->errors.push_back(source + ": " + ex.what());
  }
  return c;
}

WebFileConfig ReadWebConfigFile(const std::string& path, ConfigErrors* errors) {
  std::string text;
  if (!ReadTextFile(path, "web config file (web.config_file)", errors, &text)) {
    WebFileConfig c;
    c.source = path;
    return c;
  }
  return ParseWebConfig(text, path, DirName(path), errors);
}

WebFileConfig LoadWebConfigFile(const std::string& path, ConfigErrors* errors) {
  size_t before = errors->errors.size();
  WebFileConfig c = ReadWebConfigFile(path, errors);
  if (errors->errors.size() == before && c.tls.enabled) {
    auto material = TlsMaterial::Load(c.tls);
    if (!material.ok()) errors->errors.push_back(path + ": tls_server_config: " + material.status().message);
  }
  return c;
}

namespace {

// 0: no certificate checked; 1: a certificate required or verified, not both; 2: mTLS.
int ClientAuthStrength(ClientAuthType t) {
  switch (t) {
    case ClientAuthType::kNoClientCert:
    case ClientAuthType::kRequestClientCert:
      return 0;
    case ClientAuthType::kRequireAnyClientCert:
    case ClientAuthType::kVerifyClientCertIfGiven:
      return 1;
    case ClientAuthType::kRequireAndVerifyClientCert:
      return 2;
  }
  return 0;
}

}  // namespace

std::string SecurityDowngrade(const WebFileConfig& from, const WebFileConfig& to) {
  if (from.tls.enabled && !to.tls.enabled) return "it would turn TLS off";
  if (!from.basic_auth_users.empty() && to.basic_auth_users.empty())
    return "it would turn basic authentication off (no basic_auth_users)";
  if (from.tls.enabled && ClientAuthStrength(to.tls.client_auth) < ClientAuthStrength(from.tls.client_auth))
    return std::string("it would weaken client certificate checks from ") +
           ClientAuthTypeName(from.tls.client_auth) + " to " + ClientAuthTypeName(to.tls.client_auth);
  if (from.tls.enabled && to.tls.min_version < from.tls.min_version)
    return "it would lower tls_server_config.min_version";
  return "";
}

FileStamp StampFile(const std::string& path) {
  FileStamp s;
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return s;
  s.exists = true;
  s.dev = static_cast<uint64_t>(st.st_dev);
  s.ino = static_cast<uint64_t>(st.st_ino);
  s.size = static_cast<uint64_t>(st.st_size);
  s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  s.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  return s;
}

}  // namespace dora
