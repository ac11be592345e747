#include "collectors/http_client.h"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <thread>

#include "util/log.h"
#include "util/secret.h"

namespace dora {

using Clock = std::chrono::steady_clock;
using EC = HttpErrorClass;

namespace {

constexpr size_t kMaxPasswordBytes = 64 * 1024;

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The first TLS-level reason in this thread's OpenSSL error queue, ignoring
// the ones a plain reset or close also leaves (those are class connection).
std::optional<std::string> TlsAlert() {
  std::optional<std::string> found;
  for (int i = 0; i < 32; ++i) {
    unsigned long e = ERR_get_error();
    if (e == 0) break;
    if (found || ERR_GET_LIB(e) != ERR_LIB_SSL) continue;
    int reason = ERR_GET_REASON(e);
    if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING || reason == SSL_R_SHUTDOWN_WHILE_IN_INIT) continue;
    const char* text = ERR_reason_error_string(e);
    found = text ? text : "TLS error";
  }
  return found;
}

}  // namespace

const char* HttpErrorClassName(HttpErrorClass c) {
  switch (c) {
    case EC::kNone:
      return "none";
    case EC::kTimeout:
      return "timeout";
    case EC::kConnection:
      return "connection";
    case EC::kTls:
      return "tls";
    case EC::kAuth:
      return "auth";
    case EC::kHttp5xx:
      return "http_5xx";
    case EC::kHttp4xx:
      return "http_4xx";
    case EC::kBadResponse:
      return "bad_response";
  }
  return "bad_response";
}

std::string RedactUserinfo(const std::string& s) {
  auto sep = s.find("://");
  if (sep == std::string::npos) return s;
  size_t start = sep + 3;
  size_t end = s.find_first_of("/?#", start);
  if (end == std::string::npos) end = s.size();
  auto at = s.rfind('@', end - 1);
  if (at == std::string::npos || at < start || end == start) return s;
  return s.substr(0, start) + s.substr(at + 1);
}

std::string SanitizeText(const std::string& s, size_t max) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) break;
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

std::optional<HttpUrl> ParseHttpUrl(const std::string& url) {
  HttpUrl u;
  auto sep = url.find("://");
  if (sep == std::string::npos) return std::nullopt;
  u.scheme = Lower(url.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
  std::string rest = url.substr(sep + 3);
  size_t path_start = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "" : rest.substr(path_start);
  if (auto q = path.find_first_of("?#"); q != std::string::npos) path.resize(q);
  if (auto at = authority.rfind('@'); at != std::string::npos) {
    u.has_userinfo = true;
    authority = authority.substr(at + 1);
  }
  std::string port;
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) return std::nullopt;
    u.host = authority.substr(0, close + 1);
    std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return std::nullopt;
      port = after.substr(1);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string::npos) {
    u.host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  } else {
    u.host = authority;
  }
  if (u.host.empty() || u.host == "[]") return std::nullopt;
  if (port.empty()) {
    u.port = u.scheme == "https" ? 443 : 80;
  } else {
    if (port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    u.port = std::stoi(port);
    if (u.port < 1 || u.port > 65535) return std::nullopt;
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  u.base_path = path;
  return u;
}

std::string EndpointLabel(const HttpEndpoint& endpoint) {
  return RedactUserinfo(endpoint.name.empty() ? endpoint.url : endpoint.name);
}

std::string EncodePathSegment(const std::string& segment) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size());
  for (unsigned char c : segment) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// ---- HttpCancel ----

void HttpCancel::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  if (client_) client_->stop();
}

bool HttpCancel::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

bool HttpCancel::Attach(httplib::Client* client) {
  std::lock_guard<std::mutex> lock(mu_);
  if (client != nullptr && cancelled_) return false;
  client_ = client;
  return true;
}

void HttpCancel::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  client_ = nullptr;
  cancelled_ = false;
}

// ---- HttpSession ----

HttpSession::HttpSession(const HttpEndpoint& ep, Clock::time_point deadline, HttpCancel* cancel,
                         std::string accept, const std::string& bearer_token_file)
    : deadline_(deadline), cancel_(cancel) {
  auto fail = [&](EC cls, std::string message) {
    error_ = cls;
    message_ = std::move(message);
  };
  auto url = ParseHttpUrl(ep.url);
  if (!url) {
    fail(EC::kConnection, "invalid URL");
    return;
  }
  std::string password;
  if (!ep.username.empty()) {
    // Read on every session, so a rotated password is used from the next probe on.
    if (!ep.password_file.empty() || !ep.password_env.empty()) {
      auto secret = !ep.password_file.empty()
                        ? ReadSecretFile("password_file", ep.password_file, kMaxPasswordBytes)
                        : ReadSecretEnv("password_env", ep.password_env);
      if (!secret.ok()) {
        fail(EC::kAuth, secret.status().message);
        return;
      }
      password = std::move(secret.value());
    }
  }
  std::string token;
  if (!bearer_token_file.empty()) {
    auto secret = ReadSecretFile("bearer_token_file", bearer_token_file, kMaxPasswordBytes);
    if (!secret.ok()) {
      fail(EC::kAuth, secret.status().message);
      return;
    }
    token = std::move(secret.value());
  }
  base_ = url->base_path;
  bool https = url->scheme == "https";
  if (https && (!ep.cert_file.empty() || !ep.key_file.empty())) {
    client_ = std::make_unique<httplib::Client>(url->origin(), ep.cert_file, ep.key_file);
  } else {
    client_ = std::make_unique<httplib::Client>(url->origin());
  }
  if (!client_->is_valid()) {
    fail(https ? EC::kTls : EC::kConnection,
         https ? "cannot load the client certificate or key" : "cannot create an HTTP client");
    return;
  }
  if (https) {
    if (!ep.ca_file.empty()) client_->set_ca_cert_path(ep.ca_file);
    client_->enable_server_certificate_verification(!ep.insecure_skip_verify);
  }
  client_->set_keep_alive(true);
  client_->set_tcp_nodelay(true);  // small requests; no Nagle/delayed-ACK stalls on keep-alive
  client_->set_follow_location(false);
  if (!ep.username.empty()) client_->set_basic_auth(ep.username, password);
  if (!bearer_token_file.empty()) client_->set_bearer_token_auth(token);
  client_->set_default_headers({{"Accept", std::move(accept)}, {"User-Agent", "dora-kafka-exporter"}});
  if (cancel_ && !cancel_->Attach(client_.get())) {
    fail(EC::kTimeout, "no time left before the collector deadline");
    return;
  }
}

HttpSession::~HttpSession() {
  if (cancel_ && client_) cancel_->Attach(nullptr);
}

HttpSession::Reply HttpSession::Get(const std::string& path) { return Send(path, nullptr, ""); }

HttpSession::Reply HttpSession::Post(const std::string& path, const std::string& body,
                                     const std::string& content_type) {
  return Send(path, &body, content_type);
}

HttpSession::Reply HttpSession::Send(const std::string& path, const std::string* body,
                                     const std::string& content_type) {
  Reply r;
  const std::string what = (body ? "POST " : "GET ") + path;
  if (!ok()) {
    r.cls = error_;
    r.message = message_;
    return r;
  }
  auto cancelled = [&] { return cancel_ && cancel_->cancelled(); };
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline_ - Clock::now());
  if (left.count() <= 0 || cancelled()) {
    r.cls = EC::kTimeout;
    r.message = what + ": no time left within the timeout";
    return r;
  }
  auto sec = static_cast<time_t>(left.count() / 1000000);
  auto usec = static_cast<time_t>(left.count() % 1000000);
  client_->set_connection_timeout(sec, usec);
  client_->set_read_timeout(sec, usec);
  client_->set_write_timeout(sec, usec);
  ERR_clear_error();  // this thread's OpenSSL error queue tells TLS alerts from plain resets below
  // A GET's body is read up to kMaxResponseBytes: a broken or hostile endpoint
  // cannot make the daemon hold an unbounded answer (cpp-httplib's client has
  // no limit of its own).
  std::string received;
  bool too_large = false;
  auto receive = [&](const char* data, size_t n) {
    if (received.size() + n > kMaxResponseBytes) {
      too_large = true;
      return false;  // cancels the request
    }
    received.append(data, n);
    return true;
  };
  auto res = body ? client_->Post((base_ + path).c_str(), *body, content_type.c_str())
                  : client_->Get(base_ + path, receive);
  if (too_large) {
    r.cls = EC::kBadResponse;
    r.message = what + ": answer larger than " + std::to_string(kMaxResponseBytes >> 20) + " MiB, not read";
    return r;
  }
  // A request that ends at (or after) the deadline is a timeout, whatever
  // socket error reported it: a slow endpoint counts as timed out.
  bool late = Clock::now() >= deadline_ - Millis(5) || cancelled();
  if (!res) {
    auto err = res.error();
    r.message = what + ": " + httplib::to_string(err);
    switch (err) {
      case httplib::Error::ConnectionTimeout:
      case httplib::Error::Canceled:
        r.cls = EC::kTimeout;
        break;
      case httplib::Error::SSLConnection:
      case httplib::Error::SSLLoadingCerts:
        r.cls = late ? EC::kTimeout : EC::kTls;
        break;
      case httplib::Error::SSLServerVerification:
        r.cls = EC::kTls;
        r.message +=
            std::string(" (") + X509_verify_cert_error_string(client_->get_openssl_verify_result()) + ")";
        break;
      default:  // Connection (refused, unreachable, resolve), Read/Write (reset, closed)
        r.cls = late ? EC::kTimeout : EC::kConnection;
        // A TLS alert after the handshake (TLS 1.3: client certificate
        // required or rejected) surfaces as a read error.
        if (!late) {
          if (auto alert = TlsAlert()) {
            r.cls = EC::kTls;
            r.message += " (" + *alert + ")";
          }
        }
    }
    if (r.cls == EC::kTimeout) r.message += " (timed out)";
    return r;
  }
  r.status = res->status;
  if (Clock::now() > deadline_) {
    r.cls = EC::kTimeout;
    r.message = what + ": answered after the timeout";
    return r;
  }
  if (body && res->status >= 200 && res->status <= 299) {
    r.ok = true;
    // A JSON answer is kept (a schema registry's {"id": N}); anything else is not an error.
    if (!res->body.empty()) r.json = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    return r;
  }
  if (res->status != 200) {
    r.message = what + ": HTTP " + std::to_string(res->status);
    if (res->status == 401 || res->status == 403) {
      r.cls = EC::kAuth;
    } else if (res->status >= 500 && res->status <= 599) {
      r.cls = EC::kHttp5xx;
    } else if (res->status >= 400 && res->status <= 499) {
      r.cls = EC::kHttp4xx;
    } else {
      r.cls = EC::kBadResponse;  // redirects (not followed) and odd 1xx/2xx
    }
    return r;
  }
  // A 200 that is not JSON is usually a login page of a proxy or a wrong URL.
  std::string type = Lower(res->get_header_value("Content-Type"));
  if (type.find("json") == std::string::npos) {
    r.cls = EC::kBadResponse;
    r.message = what + ": unexpected content type \"" + SanitizeText(type) + "\"";
    return r;
  }
  r.json = nlohmann::json::parse(received, nullptr, false);
  if (r.json.is_discarded()) {
    r.cls = EC::kBadResponse;
    r.message = what + ": malformed JSON";  // no parser text: it quotes the body
    return r;
  }
  r.ok = true;
  return r;
}

// ---- RunBoundedProbes ----

void RunBoundedProbes(const std::vector<Millis>& timeouts, Clock::time_point hard, size_t max_parallel,
                      const std::function<void(size_t, Clock::time_point, HttpCancel&)>& probe,
                      const char* logger_name) {
  const size_t n = timeouts.size();
  if (n == 0) return;
  struct Slot {
    bool started = false;
    bool done = false;
    bool cancel_sent = false;
    Clock::time_point deadline;
    HttpCancel cancel;
  };
  std::vector<Slot> slots(n);
  std::mutex mu;
  std::condition_variable cv;
  size_t next = 0, started = 0, finished = 0;
  auto worker = [&] {
    for (;;) {
      size_t i;
      Clock::time_point deadline;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (next >= n) return;
        i = next++;
        deadline = std::min(Clock::now() + timeouts[i], hard);
        slots[i].deadline = deadline;
        slots[i].started = true;
        ++started;
      }
      cv.notify_all();
      probe(i, deadline, slots[i].cancel);
      {
        std::lock_guard<std::mutex> lock(mu);
        slots[i].done = true;
        ++finished;
      }
      cv.notify_all();
    }
  };

  std::vector<std::thread> threads;
  size_t want = std::min(n, std::max<size_t>(max_parallel, 1));
  for (size_t t = 0; t < want; ++t) {
    try {
      threads.emplace_back(worker);
    } catch (const std::exception& ex) {  // system_error, or bad_alloc of the thread's state
      GetLogger(logger_name)->debug("cannot start a probe thread ({}); using fewer", ex.what());
      break;
    }
  }
  if (threads.empty()) worker();  // no thread at all: probe on this one

  // Watchdog: socket timeouts bound each read, not a whole request (a body
  // trickling in never trips them), so each probe still running at its
  // deadline is aborted; the probe thread then ends at once (a connect in
  // progress ends by its own timeout, which is never past the deadline).
  for (size_t iter = 0; iter < 4 * n + 16; ++iter) {
    std::vector<Slot*> cancel;
    {
      std::unique_lock<std::mutex> lock(mu);
      auto wake = hard;
      for (auto& s : slots) {
        if (s.started && !s.done && !s.cancel_sent) wake = std::min(wake, s.deadline);
      }
      size_t seen_started = started;
      cv.wait_until(lock, wake, [&] { return finished == n || started != seen_started; });
      if (finished == n) break;
      auto now = Clock::now();
      for (auto& s : slots) {
        if (s.done || s.cancel_sent) continue;
        if (now >= hard || (s.started && now >= s.deadline)) {
          s.cancel_sent = true;
          cancel.push_back(&s);
        }
      }
    }
    for (Slot* s : cancel) s->cancel.Cancel();
    if (Clock::now() >= hard) break;
  }
  for (auto& t : threads) t.join();
}

}  // namespace dora
