#include "http/server.h"

#include <httplib.h>

#include <cerrno>
#include <cstring>

#include "config/loader.h"
#include "util/log.h"
#include "version.h"

namespace dora {
namespace {

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string IndexPage(const std::string& telemetry_path) {
  return std::string(
             "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>dora-kafka-exporter</title>"
             "</head><body><h1>dora-kafka-exporter</h1><p>Version ") +
         kVersion + " (" + kRevision + ")</p><ul><li><a href=\"" + telemetry_path + "\">" + telemetry_path +
         "</a> metrics</li><li><a href=\"/healthz\">/healthz</a> liveness</li>"
         "<li><a href=\"/ready\">/ready</a> readiness</li></ul></body></html>";
}

}  // namespace

HttpServer::HttpServer(WebConfig config, HttpHandlers handlers)
    : config_(std::move(config)),
      handlers_(std::move(handlers)),
      server_(std::make_unique<httplib::Server>()) {
  auto log = GetLogger("http");
  // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which would let
  // a second exporter silently share the port instead of failing to start.
  server_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_->set_keep_alive_max_count(100);
  server_->set_read_timeout(10, 0);
  server_->set_write_timeout(30, 0);
  server_->Get(config_.telemetry_path, [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(handlers_.metrics(), kMetricsContentType);
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server_->Get("/ready", [this](const httplib::Request&, httplib::Response& res) {
    if (handlers_.ready()) {
      res.set_content("ready\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content("not ready: collectors have not all finished their first run\n", "text/plain");
    }
  });
  server_->Get("/", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(IndexPage(config_.telemetry_path), "text/html; charset=utf-8");
  });
  server_->set_exception_handler(
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

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Bind() {
  std::string host;
  int port = 0;
  if (!ParseListenAddress(config_.listen_address, &host, &port))
    return Status::Error("bind", "invalid listen address \"" + config_.listen_address + "\"");
  errno = 0;
  int bound = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    int e = errno;
    std::string cause =
        e == EADDRINUSE || e == 0 ? "address already in use or not available" : std::strerror(e);
    return Status::Error("bind", "cannot listen on " + config_.listen_address + ": " + cause);
  }
  host_ = host;
  port_ = bound;
  return Status::Ok();
}

bool HttpServer::Serve() { return server_->listen_after_bind(); }

void HttpServer::Stop() {
  if (server_) server_->stop();
}

}  // namespace dora
