#pragma once
// In-process test certificates (P-256 keys, X.509 v3) and their PEM text, for
// the web config unit tests and the TLS integration tests.
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>

namespace dora::test {

struct KeyCert {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  KeyCert() = default;
  KeyCert(const KeyCert&) = delete;
  KeyCert& operator=(const KeyCert&) = delete;
  ~KeyCert();
};

// A fresh key and a certificate for it, valid from a minute ago for an hour,
// self-signed or signed by `issuer`. `kind`: "" (no extensions), "ca",
// "server" (SAN 127.0.0.1 and localhost, serverAuth), "client" (clientAuth) or
// "server-only-eku" (a leaf whose only extended key usage is serverAuth).
void MakeKeyCert(KeyCert* out, const std::string& cn, const KeyCert* issuer = nullptr,
                 const std::string& kind = "");

std::string PemCert(X509* cert);
// PKCS#8 encrypted with AES-256-CBC when `passphrase` is given.
std::string PemKey(EVP_PKEY* key, const char* passphrase = nullptr);

}  // namespace dora::test
