#pragma once
// The connection front of the HTTP endpoint: one listening socket served by
// one event-loop thread (epoll) and a few worker threads.
//
// The loop owns every connection. It accepts, applies the connection limits,
// runs TLS handshakes, reads request heads and writes responses, all without
// blocking. A worker only runs the handler, and only for a request whose head
// (and body, if any) arrived complete within header_timeout of the connection's
// accept (or of the first byte of a later request on it). So a slow or idle
// client costs a connection slot, never a worker: slowloris cannot starve the
// scrapes. (cpp-httplib 0.11.4 gives each connection a worker for its whole
// life, with a per-read timeout and an unbounded accept queue.)
//
// Limits: at max_connections, or at max_connections_per_address for the
// client's address, a new connection closes the oldest idle keep-alive (or
// lingering) connection first, then the oldest one still sending its head; if
// every connection is busy with a request, the new one is closed. Requests
// pipelined on one connection are answered in order, one at a time.
//
// Thread-safety: Listen() and Run() are called by one owner thread, Run() at
// most once; Stop() from any thread, before, during or after Run(). The
// handler runs on worker threads, several at once.
#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "http/request.h"
#include "util/status.h"

namespace dora {

struct ConnectionLimits {
  std::chrono::milliseconds header_timeout{10000};  // TLS handshake + request head (+ body), whole
  std::chrono::milliseconds idle_timeout{30000};    // keep-alive connection waiting for a request
  std::chrono::milliseconds write_timeout{30000};   // response write making no progress
  int max_connections = 1024;                       // open connections, in total
  int max_connections_per_address = 64;             // open connections from one client address
  int max_requests_per_connection = 100;
  size_t max_head_bytes = 16384;  // request line + headers; longer: 431 (414)
  size_t max_body_bytes = 65536;  // a request body (read and dropped); longer: 413
};

class EventServer {
 public:
  // Builds the response of one well-formed request. May throw: the client then
  // gets a 500 and the exception is logged.
  using Handler = std::function<void(const HttpRequest&, HttpResponse*)>;
  // Runs on every response after the handler, errors (400, 431, ...) included.
  using Finisher = std::function<void(HttpResponse*)>;

  // `name` is for log lines ("metrics", "health").
  EventServer(std::string name, ConnectionLimits limits, size_t workers, Handler handler,
              Finisher finisher = nullptr);
  ~EventServer();
  EventServer(const EventServer&) = delete;
  EventServer& operator=(const EventServer&) = delete;

  // Binds and listens on host:port (port 0: a free one; SO_REUSEADDR, not
  // SO_REUSEPORT). `address` names the listen address in the error.
  Status Listen(const std::string& host, int port, const std::string& address);
  int port() const;
  // Serves TLS on every connection with `ctx` (taken over, freed by the
  // destructor). Call before Run().
  void UseTls(SSL_CTX* ctx);
  // Serves until Stop(). False if the event loop failed.
  bool Run();
  void Stop();
  // Connections open right now (all states).
  size_t open_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dora
