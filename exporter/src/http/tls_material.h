#pragma once
// The TLS side of the web config (tls_server_config): the settings, and the
// certificate, key and client CA loaded from them with OpenSSL. The YAML schema
// that fills WebTlsConfig is http/web_config.*.
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <utility>

#include "util/handle.h"
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

// OpenSSL objects owned by a Handle (util/handle.h). A stack is freed with its elements.
inline void FreeCertChain(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }
inline void FreeNameStack(STACK_OF(X509_NAME) * s) { sk_X509_NAME_pop_free(s, X509_NAME_free); }
using X509Ptr = Handle<X509, X509_free>;
using CertChainPtr = Handle<STACK_OF(X509), FreeCertChain>;
using PkeyPtr = Handle<EVP_PKEY, EVP_PKEY_free>;
using X509StorePtr = Handle<X509_STORE, X509_STORE_free>;
using NameStackPtr = Handle<STACK_OF(X509_NAME), FreeNameStack>;
using BioPtr = Handle<BIO, BIO_free>;

// A certificate chain, its private key and the client CA store, loaded once and
// never modified afterwards: any number of connections may use one at the same
// time. Rotation builds a new one; connections that started with the old one
// keep it alive through their shared_ptr.
class TlsMaterial {
 public:
  // Loads cert_file (leaf first, then intermediates), key_file (PEM, not
  // encrypted) and client_ca_file. Errors name the file; never key material.
  static Result<std::shared_ptr<const TlsMaterial>> Load(const WebTlsConfig& config);
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
  X509Ptr cert_;
  CertChainPtr chain_;
  PkeyPtr key_;
  X509StorePtr client_store_;
  NameStackPtr client_ca_names_;
};

}  // namespace dora
