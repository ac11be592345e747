#include "support/certs.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cstring>

namespace dora::test {

KeyCert::~KeyCert() {
  EVP_PKEY_free(key);
  X509_free(cert);
}

namespace {

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

std::string BioText(BIO* b) {
  char* d = nullptr;
  long n = BIO_get_mem_data(b, &d);
  std::string s(d, static_cast<size_t>(n));
  BIO_free(b);
  return s;
}

}  // namespace

void MakeKeyCert(KeyCert* out, const std::string& cn, const KeyCert* issuer, const std::string& kind) {
  static std::atomic<long> serial{1000};
  out->key = EVP_EC_gen("P-256");
  out->cert = X509_new();
  X509_set_version(out->cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(out->cert), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(out->cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(out->cert), 3600);
  X509_set_pubkey(out->cert, out->key);
  X509_NAME* name = X509_get_subject_name(out->cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                             -1, 0);
  X509* signer = issuer ? issuer->cert : out->cert;
  X509_set_issuer_name(out->cert, X509_get_subject_name(signer));
  if (kind == "ca") {
    AddExt(out->cert, signer, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(out->cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else if (!kind.empty()) {
    AddExt(out->cert, signer, NID_basic_constraints, "critical,CA:FALSE");
    if (kind == "server") {
      AddExt(out->cert, signer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
      AddExt(out->cert, signer, NID_ext_key_usage, "serverAuth");
    } else if (kind == "client") {
      AddExt(out->cert, signer, NID_ext_key_usage, "clientAuth");
    } else {
      AddExt(out->cert, signer, NID_ext_key_usage, "serverAuth");
    }
  }
  X509_sign(out->cert, issuer ? issuer->key : out->key, EVP_sha256());
}

std::string PemCert(X509* cert) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, cert);
  return BioText(b);
}

std::string PemKey(EVP_PKEY* key, const char* passphrase) {
  BIO* b = BIO_new(BIO_s_mem());
  if (passphrase) {
    PEM_write_bio_PKCS8PrivateKey(b, key, EVP_aes_256_cbc(), passphrase,
                                  static_cast<int>(std::strlen(passphrase)), nullptr, nullptr);
  } else {
    PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  }
  return BioText(b);
}

}  // namespace dora::test
