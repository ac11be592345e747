// The real dora::HttpServer with small web.* connection limits, raw sockets on
// loopback: the header deadline is for the whole head however slowly it
// trickles, idle keep-alive connections are closed first at a cap, and the
// per-address cap spares other addresses. Broker-less; tagged [daemon] so the
// ASan CI job runs it with the daemon tests.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "support/certs.h"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

class RunningServer {
 public:
  explicit RunningServer(dora::WebConfig web) {
    web.listen_address = "127.0.0.1:0";
    dora::HttpHandlers handlers;
    auto body = std::make_shared<dora::ExpositionBody>();
    body->parts.push_back(std::make_shared<const std::string>("# TYPE up gauge\nup 1\n"));
    body->size = body->parts[0]->size();
    handlers.metrics = [body](bool gzip) { return gzip ? nullptr : body; };
    handlers.ready = [] { return true; };
    server_ = std::make_unique<dora::HttpServer>(web, handlers);
    dora::Status s = server_->Bind();
    INFO(s.message);
    REQUIRE(s.ok);
    thread_ = std::thread([this] { server_->Serve(); });
  }
  ~RunningServer() {
    server_->Stop();
    thread_.join();
  }
  int port() const { return server_->port(); }
  // Waits (bounded) until the server holds `n` connections.
  bool WaitOpen(size_t n) {
    for (int i = 0; i < 200; ++i) {
      if (server_->open_connections() == n) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  size_t open() const { return server_->open_connections(); }

 private:
  std::unique_ptr<dora::HttpServer> server_;
  std::thread thread_;
};

int ConnectFrom(const std::string& source, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool Send(int fd, const std::string& s) {
  return send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
}

// Reads one response (Content-Length framing), or until EOF / 3 s.
std::string ReadResponse(int fd) {
  std::string in;
  char buf[4096];
  auto end = Clock::now() + 3s;
  for (int i = 0; i < 1000 && Clock::now() < end; ++i) {
    size_t head = in.find("\r\n\r\n");
    if (head != std::string::npos) {
      size_t cl = in.find("Content-Length: ");
      if (cl != std::string::npos && in.size() >= head + 4 + std::stoul(in.substr(cl + 16))) break;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  return in;
}

// True once the server closed `fd` (EOF or reset), waiting at most `wait`.
bool ClosedByServer(int fd, std::chrono::milliseconds wait = 1000ms) {
  auto end = Clock::now() + wait;
  for (int i = 0; i < 1000; ++i) {
    pollfd p{fd, POLLIN, 0};
    int left =
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count());
    if (poll(&p, 1, std::max(left, 0)) > 0) {
      char c;
      ssize_t n = recv(fd, &c, 1, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
      continue;  // a byte of a response: keep reading
    }
    if (Clock::now() >= end) return false;
  }
  return false;
}

}  // namespace

TEST_CASE("the header deadline covers the whole request head, however slowly it trickles", "[daemon][http]") {
  dora::WebConfig web;
  web.header_timeout = 1000ms;
  RunningServer s(web);
  int fd = ConnectFrom("127.0.0.1", s.port());
  REQUIRE(fd >= 0);
  auto t0 = Clock::now();
  REQUIRE(Send(fd, "GET /healthz HTTP/1.1\r\nX-Slow: "));
  bool closed = false;
  // One byte every 100 ms: each read is quick, the head never ends.
  for (int i = 0; i < 40 && !closed; ++i) {
    closed = ClosedByServer(fd, 100ms);
    if (!closed) Send(fd, "z");
  }
  double after = std::chrono::duration<double>(Clock::now() - t0).count();
  close(fd);
  INFO("closed after " << after << " s");
  REQUIRE(closed);
  CHECK(after >= 0.9);
  CHECK(after < 1.8);
  // A request that arrives whole is answered, and its connection stays open for the next.
  int ok = ConnectFrom("127.0.0.1", s.port());
  REQUIRE(Send(ok, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
  CHECK(ReadResponse(ok).rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  REQUIRE(Send(ok, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string m = ReadResponse(ok);
  CHECK(m.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(m.find("\r\n\r\n# TYPE up gauge\nup 1\n") != std::string::npos);
  close(ok);
}

TEST_CASE("at the total cap the idle keep-alive connection is closed first, then the oldest incomplete",
          "[daemon][http]") {
  dora::WebConfig web;
  web.max_connections = 4;
  web.max_connections_per_address = 4;
  RunningServer s(web);
  int p1 = ConnectFrom("127.0.4.1", s.port());  // oldest, never sends
  REQUIRE(s.WaitOpen(1));
  int k1 = ConnectFrom("127.0.4.2", s.port());  // served once, then idle keep-alive
  REQUIRE(Send(k1, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
  REQUIRE(ReadResponse(k1).rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  int p2 = ConnectFrom("127.0.4.3", s.port());
  int p3 = ConnectFrom("127.0.4.4", s.port());
  REQUIRE(s.WaitOpen(4));

  int n1 = ConnectFrom("127.0.4.5", s.port());
  CHECK(ClosedByServer(k1));  // the idle one, although p1 is older
  REQUIRE(Send(n1, "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  CHECK(ReadResponse(n1).rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(ClosedByServer(n1));  // the server closes after "Connection: close"
  close(n1);
  CHECK_FALSE(ClosedByServer(p1, 50ms));
  CHECK_FALSE(ClosedByServer(p2, 50ms));
  REQUIRE(s.WaitOpen(3));

  int n2 = ConnectFrom("127.0.4.6", s.port());
  REQUIRE(s.WaitOpen(4));
  int n3 = ConnectFrom("127.0.4.7", s.port());  // no idle one left: the oldest incomplete goes
  CHECK(ClosedByServer(p1));
  CHECK_FALSE(ClosedByServer(p2, 50ms));
  CHECK_FALSE(ClosedByServer(p3, 50ms));
  REQUIRE(Send(n3, "GET /ready HTTP/1.1\r\nHost: a\r\n\r\n"));
  CHECK(ReadResponse(n3).rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(s.open() == 4);
  for (int fd : {p1, k1, p2, p3, n2, n3}) close(fd);
}

TEST_CASE("the per-address cap closes that address's oldest connections and spares the others",
          "[daemon][http]") {
  dora::WebConfig web;
  web.max_connections_per_address = 3;
  RunningServer s(web);
  int other = ConnectFrom("127.0.5.9", s.port());
  REQUIRE(s.WaitOpen(1));
  std::vector<int> flood;
  for (int i = 0; i < 10; ++i) {
    flood.push_back(ConnectFrom("127.0.5.1", s.port()));
    REQUIRE(flood.back() >= 0);
    REQUIRE(s.WaitOpen(1 + std::min(i + 1, 3)));
  }
  for (int i = 0; i < 7; ++i) {
    INFO("flood connection " << i);
    CHECK(ClosedByServer(flood[static_cast<size_t>(i)], 500ms));
  }
  for (int i = 7; i < 10; ++i) CHECK_FALSE(ClosedByServer(flood[static_cast<size_t>(i)], 20ms));
  REQUIRE(Send(other, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
  CHECK(ReadResponse(other).rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  close(other);
  for (int fd : flood) close(fd);
}

TEST_CASE("HEAD, HTTP/1.0, bodies and bad requests on the real server", "[daemon][http]") {
  RunningServer s(dora::WebConfig{});
  int fd = ConnectFrom("127.0.0.1", s.port());
  // HEAD: the length of the body, no body; then a request with a body that is
  // read and dropped; then HTTP/1.0 without keep-alive, which closes.
  REQUIRE(Send(fd,
               "HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n"
               "POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
               "GET /healthz HTTP/1.0\r\n\r\n"));
  std::string all;
  char buf[4096];
  for (int i = 0; i < 100; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 3000) <= 0) break;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  INFO(all);
  size_t a = all.find("HTTP/1.1 200 OK\r\n");
  size_t b = all.find("HTTP/1.1 405 Method Not Allowed\r\n");
  size_t c = all.find("HTTP/1.1 200 OK\r\n", a + 1);
  REQUIRE(a == 0);
  REQUIRE(b != std::string::npos);
  REQUIRE(c != std::string::npos);
  CHECK(a < b);
  CHECK(b < c);
  std::string head_reply = all.substr(0, b);
  CHECK(head_reply.find("Content-Length: 21\r\n") != std::string::npos);
  CHECK(head_reply.find("up 1") == std::string::npos);
  CHECK(all.substr(c).find("Connection: close\r\n") != std::string::npos);
  CHECK(all.substr(c).find("\r\n\r\nok\n") != std::string::npos);

  int bad = ConnectFrom("127.0.0.1", s.port());
  REQUIRE(Send(bad, "GET / HTTP/1.1\r\nHost : a\r\n\r\n"));
  std::string r = ReadResponse(bad);
  CHECK(r.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(r.find("Connection: close\r\n") != std::string::npos);
  CHECK(ClosedByServer(bad));
  close(bad);
}

namespace {

// GET `path` over TLS on a new connection (server not verified: this is about
// availability); the status, 0 if none.
int TlsGet(int port, const std::string& path) {
  int fd = ConnectFrom("127.0.0.1", port);
  if (fd < 0) return 0;
  timeval tv{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  int status = 0;
  if (SSL_connect(ssl) == 1) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    SSL_write(ssl, req.data(), static_cast<int>(req.size()));
    char buf[4096];
    int n = SSL_read(ssl, buf, sizeof buf - 1);
    if (n > 9 && std::string(buf, 9) == "HTTP/1.1 ") status = std::atoi(buf + 9);
  }
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  return status;
}

}  // namespace

TEST_CASE("TLS: stalled handshakes are closed at the header deadline and do not delay others",
          "[daemon][http]") {
  char tmpl[] = "/tmp/dora-http-tls-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  dora::test::KeyCert ca, server;
  dora::test::MakeKeyCert(&ca, "ca", nullptr, "ca");
  dora::test::MakeKeyCert(&server, "server", &ca, "server");
  std::ofstream(dir + "/s.crt") << dora::test::PemCert(server.cert);
  std::ofstream(dir + "/s.key") << dora::test::PemKey(server.key);
  std::ofstream(dir + "/web.yml") << "tls_server_config: {cert_file: s.crt, key_file: s.key}\n";
  dora::WebConfig web;
  web.config_file = dir + "/web.yml";
  web.header_timeout = 1000ms;
  {
    RunningServer s(web);
    REQUIRE(TlsGet(s.port(), "/healthz") == 200);
    std::vector<int> stalled;
    for (int i = 0; i < 60; ++i) {  // 60 silent: no ClientHello at all
      stalled.push_back(ConnectFrom("127.0.6." + std::to_string(i + 1), s.port()));
      REQUIRE(stalled.back() >= 0);
    }
    for (int i = 0; i < 20; ++i) {  // 20 that start a ClientHello record and stop
      int fd = ConnectFrom("127.0.7." + std::to_string(i + 1), s.port());
      REQUIRE(fd >= 0);
      REQUIRE(Send(fd, std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)));
      stalled.push_back(fd);
    }
    REQUIRE(s.WaitOpen(80));
    auto t0 = Clock::now();
    CHECK(TlsGet(s.port(), "/healthz") == 200);
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::printf("http-limits: TLS GET /healthz with 80 stalled handshakes open: %.1f ms\n", ms);
    CHECK(ms < 1000);
    int closed = 0;
    for (int fd : stalled) closed += ClosedByServer(fd, 2000ms) ? 1 : 0;
    CHECK(closed == 80);
    CHECK(s.WaitOpen(0));
    for (int fd : stalled) close(fd);
  }
  std::string cmd = "rm -rf '" + dir + "'";
  CHECK(std::system(cmd.c_str()) == 0);
}
