#include "http/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <strings.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <regex>

namespace dora {
namespace {

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
