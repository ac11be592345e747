// The real binary's HTTP endpoint under hostile clients, no broker needed:
// slowloris and idle connections must not delay a scrape or a probe, and
// pipelined requests are all answered, in order. Raw sockets on loopback,
// several 127.0.0.x source addresses (all of 127/8 is loopback on Linux).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon.h"

using namespace dora::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// This process holds over a thousand sockets: soft open-file limit up to the hard one.
void RaiseOwnFileLimit() {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
}

// A TCP connection to 127.0.0.1:port from `source` (an address in 127/8); -1 on failure.
int ConnectFrom(const std::string& source, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
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

bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  for (int i = 0; i < 1000 && off < data.size(); ++i) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return off == data.size();
}

// Reads until the peer closes, `done(bytes)` holds, or the deadline passes.
std::string ReadUntil(int fd, Clock::time_point deadline,
                      const std::function<bool(const std::string&)>& done) {
  std::string in;
  char buf[65536];
  for (int i = 0; i < 100000 && !done(in); ++i) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) break;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  return in;
}

struct Reply {
  int status = 0;  // 0: none
  std::string head, body;
};

// Splits one response off the front of `in` (Content-Length framing); false if incomplete.
bool TakeResponse(std::string* in, Reply* r) {
  size_t end = in->find("\r\n\r\n");
  if (end == std::string::npos || in->rfind("HTTP/1.1 ", 0) != 0) return false;
  std::string head = in->substr(0, end);
  size_t cl = head.find("\r\nContent-Length: ");
  if (cl == std::string::npos) return false;
  size_t length = std::stoul(head.substr(cl + 18));
  if (in->size() < end + 4 + length) return false;
  r->status = std::atoi(in->c_str() + 9);
  r->head = head;
  r->body = in->substr(end + 4, length);
  in->erase(0, end + 4 + length);
  return true;
}

// One GET on a new connection from 127.0.0.1; the time until the whole response arrived.
Reply TimedGet(int port, const std::string& path, double* ms) {
  auto t0 = Clock::now();
  Reply r;
  int fd = ConnectFrom("127.0.0.1", port);
  if (fd >= 0 && SendAll(fd, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")) {
    std::string in = ReadUntil(fd, t0 + 5s, [](const std::string& s) {
      std::string copy = s;
      Reply ignored;
      return TakeResponse(&copy, &ignored);
    });
    TakeResponse(&in, &r);
  }
  if (fd >= 0) close(fd);
  *ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return r;
}

// Still open at the server: no EOF or error pending on our side.
bool StillOpen(int fd) {
  char c;
  ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

TEST_CASE("1,000 idle and 40 slowloris connections do not delay a scrape or /healthz", "[daemon][http]") {
  RaiseOwnFileLimit();
  Daemon d({DeadBroker()});
  REQUIRE(d.WaitHealthy());
  double ms = 0;
  REQUIRE(TimedGet(d.port(), "/metrics", &ms).status == 200);
  const double quiet_scrape = ms;

  // 40 slowloris clients, each from its own address: a partial request line,
  // then a byte now and then, never the end of the head.
  std::vector<int> slow;
  for (int i = 0; i < 40; ++i) {
    int fd = ConnectFrom("127.0.1." + std::to_string(i + 1), d.port());
    REQUIRE(fd >= 0);
    REQUIRE(SendAll(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-a: "));
    slow.push_back(fd);
  }
  // 1,000 idle half-open connections that never send a byte, 25 per address.
  std::vector<int> idle;
  for (int i = 0; i < 1000; ++i) {
    int fd = ConnectFrom("127.0.2." + std::to_string(i / 25 + 1), d.port());
    REQUIRE(fd >= 0);
    idle.push_back(fd);
  }
  std::this_thread::sleep_for(300ms);  // let the server take them all in
  for (int fd : slow) SendAll(fd, "b");

  double worst_scrape = 0, worst_health = 0;
  for (int round = 0; round < 3; ++round) {
    Reply m = TimedGet(d.port(), "/metrics", &ms);
    INFO("round " << round << ": /metrics status " << m.status << " after " << ms << " ms");
    CHECK(m.status == 200);
    CHECK(m.body.find("kafka_exporter_build_info") != std::string::npos);
    worst_scrape = std::max(worst_scrape, ms);
    Reply h = TimedGet(d.port(), "/healthz", &ms);
    INFO("round " << round << ": /healthz status " << h.status << " after " << ms << " ms");
    CHECK(h.status == 200);
    CHECK(h.body == "ok\n");
    worst_health = std::max(worst_health, ms);
    for (int fd : slow) SendAll(fd, "b");
  }
  std::printf(
      "http-limits: quiet scrape %.1f ms; with 1,000 idle + 40 slowloris connections open: worst of 3 "
      "scrapes %.1f ms, worst of 3 /healthz %.1f ms\n",
      quiet_scrape, worst_scrape, worst_health);
  CHECK(worst_scrape < 1000);
  CHECK(worst_health < 1000);
  // The idle clients were not simply turned away: the server holds most of them.
  int open = 0;
  for (int fd : idle) open += StillOpen(fd) ? 1 : 0;
  INFO("idle connections still open: " << open);
  CHECK(open >= 900);
  for (int fd : slow) close(fd);
  for (int fd : idle) close(fd);
  CHECK(d.Running());
}

TEST_CASE("pipelined requests are all answered, in order", "[daemon][http]") {
  Daemon d({DeadBroker()});
  REQUIRE(d.WaitHealthy());
  int fd = ConnectFrom("127.0.0.1", d.port());
  REQUIRE(fd >= 0);
  // Three requests in one write; the last asks to close.
  REQUIRE(SendAll(fd,
                  "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
                  "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n"
                  "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  std::string in = ReadUntil(fd, Clock::now() + 5s, [](const std::string&) { return false; });
  close(fd);
  std::vector<Reply> replies;
  Reply r;
  for (int i = 0; i < 10 && TakeResponse(&in, &r); ++i) replies.push_back(r);
  INFO("unparsed rest: " << in.substr(0, 200));
  REQUIRE(replies.size() == 3);
  CHECK(replies[0].status == 200);
  CHECK(replies[0].body == "ok\n");
  CHECK(replies[1].status == 404);
  CHECK(replies[2].status == 200);
  CHECK(replies[2].body.find("# TYPE kafka_exporter_collector_success gauge") != std::string::npos);
  CHECK(replies[2].head.find("\r\nConnection: close") != std::string::npos);
  CHECK(in.empty());  // nothing after the last response: the server closed cleanly
}
