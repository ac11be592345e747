#include "http/server.h"

#include <httplib.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "config/loader.h"
#include "http/web_config.h"
#include "util/log.h"
#include "version.h"

namespace dora {
namespace {

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr size_t kHttpWorkers = 32;

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

// SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which would let
// a second exporter silently share the port instead of failing to start.
void SocketOptions(int sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
}

Status BindServer(httplib::Server& server, const std::string& address, std::string* host_out, int* port_out) {
  std::string host;
  int port = 0;
  if (!ParseListenAddress(address, &host, &port))
    return Status::Error("bind", "invalid listen address \"" + address + "\"");
  errno = 0;
  int bound = port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    int e = errno;
    std::string cause =
        e == EADDRINUSE || e == 0 ? "address already in use or not available" : std::strerror(e);
    return Status::Error("bind", "cannot listen on " + address + ": " + cause);
  }
  *host_out = host;
  *port_out = bound;
  return Status::Ok();
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
    return Status::Error("config", msg);
  }
  state->stamps = StampsFor(path, state->config);
  state->stamps[0] = web;
  if (state->config.tls.enabled) {
    auto material = TlsMaterial::Load(state->config.tls);
    if (!material.ok())
      return Status::Error("config", path + ": tls_server_config: " + material.status().message);
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
        problem = Status::Error("config", path_ + ": refused: " + why + " (a restart can do that)");
      else if (next.value()->config.tls.enabled != tls_mode_)
        problem = Status::Error("config", path_ + ": turning TLS on or off needs a restart");
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
// setup, so concurrent handshakes need no lock (httplib only locks SSL_new).
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

// httplib's stop() acts only while listen_after_bind() runs, and must act only
// once (a second call asserts). A Stop() racing with Serve()'s start is retried
// for a bounded while until the server is running. Callers hold stop_mu_.
void StopOnce(httplib::Server* server, const std::atomic<bool>& serving, bool* stopped) {
  if (!server || *stopped) return;
  for (int i = 0; i < 400; ++i) {
    if (server->is_running()) {
      server->stop();
      *stopped = true;
      return;
    }
    if (!serving.load()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

HttpServer::HttpServer(WebConfig config, HttpHandlers handlers)
    : config_(std::move(config)), handlers_(std::move(handlers)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(httplib::Server& server, bool protected_endpoint) {
  server.set_socket_options(SocketOptions);
  // Responses are small and written in pieces (head, body): without TCP_NODELAY
  // Nagle holds the last piece for the client's delayed ACK (~40 ms per TLS 1.3
  // connection, measured).
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(100);
  // A keep-alive connection holds its worker between requests: with
  // cpp-httplib's default of max(8, cores - 1) workers, the 9th concurrent
  // scraper waited for another's keep-alive to end (p99 of seconds at 16
  // scrapers, docs/benchmarks.md). Serving a shared body, a worker is cheap.
  server.new_task_queue = [] { return new httplib::ThreadPool(kHttpWorkers); };
  server.set_read_timeout(10, 0);  // also bounds the TLS handshake
  server.set_write_timeout(30, 0);
  auto log = GetLogger("http");
  if (protected_endpoint) {
    server.Get(config_.telemetry_path, [this](const httplib::Request& req, httplib::Response& res) {
      // The body is built (and gzipped) once per publish and shared by every
      // scrape until the next: with 16 concurrent scrapes of a 100 MB body,
      // compressing per request took seconds each (docs/benchmarks.md).
      std::shared_ptr<const ExpositionBody> body;
      if (AcceptsGzip(req.get_header_value("Accept-Encoding"))) body = handlers_.metrics(true);
      if (body) {
        res.set_header("Content-Encoding", "gzip");
      } else {
        body = handlers_.metrics(false);
      }
      res.set_header("Vary", "Accept-Encoding");
      // A provider with a length: httplib sends it as is (it compresses only
      // set_content bodies and chunked providers).
      res.set_content_provider(
          body->size, kMetricsContentType, [body](size_t offset, size_t length, httplib::DataSink& sink) {
            // Writes from the part holding `offset`; httplib calls
            // again from where that write ended.
            size_t base = 0;
            for (const auto& part : body->parts) {
              if (offset < base + part->size()) {
                size_t in = offset - base;
                return sink.write(part->data() + in, std::min(length, part->size() - in));
              }
              base += part->size();
            }
            return false;
          });
    });
    server.Get("/", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(IndexPage(config_.telemetry_path), "text/html; charset=utf-8");
    });
    std::shared_ptr<WebConfigWatcher> watcher = watcher_;
    // Basic auth covers every path (exporter-toolkit semantics), 404s included.
    server.set_pre_routing_handler([watcher, log](const httplib::Request& req, httplib::Response& res) {
      auto state = watcher->Current();
      if (!state->auth || state->auth->CheckHeader(req.get_header_value("Authorization")))
        return httplib::Server::HandlerResponse::Unhandled;
      log->debug("basic auth failed for {} {} from {}", req.method, req.path, req.remote_addr);
      res.status = 401;
      res.set_header("WWW-Authenticate", "Basic");
      res.set_content("Unauthorized\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    });
    // Runs for every response httplib writes, errors and 401s included.
    server.set_post_routing_handler([watcher](const httplib::Request&, httplib::Response& res) {
      try {
        auto state = watcher->Current();
        for (const auto& [name, value] : state->config.headers) {
          res.headers.erase(name);
          res.set_header(name, value);
        }
      } catch (...) {
      }
    });
  }
  server.Get("/healthz",
             [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  server.Get("/ready", [this](const httplib::Request&, httplib::Response& res) {
    if (handlers_.ready()) {
      res.set_content("ready\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content("not ready: collectors have not all finished their first run\n", "text/plain");
    }
  });
  server.set_exception_handler(
      [log](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        log->error("request {} {} failed: {}", req.method, req.path, what);
        res.status = 500;
        res.set_content("internal error\n", "text/plain");
      });
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
  if (tls_) {
    WebConfigWatcher* watcher = watcher_.get();
    server_ = std::make_unique<httplib::SSLServer>(
        [watcher](SSL_CTX& ctx) { return SetupSslContext(ctx, watcher); });
    if (!server_->is_valid()) return Status::Error("config", "cannot set up the TLS server context");
    log->info("TLS on: certificate {} valid until {}, client auth {}, TLS {}+", state->tls->Subject(),
              state->tls->NotAfter(), ClientAuthTypeName(state->config.tls.client_auth),
              state->config.tls.min_version == TLS1_3_VERSION ? "1.3" : "1.2");
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  if (state->auth) log->info("basic auth on for {} user(s)", state->config.basic_auth_users.size());
  Route(*server_, true);
  if (Status s = BindServer(*server_, config_.listen_address, &host_, &port_); !s.ok) return s;

  if (!state->config.health_listen_address.empty()) {
    health_ = std::make_unique<httplib::Server>();
    Route(*health_, false);
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
  if (health_) {
    health_serving_.store(true);
    health_thread = std::thread([this] {
      if (!stop_requested_.load()) health_->listen_after_bind();
      health_serving_.store(false);
    });
  }
  serving_.store(true);
  bool ok = stop_requested_.load() ? true : server_->listen_after_bind();
  serving_.store(false);
  if (health_thread.joinable()) {
    {
      std::lock_guard<std::mutex> lock(stop_mu_);
      StopOnce(health_.get(), health_serving_, &health_stopped_);
    }
    health_thread.join();
  }
  return ok;
}

void HttpServer::Stop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  stop_requested_.store(true);
  StopOnce(server_.get(), serving_, &server_stopped_);
  StopOnce(health_.get(), health_serving_, &health_stopped_);
}

}  // namespace dora
