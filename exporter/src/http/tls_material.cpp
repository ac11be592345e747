#include "http/tls_material.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

namespace dora {
namespace {

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

// Never prompts on a terminal for a key passphrase: encrypted keys are refused.
int NoPassphrase(char*, int, int, void*) { return 0; }

int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

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

Result<std::shared_ptr<const TlsMaterial>> TlsMaterial::Load(const WebTlsConfig& config) {
  ERR_clear_error();
  std::shared_ptr<TlsMaterial> m(new TlsMaterial(config));
  {
    BioPtr bio(BIO_new_file(config.cert_file.c_str(), "r"));
    if (!bio)
      return Status::Error(Reason::kConfig, "cert_file \"" + config.cert_file + "\": " + OpenSslError());
    m->cert_.reset(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
    if (!m->cert_)
      return Status::Error(Reason::kConfig, "cert_file \"" + config.cert_file + "\": no PEM certificate (" +
                                                OpenSslError() + ")");
    m->chain_.reset(sk_X509_new_null());
    for (int i = 0; i < 64; ++i) {  // intermediates; bounded
      X509Ptr extra(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
      if (!extra) break;
      if (sk_X509_push(m->chain_.get(), extra.get()) > 0) extra.release();  // the stack owns it now
    }
    ERR_clear_error();  // the loop ends on "no start line"
  }
  {
    BioPtr bio(BIO_new_file(config.key_file.c_str(), "r"));
    if (!bio)
      return Status::Error(Reason::kConfig, "key_file \"" + config.key_file + "\": " + OpenSslError());
    m->key_.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
    if (!m->key_)
      return Status::Error(
          Reason::kConfig,
          "key_file \"" + config.key_file + "\": no unencrypted PEM private key (" + OpenSslError() + ")");
  }
  if (X509_check_private_key(m->cert_.get(), m->key_.get()) != 1) {
    ERR_clear_error();
    return Status::Error(Reason::kConfig, "key_file \"" + config.key_file +
                                              "\" does not match the certificate in \"" + config.cert_file +
                                              "\"");
  }
  if (!config.client_ca_file.empty()) {
    m->client_store_.reset(X509_STORE_new());
    if (X509_STORE_load_file(m->client_store_.get(), config.client_ca_file.c_str()) != 1)
      return Status::Error(Reason::kConfig,
                           "client_ca_file \"" + config.client_ca_file + "\": " + OpenSslError());
    m->client_ca_names_.reset(SSL_load_client_CA_file(config.client_ca_file.c_str()));
    if (!m->client_ca_names_ || sk_X509_NAME_num(m->client_ca_names_.get()) == 0) {
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
  if (SSL_use_cert_and_key(ssl, cert_.get(), key_.get(), chain_.get(), 1) != 1) return false;
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
    if (SSL_set1_verify_cert_store(ssl, client_store_.get()) != 1) return false;
    STACK_OF(X509_NAME)* names = SSL_dup_CA_list(client_ca_names_.get());
    if (!names) return false;
    SSL_set_client_CA_list(ssl, names);  // takes ownership
    // Client certificates must be meant for client authentication.
    X509_VERIFY_PARAM_set_purpose(SSL_get0_param(ssl), X509_PURPOSE_SSL_CLIENT);
  }
  return true;
}

std::string TlsMaterial::Subject() const {
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert_.get()), buf, sizeof buf);
  return buf;
}

std::string TlsMaterial::NotAfter() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(bio.get(), X509_get0_notAfter(cert_.get()));
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);  // NOLINT(google-runtime-int): OpenSSL's type
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : "";
}

}  // namespace dora
