#pragma once
// The HTTP(S) client of the collectors that probe REST services (schema
// registries, Kafka Connect clusters) and of the Alertmanager notifier
// (alerting/notifier.h): one endpoint's TLS settings, basic auth or a bearer
// token from a file,
// basic auth with the password from a file or an environment variable, a per-request
// deadline, error classes, and bounded concurrent probing of several endpoints
// with a watchdog that aborts a request still running at its deadline.
//
// Never logs or returns a credential or a response body: error messages name
// the request, the HTTP status or the socket/TLS error only.
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace httplib {
class Client;
}

namespace dora {

// The `class` label of kafka_schema_registry_last_error and kafka_connect_last_error.
enum class HttpErrorClass { kNone, kTimeout, kConnection, kTls, kAuth, kHttp5xx, kHttp4xx, kBadResponse };
const char* HttpErrorClassName(HttpErrorClass c);

// scheme://host:port plus the path prefix the API lives under ("" or "/apis/ccompat/v7").
struct HttpUrl {
  std::string scheme;  // http|https
  std::string host;    // IPv6 literals keep their brackets
  int port = 0;
  std::string base_path;  // no trailing slash
  bool has_userinfo = false;
  std::string origin() const { return scheme + "://" + host + ":" + std::to_string(port); }
};
std::optional<HttpUrl> ParseHttpUrl(const std::string& url);

// Removes "user:password@" from a URL-looking string.
std::string RedactUserinfo(const std::string& s);

// The label of an endpoint: its name, or its URL without any user:password@ part.
std::string EndpointLabel(const HttpEndpoint& endpoint);

// Percent-encodes a string for use as one path segment.
std::string EncodePathSegment(const std::string& segment);

// Printable ASCII only, at most `max` characters: server-supplied text in a log line.
std::string SanitizeText(const std::string& s, size_t max = 64);

// Lets a watchdog thread abort the request a probe thread has in flight.
class HttpCancel {
 public:
  // Aborts the request in flight (if any) and every later one.
  void Cancel();
  bool cancelled() const;
  // Registers (or, with nullptr, unregisters) the client a probe uses; false
  // when the probe was cancelled already (the client is then not registered).
  bool Attach(httplib::Client* client);
  void Reset();

 private:
  mutable std::mutex mu_;
  httplib::Client* client_ = nullptr;
  bool cancelled_ = false;
};

// The largest answer to a GET that is read (a registry's subjects or a Connect
// cluster's expanded status list are far below it).
inline constexpr size_t kMaxResponseBytes = size_t{32} << 20;

// One probe's keep-alive session with one endpoint, every request bounded by
// `deadline`. Construction reads the credentials and builds the client; no
// request is made until Get().
class HttpSession {
 public:
  struct Reply {
    bool ok = false;  // a 200 with a JSON content type and a body that parses
    int status = 0;   // 0 when no HTTP answer came
    HttpErrorClass cls = HttpErrorClass::kNone;
    std::string message;  // "GET <path>: <what went wrong>"; never a body or a credential
    nlohmann::json json;
  };

  // `accept` is the Accept header. `bearer_token_file` (optional) holds a
  // token sent as "Authorization: Bearer", read at construction.
  HttpSession(const HttpEndpoint& endpoint, std::chrono::steady_clock::time_point deadline,
              HttpCancel* cancel, std::string accept, const std::string& bearer_token_file = "");
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  // False when the session could not be set up (bad URL, unreadable secret or
  // client certificate, already cancelled): error() and message() say why.
  bool ok() const { return error_ == HttpErrorClass::kNone; }
  HttpErrorClass error() const { return error_; }
  const std::string& message() const { return message_; }

  // GET base_path + path (path may carry a query string).
  Reply Get(const std::string& path);
  // POST `body` to base_path + path. ok: any 2xx; a JSON answer is in `json`
  // (discarded, is_discarded(), when the body is not JSON).
  Reply Post(const std::string& path, const std::string& body, const std::string& content_type);

 private:
  // body null: GET, expecting a JSON 200.
  Reply Send(const std::string& path, const std::string* body, const std::string& content_type);

  std::chrono::steady_clock::time_point deadline_;
  HttpCancel* cancel_;
  std::unique_ptr<httplib::Client> client_;
  std::string base_;
  HttpErrorClass error_ = HttpErrorClass::kNone;
  std::string message_;
};

// Runs probe(i, deadline, cancel) for every i in [0, timeouts.size()) on up to
// `max_parallel` threads (on the calling thread if none can be started). Each
// probe's deadline is min(its start + timeouts[i], hard); a probe still running
// at its deadline is cancelled through its HttpCancel, so the whole call ends
// shortly after `hard` whatever the endpoints do. `probe` must not throw.
void RunBoundedProbes(
    const std::vector<Millis>& timeouts, std::chrono::steady_clock::time_point hard, size_t max_parallel,
    const std::function<void(size_t, std::chrono::steady_clock::time_point, HttpCancel&)>& probe,
    const char* logger_name);

}  // namespace dora
