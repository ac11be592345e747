#include "collectors/schema_registry.h"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "util/file.h"
#include "util/log.h"

namespace dora {

using Clock = std::chrono::steady_clock;

// Per registry, across runs. A probe thread owns it during a run (only `mu`,
// `client` and `cancelled` are shared with the Collect thread); Collect reads
// it after joining the probe threads.
struct SchemaRegistryCollector::RegistryState {
  SchemaRegistryEndpoint endpoint;
  std::string label;

  double last_success_unix = 0;
  int failures = 0;  // consecutive failed probes
  RegistryErrorClass last_class = RegistryErrorClass::kNone;
  struct VersionCount {
    uint64_t count = 0;
    uint64_t refreshed_run = 0;
  };
  std::map<std::string, VersionCount> versions;  // subject -> versions
  uint64_t run = 0;

  RegistryProbe probe;  // this run's outcome
  // Guarded by Collect's own mutex during a run.
  bool started = false;
  bool done = false;
  bool cancel_sent = false;
  Clock::time_point deadline;

  // Lets Collect abort the request in flight at the registry's deadline.
  std::mutex mu;
  httplib::Client* client = nullptr;
  bool cancelled = false;
};

namespace {

using State = SchemaRegistryCollector::RegistryState;
using EC = RegistryErrorClass;

constexpr size_t kMaxSecretBytes = 64 * 1024;

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Removes "user:password@" from a URL-looking string.
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

// Printable ASCII only, at most `max` characters: server-supplied text in a log line.
std::string Sanitize(const std::string& s, size_t max = 64) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) break;
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

// Mode and compatibility values become label values: keep them bounded.
std::string EnumLabel(const nlohmann::json& v) {
  if (!v.is_string()) return "";
  std::string s = v.get<std::string>();
  if (s.empty() || s.size() > 40) return "unknown";
  for (auto& c : s) {
    if (!std::isalpha(static_cast<unsigned char>(c)) && c != '_') return "unknown";
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return s;
}

std::optional<std::string> ReadSecretFile(const std::string& path) {
  auto text = ReadRegularFile(path, kMaxSecretBytes);
  if (!text.ok()) return std::nullopt;
  std::string s = std::move(text.value());
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// One probe of one registry, bounded by `deadline`.
class Prober {
 public:
  Prober(State& st, Clock::time_point deadline) : st_(st), deadline_(deadline) {}

  RegistryProbe Run() {
    RegistryProbe p;
    const auto& ep = st_.endpoint;
    auto url = ParseRegistryUrl(ep.url);
    if (!url) return Fail(p, EC::kConnection, "invalid registry URL");
    std::string password;
    if (!ep.username.empty()) {
      if (!ep.password_file.empty()) {
        auto secret = ReadSecretFile(ep.password_file);
        if (!secret) return Fail(p, EC::kAuth, "cannot read password_file " + ep.password_file);
        password = std::move(*secret);
      } else if (!ep.password_env.empty()) {
        const char* v = std::getenv(ep.password_env.c_str());
        if (v == nullptr) return Fail(p, EC::kAuth, "password_env " + ep.password_env + " is not set");
        password = v;
      }
    }
    base_ = url->base_path;
    bool https = url->scheme == "https";
    std::unique_ptr<httplib::Client> cli;
    if (https && (!ep.cert_file.empty() || !ep.key_file.empty())) {
      cli = std::make_unique<httplib::Client>(url->origin(), ep.cert_file, ep.key_file);
    } else {
      cli = std::make_unique<httplib::Client>(url->origin());
    }
    if (!cli->is_valid()) {
      return Fail(p, https ? EC::kTls : EC::kConnection,
                  https ? "cannot load the client certificate or key" : "cannot create an HTTP client");
    }
    if (https) {
      if (!ep.ca_file.empty()) cli->set_ca_cert_path(ep.ca_file);
      cli->enable_server_certificate_verification(!ep.insecure_skip_verify);
    }
    cli->set_keep_alive(true);
    cli->set_tcp_nodelay(true);  // small requests; no Nagle/delayed-ACK stalls on keep-alive
    cli->set_follow_location(false);
    if (!ep.username.empty()) cli->set_basic_auth(ep.username, password);
    cli->set_default_headers({{"Accept",
                               "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, "
                               "application/json"},
                              {"User-Agent", "dora-kafka-exporter"}});
    {
      std::lock_guard<std::mutex> lock(st_.mu);
      if (st_.cancelled) return Fail(p, EC::kTimeout, "no time left before the collector deadline");
      st_.client = cli.get();
    }
    cli_ = cli.get();
    ProbeWith(p);
    {
      std::lock_guard<std::mutex> lock(st_.mu);
      st_.client = nullptr;
    }
    cli_ = nullptr;
    return p;
  }

 private:
  struct Reply {
    bool ok = false;
    int status = 0;
    EC cls = EC::kNone;
    std::string message;
    nlohmann::json json;
  };

  static RegistryProbe Fail(RegistryProbe& p, EC cls, std::string message) {
    p.up = false;
    p.error = cls;
    p.message = std::move(message);
    return p;
  }

  // The first TLS-level reason in this thread's OpenSSL error queue, ignoring
  // the ones a plain reset or close also leaves (those are class connection).
  static std::optional<std::string> TlsAlert() {
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

  bool Cancelled() {
    std::lock_guard<std::mutex> lock(st_.mu);
    return st_.cancelled;
  }

  Reply Get(const std::string& path) {
    Reply r;
    const std::string what = "GET " + path;
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline_ - Clock::now());
    if (left.count() <= 0 || Cancelled()) {
      r.cls = EC::kTimeout;
      r.message = what + ": no time left within the timeout";
      return r;
    }
    auto sec = static_cast<time_t>(left.count() / 1000000);
    auto usec = static_cast<time_t>(left.count() % 1000000);
    cli_->set_connection_timeout(sec, usec);
    cli_->set_read_timeout(sec, usec);
    cli_->set_write_timeout(sec, usec);
    ERR_clear_error();  // this thread's OpenSSL error queue tells TLS alerts from plain resets below
    auto res = cli_->Get((base_ + path).c_str());
    // A request that ends at (or after) the deadline is a timeout, whatever
    // socket error reported it: a slow registry counts as timed out.
    bool late = Clock::now() >= deadline_ - Millis(5) || Cancelled();
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
              std::string(" (") + X509_verify_cert_error_string(cli_->get_openssl_verify_result()) + ")";
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
      r.message = what + ": unexpected content type \"" + Sanitize(type) + "\"";
      return r;
    }
    r.json = nlohmann::json::parse(res->body, nullptr, false);
    if (r.json.is_discarded()) {
      r.cls = EC::kBadResponse;
      r.message = what + ": malformed JSON";  // no parser text: it quotes the body
      return r;
    }
    r.ok = true;
    return r;
  }

  // GET path and read one string field; a 404 or 403 (endpoint missing in this
  // implementation, or not readable with these credentials) leaves "unknown".
  bool ReadSetting(const std::string& path, std::initializer_list<const char*> fields, std::string* value,
                   RegistryProbe& p) {
    Reply r = Get(path);
    if (!r.ok) {
      if (r.status == 404 || r.status == 403) {
        *value = "unknown";
        return true;
      }
      Fail(p, r.cls, r.message);
      return false;
    }
    if (r.json.is_object()) {
      for (const char* f : fields) {
        auto it = r.json.find(f);
        if (it != r.json.end() && it->is_string()) {
          *value = EnumLabel(*it);
          return true;
        }
      }
    }
    Fail(p, EC::kBadResponse, "GET " + path + ": expected an object with \"" + *fields.begin() + "\"");
    return false;
  }

  void ProbeWith(RegistryProbe& p) {
    auto t0 = Clock::now();
    Reply subjects = Get("/subjects");
    p.latency_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!subjects.ok) {
      Fail(p, subjects.cls, subjects.message);
      return;
    }
    std::vector<std::string> names;
    bool valid = subjects.json.is_array();
    if (valid) {
      names.reserve(subjects.json.size());
      for (const auto& s : subjects.json) {
        if (!s.is_string()) {
          valid = false;
          break;
        }
        names.push_back(s.get<std::string>());
      }
    }
    if (!valid) {
      Fail(p, EC::kBadResponse, "GET /subjects: expected a JSON array of subject names");
      return;
    }
    p.subjects = names.size();
    if (!ReadSetting("/mode", {"mode"}, &p.mode, p)) return;
    if (!ReadSetting("/config", {"compatibilityLevel", "compatibility"}, &p.compatibility, p)) return;
    p.up = true;
    p.error = EC::kNone;
    p.message.clear();
    CountVersions(names, p);
  }

  // Refreshes at most kMaxVersionRequestsPerRun subject version counts, never
  // counted first, then the oldest; reports the total only when every current
  // subject has a count. A failure here only stops counting for this run.
  void CountVersions(const std::vector<std::string>& names, RegistryProbe& p) {
    auto& cache = st_.versions;
    uint64_t run = ++st_.run;
    std::set<std::string> current(names.begin(), names.end());
    for (auto it = cache.begin(); it != cache.end();) {
      it = current.count(it->first) ? std::next(it) : cache.erase(it);
    }
    std::vector<std::pair<uint64_t, const std::string*>> order;
    order.reserve(current.size());
    for (const auto& s : current) {
      auto it = cache.find(s);
      order.emplace_back(it == cache.end() ? 0 : it->second.refreshed_run, &s);
    }
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    int budget = SchemaRegistryCollector::kMaxVersionRequestsPerRun;
    auto log = GetLogger("collector.schema_registry");
    for (const auto& [refreshed, subject] : order) {
      if (budget-- <= 0 || Clock::now() >= deadline_) break;
      const std::string path = "/subjects/" + EncodePathSegment(*subject) + "/versions";
      Reply r = Get(path);
      if (r.ok && r.json.is_array()) {
        cache[*subject] = {r.json.size(), run};
      } else if (r.status == 404) {
        cache[*subject] = {0, run};  // deleted since the listing
      } else {
        log->debug("schema registry {}: version count stopped: {}", st_.label,
                   r.ok ? "GET " + path + ": expected a JSON array" : r.message);
        break;
      }
    }
    uint64_t total = 0;
    for (const auto& s : current) {
      auto it = cache.find(s);
      if (it == cache.end()) return;  // incomplete: absent rather than wrong
      total += it->second.count;
    }
    p.schema_versions = total;
  }

  State& st_;
  Clock::time_point deadline_;
  httplib::Client* cli_ = nullptr;
  std::string base_;
};

}  // namespace

const char* RegistryErrorClassName(RegistryErrorClass c) {
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

std::optional<RegistryUrl> ParseRegistryUrl(const std::string& url) {
  RegistryUrl u;
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

std::string RegistryLabel(const SchemaRegistryEndpoint& endpoint) {
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

void RenderRegistryProbe(const std::string& label, const RegistryProbe& probe, double last_success_unix,
                         MetricsBuilder& out) {
  using MT = MetricType;
  auto up =
      out.Family("kafka_schema_registry_up",
                 "1 if the schema registry answered GET /subjects, /mode and /config correctly.", MT::kGauge);
  auto latency =
      out.Family("kafka_schema_registry_request_latency_seconds",
                 "Latency of the last probe's GET /subjects (connect and TLS included).", MT::kGauge);
  auto subjects =
      out.Family("kafka_schema_registry_subjects", "Subjects in the schema registry.", MT::kGauge);
  auto versions = out.Family("kafka_schema_registry_schema_versions",
                             "Schema versions summed over the registry's subjects.", MT::kGauge);
  auto info = out.Family("kafka_schema_registry_info",
                         "Global mode and compatibility level of the schema registry; always 1.", MT::kGauge);
  auto last_success =
      out.Family("kafka_schema_registry_last_success_timestamp_seconds",
                 "Unix time of the last successful probe of the registry (0 if never).", MT::kGauge);
  auto last_error =
      out.Family("kafka_schema_registry_last_error",
                 "Class of the last probe's error (none after a success); one series per registry, always 1.",
                 MT::kGauge);
  const std::string& r = label;
  out.Add(up, {{"registry", r}}, probe.up ? 1 : 0);
  if (probe.up) {
    out.Add(latency, {{"registry", r}}, probe.latency_seconds);
    out.Add(subjects, {{"registry", r}}, static_cast<double>(probe.subjects));
    if (probe.schema_versions)
      out.Add(versions, {{"registry", r}}, static_cast<double>(*probe.schema_versions));
    out.Add(info, {{"registry", r}, {"mode", probe.mode}, {"compatibility", probe.compatibility}}, 1);
  }
  out.Add(last_success, {{"registry", r}}, last_success_unix);
  out.Add(last_error,
          {{"registry", r}, {"class", RegistryErrorClassName(probe.up ? EC::kNone : probe.error)}}, 1);
}

SchemaRegistryCollector::SchemaRegistryCollector(SchemaRegistryCollectorConfig config)
    : config_(std::move(config)) {
  auto log = GetLogger("collector.schema_registry");
  for (const auto& ep : config_.registries) {
    auto st = std::make_unique<RegistryState>();
    st->endpoint = ep;
    st->label = RegistryLabel(ep);
    if (auto u = ParseRegistryUrl(ep.url); u && u->has_userinfo) {
      log->warn("schema registry {}: credentials in the URL are ignored; use username and password_file",
                st->label);
    }
    if (ep.timeout > config_.timeout) {
      log->warn("schema registry {}: timeout {} exceeds the collector timeout {}; probes end at the latter",
                st->label, FormatDuration(ep.timeout), FormatDuration(config_.timeout));
    }
    states_.push_back(std::move(st));
  }
}

SchemaRegistryCollector::~SchemaRegistryCollector() = default;

Status SchemaRegistryCollector::Collect(const CollectContext& ctx, MetricsBuilder& out) {
  auto log = GetLogger("collector.schema_registry");
  const size_t n = states_.size();
  // Leave a little of the collector's time for joining and rendering, so a
  // hanging registry never makes the run itself late.
  Millis margin = std::clamp(Millis(config_.timeout.count() / 10), Millis(10), Millis(250));
  const auto hard = ctx.deadline - margin;

  std::mutex mu;
  std::condition_variable cv;
  size_t next = 0, started = 0, finished = 0;
  for (auto& st : states_) {
    st->started = false;
    st->done = false;
    st->cancel_sent = false;
    st->cancelled = false;
    st->probe = RegistryProbe{};
  }
  auto worker = [&] {
    for (;;) {
      State* st;
      Clock::time_point deadline;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (next >= n) return;
        st = states_[next++].get();
        deadline = std::min(Clock::now() + st->endpoint.timeout, hard);
        st->deadline = deadline;
        st->started = true;
        ++started;
      }
      cv.notify_all();
      RegistryProbe p;
      try {
        p = Prober(*st, deadline).Run();
      } catch (const std::exception& ex) {
        p = RegistryProbe{};
        p.error = EC::kBadResponse;
        p.message = std::string("unexpected error: ") + ex.what();
      } catch (...) {
        p = RegistryProbe{};
        p.error = EC::kBadResponse;
        p.message = "unexpected error";
      }
      st->probe = std::move(p);
      {
        std::lock_guard<std::mutex> lock(mu);
        st->done = true;
        ++finished;
      }
      cv.notify_all();
    }
  };

  std::vector<std::thread> threads;
  size_t want = std::min<size_t>(n, kMaxParallelProbes);
  for (size_t i = 0; i < want; ++i) {
    try {
      threads.emplace_back(worker);
    } catch (const std::exception& ex) {  // system_error, or bad_alloc of the thread's state
      log->debug("cannot start a probe thread ({}); using fewer", ex.what());
      break;
    }
  }
  if (threads.empty()) worker();  // no thread at all: probe on this one

  // Watchdog: socket timeouts bound each read, not a whole request (a body
  // trickling in never trips them), so each probe still running at its
  // deadline is aborted; the probe thread then ends at once (a connect in
  // progress ends by its own timeout, which is never past the deadline).
  for (size_t iter = 0; iter < 4 * n + 16; ++iter) {
    std::vector<State*> cancel;
    {
      std::unique_lock<std::mutex> lock(mu);
      auto wake = hard;
      for (auto& st : states_) {
        if (st->started && !st->done && !st->cancel_sent) wake = std::min(wake, st->deadline);
      }
      size_t seen_started = started;
      cv.wait_until(lock, wake, [&] { return finished == n || started != seen_started; });
      if (finished == n) break;
      auto now = Clock::now();
      for (auto& st : states_) {
        if (st->done || st->cancel_sent) continue;
        if (now >= hard || (st->started && now >= st->deadline)) {
          st->cancel_sent = true;
          cancel.push_back(st.get());
        }
      }
    }
    for (State* st : cancel) {
      std::lock_guard<std::mutex> lock(st->mu);
      st->cancelled = true;
      if (st->client) st->client->stop();
    }
    if (Clock::now() >= hard) break;
  }
  for (auto& t : threads) t.join();

  double now_unix =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (auto& st : states_) {
    const RegistryProbe& p = st->probe;
    const char* cls = RegistryErrorClassName(p.error);
    if (p.up) {
      if (st->failures > 0) {
        log->info("schema registry {} is available again after {} failed probe(s)", st->label, st->failures);
      }
      st->failures = 0;
      st->last_success_unix = now_unix;
    } else {
      if (st->failures == 0 || p.error != st->last_class) {
        log->warn("schema registry {} is unavailable ({}): {}", st->label, cls, p.message);
      } else {
        log->debug("schema registry {} still unavailable ({}): {}", st->label, cls, p.message);
      }
      ++st->failures;
    }
    st->last_class = p.up ? EC::kNone : p.error;
    RenderRegistryProbe(st->label, p, st->last_success_unix, out);
  }
  // A registry being down is reported in its series, not as a collector failure.
  return Status::Ok();
}

}  // namespace dora
