#include "http/web_config.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <strings.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "config/yaml_reader.h"

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

std::string OpenSslError() {
  unsigned long e = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
  std::string last;
  while (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    last = buf;
    e = ERR_get_error();
  }
  return last.empty() ? "unknown OpenSSL error" : last;
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

// Never prompts on a terminal for a key passphrase: encrypted keys are refused.
int NoPassphrase(char*, int, int, void*) { return 0; }

int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

const char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool Base64Decode(const std::string& in, std::string* out) {
  if (in.size() % 4 != 0) return false;
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    char ch = in[i];
    if (ch == '=') {
      if (i + 2 < in.size()) return false;  // padding only in the last two places
      ++pad;
      continue;
    }
    if (pad > 0) return false;
    const char* pos = std::strchr(kBase64Alphabet, ch);
    if (ch == '\0' || pos == nullptr) return false;
    acc = (acc << 6) | static_cast<uint32_t>(pos - kBase64Alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return pad <= 2;
}

int BcryptCost(const std::string& hash) { return std::stoi(hash.substr(4, 2)); }

}  // namespace

const char* ClientAuthTypeName(ClientAuthType t) {
  switch (t) {
    case ClientAuthType::kNoClientCert:
      return "NoClientCert";
    case ClientAuthType::kRequestClientCert:
      return "RequestClientCert";
    case ClientAuthType::kRequireAnyClientCert:
      return "RequireAnyClientCert";
    case ClientAuthType::kVerifyClientCertIfGiven:
      return "VerifyClientCertIfGiven";
    case ClientAuthType::kRequireAndVerifyClientCert:
      return "RequireAndVerifyClientCert";
  }
  return "?";
}

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

// ---- TLS material

TlsMaterial::~TlsMaterial() {
  X509_free(cert_);
  if (chain_) sk_X509_pop_free(chain_, X509_free);
  EVP_PKEY_free(key_);
  X509_STORE_free(client_store_);
  if (client_ca_names_) sk_X509_NAME_pop_free(client_ca_names_, X509_NAME_free);
}

Result<std::shared_ptr<const TlsMaterial>> TlsMaterial::Load(const WebTlsConfig& config) {
  ERR_clear_error();
  std::shared_ptr<TlsMaterial> m(new TlsMaterial(config));
  {
    BioPtr bio(BIO_new_file(config.cert_file.c_str(), "r"));
    if (!bio)
      return Status::Error(Reason::kConfig, "cert_file \"" + config.cert_file + "\": " + OpenSslError());
    m->cert_ = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr);
    if (!m->cert_)
      return Status::Error(Reason::kConfig, "cert_file \"" + config.cert_file + "\": no PEM certificate (" +
                                                OpenSslError() + ")");
    m->chain_ = sk_X509_new_null();
    for (int i = 0; i < 64; ++i) {  // intermediates; bounded
      X509* extra = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr);
      if (!extra) break;
      sk_X509_push(m->chain_, extra);
    }
    ERR_clear_error();  // the loop ends on "no start line"
  }
  {
    BioPtr bio(BIO_new_file(config.key_file.c_str(), "r"));
    if (!bio)
      return Status::Error(Reason::kConfig, "key_file \"" + config.key_file + "\": " + OpenSslError());
    m->key_ = PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr);
    if (!m->key_)
      return Status::Error(
          Reason::kConfig,
          "key_file \"" + config.key_file + "\": no unencrypted PEM private key (" + OpenSslError() + ")");
  }
  if (X509_check_private_key(m->cert_, m->key_) != 1) {
    ERR_clear_error();
    return Status::Error(Reason::kConfig, "key_file \"" + config.key_file +
                                              "\" does not match the certificate in \"" + config.cert_file +
                                              "\"");
  }
  if (!config.client_ca_file.empty()) {
    m->client_store_ = X509_STORE_new();
    if (X509_STORE_load_file(m->client_store_, config.client_ca_file.c_str()) != 1)
      return Status::Error(Reason::kConfig,
                           "client_ca_file \"" + config.client_ca_file + "\": " + OpenSslError());
    m->client_ca_names_ = SSL_load_client_CA_file(config.client_ca_file.c_str());
    if (!m->client_ca_names_ || sk_X509_NAME_num(m->client_ca_names_) == 0) {
      ERR_clear_error();
      return Status::Error(Reason::kConfig,
                           "client_ca_file \"" + config.client_ca_file + "\": no certificates");
    }
  }
  return std::shared_ptr<const TlsMaterial>(std::move(m));
}

bool TlsMaterial::ApplyTo(SSL* ssl) const {
  if (SSL_set_min_proto_version(ssl, config_.min_version) != 1) return false;
  if (SSL_set_max_proto_version(ssl, config_.max_version) != 1) return false;
  // Up-refs certificate, key and chain: the SSL keeps them after this material is replaced.
  if (SSL_use_cert_and_key(ssl, cert_, key_, chain_, 1) != 1) return false;
  switch (config_.client_auth) {
    case ClientAuthType::kNoClientCert:
      SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuthType::kRequestClientCert:
      SSL_set_verify(ssl, SSL_VERIFY_PEER, AcceptAnyCertificate);
      break;
    case ClientAuthType::kRequireAnyClientCert:
      SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, AcceptAnyCertificate);
      break;
    case ClientAuthType::kVerifyClientCertIfGiven:
      SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
      break;
    case ClientAuthType::kRequireAndVerifyClientCert:
      SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  if (client_store_) {
    if (SSL_set1_verify_cert_store(ssl, client_store_) != 1) return false;
    STACK_OF(X509_NAME)* names = SSL_dup_CA_list(client_ca_names_);
    if (!names) return false;
    SSL_set_client_CA_list(ssl, names);  // takes ownership
    // Client certificates must be meant for client authentication.
    X509_VERIFY_PARAM_set_purpose(SSL_get0_param(ssl), X509_PURPOSE_SSL_CLIENT);
  }
  return true;
}

std::string TlsMaterial::Subject() const {
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert_), buf, sizeof buf);
  return buf;
}

std::string TlsMaterial::NotAfter() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(bio.get(), X509_get0_notAfter(cert_));
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);  // NOLINT(google-runtime-int): OpenSSL's type
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : "";
}

// ---- bcrypt

bool IsBcryptHash(const std::string& hash) {
  static const std::regex kBcrypt("^\\$2[aby]\\$(0[4-9]|[12][0-9]|3[01])\\$[./A-Za-z0-9]{53}$");
  return std::regex_match(hash, kBcrypt);
}

bool BcryptVerify(const std::string& password, const std::string& hash) {
  if (password.find('\0') != std::string::npos || !IsBcryptHash(hash)) return false;
  auto data = std::make_unique<crypt_data>();  // ~32 KiB: not on a server thread's stack
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  bool ok =
      out != nullptr && std::strlen(out) == hash.size() && CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return ok;
}

std::string BcryptHash(const std::string& password, int cost) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr, 0, salt, sizeof salt) == nullptr)
    return "";
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = crypt_rn(password.c_str(), salt, data.get(), sizeof(crypt_data));
  std::string hash = out != nullptr && out[0] != '*' ? out : "";
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return hash;
}

BasicAuth::BasicAuth(std::map<std::string, std::string> users) : users_(std::move(users)) {
  if (users_.empty()) return;
  int cost = 4;
  for (const auto& [_, hash] : users_) {
    if (IsBcryptHash(hash)) cost = std::max(cost, BcryptCost(hash));
  }
  // Random password, so the dummy never matches anything.
  unsigned char rnd[32];
  RAND_bytes(rnd, sizeof rnd);
  std::string secret;
  for (unsigned char b : rnd) secret.push_back(kBase64Alphabet[b % 64]);
  dummy_hash_ = BcryptHash(secret, cost);
  unsigned char salt[16];
  RAND_bytes(salt, sizeof salt);
  cache_salt_.assign(reinterpret_cast<const char*>(salt), sizeof salt);
}

bool BasicAuth::CheckHeader(const std::string& authorization) {
  // RFC 7617: case-insensitive scheme, then base64(user ":" password).
  if (authorization.size() < 6 || strncasecmp(authorization.c_str(), "Basic ", 6) != 0) return false;
  size_t start = authorization.find_first_not_of(' ', 6);
  if (start == std::string::npos) return false;
  std::string decoded;
  if (!Base64Decode(authorization.substr(start), &decoded)) return false;
  auto colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  bool ok = Check(decoded.substr(0, colon), decoded.substr(colon + 1));
  OPENSSL_cleanse(&decoded[0], decoded.size());
  return ok;
}

bool BasicAuth::Check(const std::string& user, const std::string& password) {
  if (users_.empty()) return false;
  auto it = users_.find(user);
  const bool known = it != users_.end();
  const std::string& hash = known ? it->second : dummy_hash_;

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  std::string material = cache_salt_ + user + '\0' + hash + '\0' + password;
  EVP_Digest(material.data(), material.size(), digest, &len, EVP_sha256(), nullptr);
  OPENSSL_cleanse(&material[0], material.size());
  std::string key(reinterpret_cast<const char*>(digest), len);
  if (known) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (ok_cache_.count(key)) return true;
  }
  bool ok = false;
  {
    std::lock_guard<std::mutex> lock(bcrypt_mu_);
    ok = BcryptVerify(password, hash);
  }
  ok = ok && known;
  if (ok) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (ok_cache_.size() >= 1024) ok_cache_.clear();  // bounded; refilled by the next checks
    ok_cache_.insert(key);
  }
  return ok;
}

}  // namespace dora
