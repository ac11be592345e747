#pragma once
// Passwords of the web config (basic_auth_users): bcrypt hashes checked with
// libxcrypt, and the HTTP basic auth header (RFC 7617, its own base64 decoder).
#include <map>
#include <mutex>
#include <string>
#include <unordered_set>

namespace dora {

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
