#pragma once
// The exporter's HTTP endpoint (cpp-httplib): /metrics, /healthz, /ready, /.
// Handlers never touch Kafka: they render what the collectors last published.
// Bind() and Serve() are called by one owner thread; Stop() from any thread.
#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "util/status.h"

namespace httplib {
class Server;
}

namespace dora {

struct HttpHandlers {
  std::function<std::string()> metrics;  // full exposition text
  std::function<bool()> ready;           // every collector ran once
};

class HttpServer {
 public:
  HttpServer(WebConfig config, HttpHandlers handlers);
  ~HttpServer();
  // Binds the listen address. Error (reason "bind") names the address and cause.
  Status Bind();
  // Serves until Stop(). Returns false if the server failed.
  bool Serve();
  void Stop();
  int port() const { return port_; }
  const std::string& host() const { return host_; }

 private:
  WebConfig config_;
  HttpHandlers handlers_;
  std::unique_ptr<httplib::Server> server_;
  std::string host_;
  int port_ = 0;
};

}  // namespace dora
