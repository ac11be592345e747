#include "http/server.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <thread>
#include <vector>

#include "config/loader.h"
#include "http/basic_auth.h"
#include "http/event_server.h"
#include "http/request.h"
#include "http/tls_material.h"
#include "http/web_config.h"
#include "util/fd_limit.h"
#include "util/log.h"
#include "version.h"

namespace dora {
namespace {

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
// Workers only run handlers on complete requests (a shared body, a cached
// auth check), never wait on a client: a few suffice.
constexpr size_t kHttpWorkers = 8;
constexpr size_t kHealthWorkers = 2;

}  // namespace

bool AcceptsGzip(const std::string& accept_encoding) {
  size_t start = 0;
  while (start <= accept_encoding.size()) {
    size_t end = accept_encoding.find(',', start);
    if (end == std::string::npos) end = accept_encoding.size();
    std::string item = accept_encoding.substr(start, end - start);
    start = end + 1;
    auto trim = [](std::string s) {
      size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    size_t semi = item.find(';');
    std::string coding = trim(item.substr(0, semi));
    for (auto& ch : coding) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (coding != "gzip" && coding != "x-gzip" && coding != "*") continue;
    if (semi == std::string::npos) return true;
    std::string param = trim(item.substr(semi + 1));
    if (param.rfind("q=", 0) != 0 && param.rfind("Q=", 0) != 0) return true;
    try {
      return std::stod(param.substr(2)) > 0;  // q=0: not acceptable
    } catch (...) {
      return false;
    }
  }
  return false;
}

namespace {

std::string IndexPage(const std::string& telemetry_path) {
  return std::string(
             "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>dora-kafka-exporter</title>"
             "</head><body><h1>dora-kafka-exporter</h1><p>Version ") +
         kVersion + " (" + kRevision + ")</p><ul><li><a href=\"" + telemetry_path + "\">" + telemetry_path +
         "</a> metrics</li><li><a href=\"/healthz\">/healthz</a> liveness</li>"
         "<li><a href=\"/ready\">/ready</a> readiness</li></ul></body></html>";
}

Status BindServer(EventServer& server, const std::string& address, std::string* host_out, int* port_out) {
  std::string host;
  int port = 0;
  if (!ParseListenAddress(address, &host, &port))
    return Status::Error(Reason::kBind, "invalid listen address \"" + address + "\"");
  if (Status s = server.Listen(host, port, address); !s.ok) return s;
  *host_out = host;
  *port_out = server.port();
  return Status::Ok();
}

ConnectionLimits LimitsOf(const WebConfig& c) {
  ConnectionLimits l;
  l.header_timeout = c.header_timeout;
  l.idle_timeout = c.idle_timeout;
  l.write_timeout = c.write_timeout;
  l.max_connections = c.max_connections;
  l.max_connections_per_address = c.max_connections_per_address;
  return l;
}

}  // namespace

// One version of the web config in effect: immutable, shared by the requests
// and handshakes that started under it.
struct WebState {
  WebFileConfig config;
  std::shared_ptr<const TlsMaterial> tls;  // set when config.tls.enabled
  std::shared_ptr<BasicAuth> auth;         // set when basic_auth_users is not empty
  std::vector<FileStamp> stamps;           // web config file, then cert, key, client CA
};

namespace {

std::vector<FileStamp> StampsFor(const std::string& path, const WebFileConfig& c) {
  std::vector<FileStamp> s{StampFile(path)};
  if (c.tls.enabled) {
    s.push_back(StampFile(c.tls.cert_file));
    s.push_back(StampFile(c.tls.key_file));
    s.push_back(StampFile(c.tls.client_ca_file));
  }
  return s;
}

// Every file is stat(2)ed before it is read, so a change during the load is
// seen (and loaded) by the next check.
Result<std::shared_ptr<const WebState>> BuildWebState(const std::string& path) {
  auto state = std::make_shared<WebState>();
  FileStamp web = StampFile(path);
  ConfigErrors errors;
  state->config = ReadWebConfigFile(path, &errors);
  if (!errors.empty()) {
    std::string msg = errors.Joined();
    if (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return Status::Error(Reason::kConfig, msg);
  }
  state->stamps = StampsFor(path, state->config);
  state->stamps[0] = web;
  if (state->config.tls.enabled) {
    auto material = TlsMaterial::Load(state->config.tls);
    if (!material.ok())
      return Status::Error(Reason::kConfig, path + ": tls_server_config: " + material.status().message);
    state->tls = material.value();
  }
  if (!state->config.basic_auth_users.empty())
    state->auth = std::make_shared<BasicAuth>(state->config.basic_auth_users);
  return std::shared_ptr<const WebState>(std::move(state));
}

}  // namespace

// Hands out the current WebState, re-reading the files first when stat(2)
// says one changed. A change that does not load is logged once and the
// previous state kept until the files change again. Thread-safe.
class WebConfigWatcher {
 public:
  // `reloaded` (optional) hears the outcome of every reload attempt.
  WebConfigWatcher(std::string path, bool tls_mode, std::shared_ptr<const WebState> initial,
                   std::function<void(bool)> reloaded)
      : path_(std::move(path)),
        tls_mode_(tls_mode),
        state_(std::move(initial)),
        reloaded_(std::move(reloaded)) {}

  std::shared_ptr<const WebState> Current() {
    if (path_.empty()) return state_;  // no file: never changes
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<FileStamp> now = StampsFor(path_, state_->config);
    if (now == state_->stamps || (failed_ && now == failed_stamps_)) return state_;
    auto log = GetLogger("http");
    auto next = BuildWebState(path_);
    Status problem = next.ok() ? Status::Ok() : next.status();
    if (next.ok()) {
      // A truncated, emptied or half-written file parses to less security,
      // never to a valid reason to drop it: refused like any downgrade.
      if (std::string why = SecurityDowngrade(state_->config, next.value()->config); !why.empty())
        problem = Status::Error(Reason::kConfig, path_ + ": refused: " + why + " (a restart can do that)");
      else if (next.value()->config.tls.enabled != tls_mode_)
        problem = Status::Error(Reason::kConfig, path_ + ": turning TLS on or off needs a restart");
    }
    if (!problem.ok) {
      log->error("web config change not applied, keeping the previous one: {}", problem.message);
      failed_ = true;
      failed_stamps_ = now;
      if (reloaded_) reloaded_(false);
      return state_;
    }
    const auto& fresh = next.value();
    if (fresh->config.health_listen_address != state_->config.health_listen_address)
      log->warn("health_server_config.listen_address changes need a restart; keeping the current listener");
    if (fresh->tls) {
      log->info("web config reloaded from {}; TLS certificate {} valid until {}", path_,
                fresh->tls->Subject(), fresh->tls->NotAfter());
    } else {
      log->info("web config reloaded from {}", path_);
    }
    state_ = fresh;
    failed_ = false;
    if (reloaded_) reloaded_(true);
    return state_;
  }

 private:
  const std::string path_;
  const bool tls_mode_;
  std::mutex mu_;
  std::shared_ptr<const WebState> state_;
  bool failed_ = false;
  std::vector<FileStamp> failed_stamps_;
  std::function<void(bool)> reloaded_;
};

namespace {

// Runs first for every ClientHello, before the protocol version, the
// certificate and the client-certificate policy are chosen: puts the current
// TlsMaterial on this handshake. The SSL_CTX itself is never modified after
// setup, so concurrent handshakes need no lock.
int OnClientHello(SSL* ssl, int* alert, void* arg) {
  try {
    auto* watcher = static_cast<WebConfigWatcher*>(arg);
    auto state = watcher->Current();
    if (state->tls && state->tls->ApplyTo(ssl)) return SSL_CLIENT_HELLO_SUCCESS;
  } catch (...) {  // no exception crosses OpenSSL
  }
  *alert = SSL_AD_INTERNAL_ERROR;
  return SSL_CLIENT_HELLO_ERROR;
}

bool SetupSslContext(SSL_CTX& ctx, WebConfigWatcher* watcher) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
  // No resumption: every connection is verified against the current client CA.
  SSL_CTX_set_session_cache_mode(&ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(&ctx, 0);
  static const unsigned char kSessionContext[] = "dora-kafka-exporter";
  SSL_CTX_set_session_id_context(&ctx, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_client_hello_cb(&ctx, OnClientHello, watcher);
  return true;
}

}  // namespace

HttpServer::HttpServer(WebConfig config, HttpHandlers handlers)
    : config_(std::move(config)), handlers_(std::move(handlers)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(bool protected_endpoint, const HttpRequest& req, HttpResponse* res) {
  std::shared_ptr<const WebState> state;
  if (protected_endpoint) {
    state = watcher_->Current();
    // Basic auth covers every path (exporter-toolkit semantics), 404s included.
    if (state->auth && !state->auth->CheckHeader(req.Header("Authorization"))) {
      GetLogger("http")->debug("basic auth failed for {} {} from {}", req.method, req.path, req.remote_addr);
      res->status = 401;
      res->SetHeader("WWW-Authenticate", "Basic");
      res->SetContent("Unauthorized\n", "text/plain");
      return;
    }
  }
  if (req.method != "GET" && req.method != "HEAD") {
    res->status = 405;
    res->SetHeader("Allow", "GET, HEAD");
    res->SetContent("method not allowed\n", "text/plain");
    return;
  }
  if (protected_endpoint && req.path == config_.telemetry_path) {
    // The body is built (and gzipped) once per publish and shared by every
    // scrape until the next: with 16 concurrent scrapes of a 100 MB body,
    // compressing per request took seconds each (docs/benchmarks.md).
    std::shared_ptr<const ExpositionBody> body;
    if (AcceptsGzip(req.Header("Accept-Encoding"))) body = handlers_.metrics(true);
    if (body) {
      res->SetHeader("Content-Encoding", "gzip");
    } else {
      body = handlers_.metrics(false);
    }
    res->SetHeader("Vary", "Accept-Encoding");
    res->SetHeader("Content-Type", kMetricsContentType);
    res->shared = std::move(body);
  } else if (protected_endpoint && req.path == "/") {
    // The status page renders from the published state (no Kafka request).
    res->SetContent(handlers_.status_page ? handlers_.status_page() : IndexPage(config_.telemetry_path),
                    "text/html; charset=utf-8");
  } else if (protected_endpoint && req.path == "/api/v1/alerts") {
    // Same TLS and auth as /metrics; rendered from the last published snapshot.
    res->SetContent(handlers_.alerts ? handlers_.alerts() : R"({"status":"success","data":{"alerts":[]}})",
                    "application/json");
  } else if (req.path == "/healthz") {
    res->SetContent("ok\n", "text/plain");
  } else if (req.path == "/ready") {
    if (handlers_.ready()) {
      res->SetContent("ready\n", "text/plain");
    } else {
      res->status = 503;
      res->SetContent("not ready: collectors have not all finished their first run\n", "text/plain");
    }
  } else {
    res->status = 404;
    res->SetContent("404 page not found\n", "text/plain");
  }
}

Status HttpServer::Bind() {
  auto log = GetLogger("http");
  std::shared_ptr<const WebState> state = std::make_shared<WebState>();
  if (!config_.config_file.empty()) {
    auto loaded = BuildWebState(config_.config_file);
    if (!loaded.ok()) return loaded.status();
    state = loaded.value();
  }
  tls_ = state->config.tls.enabled;
  watcher_ =
      std::make_shared<WebConfigWatcher>(config_.config_file, tls_, state, handlers_.web_config_reloaded);
  std::shared_ptr<WebConfigWatcher> watcher = watcher_;
  // Runs for every response, errors and 401s included.
  auto add_headers = [watcher](HttpResponse* res) {
    auto current = watcher->Current();
    for (const auto& [name, value] : current->config.headers) res->SetHeader(name, value);
  };
  server_ = std::make_unique<EventServer>(
      "metrics", LimitsOf(config_), kHttpWorkers,
      [this](const HttpRequest& req, HttpResponse* res) { Handle(true, req, res); }, add_headers);
  if (tls_) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || !SetupSslContext(*ctx, watcher_.get())) {
      if (ctx) SSL_CTX_free(ctx);
      return Status::Error(Reason::kConfig, "cannot set up the TLS server context");
    }
    server_->UseTls(ctx);
    log->info("TLS on: certificate {} valid until {}, client auth {}, TLS {}+", state->tls->Subject(),
              state->tls->NotAfter(), ClientAuthTypeName(state->config.tls.client_auth),
              state->config.tls.min_version == TLS1_3_VERSION ? "1.3" : "1.2");
  }
  if (state->auth) log->info("basic auth on for {} user(s)", state->config.basic_auth_users.size());
  // Room for Kafka's sockets and the files the daemon reads beside the connections.
  constexpr uint64_t kOtherFiles = 256;
  uint64_t files = OpenFileLimit();
  if (files > 0 && files < static_cast<uint64_t>(config_.max_connections) + kOtherFiles)
    log->warn(
        "the open-file limit ({}) leaves less than {} files beside web.max_connections ({}): at that many "
        "connections, new ones close the oldest idle ones early; raise the hard limit (ulimit -Hn) or "
        "lower web.max_connections",
        files, kOtherFiles, config_.max_connections);
  if (Status s = BindServer(*server_, config_.listen_address, &host_, &port_); !s.ok) return s;

  if (!state->config.health_listen_address.empty()) {
    health_ = std::make_unique<EventServer>(
        "health", LimitsOf(config_), kHealthWorkers,
        [this](const HttpRequest& req, HttpResponse* res) { Handle(false, req, res); });
    std::string host;
    if (Status s = BindServer(*health_, state->config.health_listen_address, &host, &health_port_); !s.ok)
      return s;
    log->info("health listener (plain HTTP, /healthz and /ready only) on {}:{}", host, health_port_);
  }
  return Status::Ok();
}

bool HttpServer::Serve() {
  if (!server_) return false;
  std::thread health_thread;
  if (health_) health_thread = std::thread([this] { health_->Run(); });
  bool ok = server_->Run();
  if (health_thread.joinable()) {
    health_->Stop();
    health_thread.join();
  }
  return ok;
}

void HttpServer::Stop() {
  if (server_) server_->Stop();
  if (health_) health_->Stop();
}

size_t HttpServer::open_connections() const { return server_ ? server_->open_connections() : 0; }

}  // namespace dora
