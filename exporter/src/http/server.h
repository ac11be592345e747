#pragma once
// The exporter's HTTP endpoint: /metrics, /healthz, /ready, /, /api/v1/alerts.
// Handlers never touch Kafka: they render what the collectors last published.
// Connections are served by http/event_server.h (one event loop per listener,
// request workers only for complete requests), within the web.* connection
// limits: slow or idle clients cannot starve scrapes or probes.
//
// With web.config_file (--web.config.file, exporter-toolkit format, see
// http/web_config.h) it serves HTTPS (optionally requiring client
// certificates), checks HTTP basic auth against bcrypt hashes on every path,
// /healthz and /ready included, as the toolkit does, and adds the configured
// response headers. health_server_config.listen_address adds a second, plain
// listener with only /healthz and /ready, for probes that cannot authenticate.
//
// The web config file and the certificate, key and client CA files are
// watched: each new TLS handshake and each request stat(2)s them and, when one
// changed, the whole web config is re-read and swapped in atomically (a bad
// one is logged and the previous one kept). Certificate rotation needs no
// restart; turning TLS on and moving the health listener do. A change that
// would lower security (TLS off, basic auth removed, weaker client
// certificate checks, a lower TLS minimum: SecurityDowngrade) is refused
// while running, whatever the file now says: an emptied or half-written file
// never turns authentication off.
//
// Bind() and Serve() are called by one owner thread; Stop() from any thread.
#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "metrics/snapshot_store.h"
#include "util/status.h"

namespace dora {

struct HttpHandlers {
  // The full exposition text, or (gzip true) one gzip stream of it; shared and
  // immutable, so a scrape copies nothing. Null gzip: serve the plain text.
  std::function<std::shared_ptr<const ExpositionBody>(bool gzip)> metrics;
  std::function<bool()> ready;  // every collector ran once
  // GET /api/v1/alerts: the JSON of the current alerts (alerting/api_json.h).
  // Null: no alerts are evaluated; an empty list is served.
  std::function<std::string()> alerts;
  // GET /: the status page's HTML (http/status_page.h). Null: a page of links.
  std::function<std::string()> status_page;
  // Optional: told whether each live reload of the web config applied (false:
  // it did not load, or it was refused as a security downgrade).
  std::function<void(bool applied)> web_config_reloaded;
};

class WebConfigWatcher;
class EventServer;
struct HttpRequest;
struct HttpResponse;

// True when an Accept-Encoding header value accepts gzip (gzip, x-gzip or *,
// with a q-value above 0).
bool AcceptsGzip(const std::string& accept_encoding);

class HttpServer {
 public:
  HttpServer(WebConfig config, HttpHandlers handlers);
  ~HttpServer();
  // Loads web.config_file (if set) and binds the listen address(es). Errors:
  // reason "config" (the web config, every problem listed) or "bind" (names
  // the address and cause).
  Status Bind();
  // Serves until Stop(). Returns false if the server failed.
  bool Serve();
  void Stop();  // any thread, any time; idempotent
  int port() const { return port_; }
  const std::string& host() const { return host_; }
  bool tls() const { return tls_; }
  int health_port() const { return health_port_; }  // 0: no health listener
  // Connections open on the main listener right now.
  size_t open_connections() const;

 private:
  void Handle(bool protected_endpoint, const HttpRequest& req, HttpResponse* res);

  WebConfig config_;
  HttpHandlers handlers_;
  std::shared_ptr<WebConfigWatcher> watcher_;
  std::unique_ptr<EventServer> server_;
  std::unique_ptr<EventServer> health_;
  std::string host_;
  int port_ = 0;
  int health_port_ = 0;
  bool tls_ = false;
};

}  // namespace dora
