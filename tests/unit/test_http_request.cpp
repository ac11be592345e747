// The HTTP request-head parser and response head of the endpoint
// (exporter/src/http/request.h), and the open-file limit raise at start.
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <string>

#include "http/request.h"
#include "util/fd_limit.h"

using namespace dora;

namespace {
struct Parsed {
  ParseOutcome outcome;
  HttpRequest req;
  size_t head = 0;
  int status = 0;
};
Parsed Parse(const std::string& text, size_t max_head = 16384) {
  Parsed p;
  p.outcome = ParseRequestHead(text, max_head, &p.req, &p.head, &p.status);
  return p;
}
}  // namespace

TEST_CASE("a request head is parsed once complete, and only its own bytes are consumed", "[http]") {
  const std::string first = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept-Encoding:  gzip \r\n\r\n";
  const std::string second = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
  for (size_t cut = 0; cut < first.size(); ++cut) {
    INFO(cut);
    CHECK(Parse(first.substr(0, cut)).outcome == ParseOutcome::kIncomplete);
  }
  Parsed p = Parse(first + second);  // pipelined: the first head, and nothing of the second
  REQUIRE(p.outcome == ParseOutcome::kComplete);
  CHECK(p.head == first.size());
  CHECK(p.req.method == "GET");
  CHECK(p.req.target == "/metrics?x=1");
  CHECK(p.req.path == "/metrics");
  CHECK(p.req.Header("accept-encoding") == "gzip");
  CHECK(p.req.Header("HOST") == "a");
  CHECK(p.req.Header("Missing").empty());
  CHECK(p.req.keep_alive);
  Parsed q = Parse((first + second).substr(p.head));
  REQUIRE(q.outcome == ParseOutcome::kComplete);
  CHECK(q.req.path == "/healthz");
}

TEST_CASE("keep-alive follows the version and the Connection options", "[http]") {
  CHECK_FALSE(Parse("GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n").req.keep_alive);
  CHECK_FALSE(Parse("GET / HTTP/1.0\r\n\r\n").req.keep_alive);
  CHECK(Parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").req.keep_alive);
  Parsed lf = Parse("\r\nGET /ready HTTP/1.1\nHost: a\n\n");  // leading empty line, bare LFs
  REQUIRE(lf.outcome == ParseOutcome::kComplete);
  CHECK(lf.req.path == "/ready");
  CHECK(Parse("GET /a%2Fb%20c HTTP/1.1\r\n\r\n").req.path == "/a/b c");
  Parsed body = Parse("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n");
  REQUIRE(body.outcome == ParseOutcome::kComplete);
  CHECK(body.req.content_length == 12);
}

TEST_CASE("malformed or ambiguous heads are errors with the status to answer", "[http]") {
  struct Case {
    const char* text;
    int status;
  };
  const Case cases[] = {
      {"GET /\r\n\r\n", 400},
      {"GET  / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / FTP/1.0\r\n\r\n", 400},
      {"GET http://a/ HTTP/1.1\r\n\r\n", 400},
      {"GET /%zz HTTP/1.1\r\n\r\n", 400},
      {"GET /%00 HTTP/1.1\r\n\r\n", 400},
      {"G(T / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    Parsed p = Parse(c.text);
    CHECK(p.outcome == ParseOutcome::kError);
    CHECK(p.status == c.status);
  }
}

TEST_CASE("heads over the size limit are 414 or 431, even before they end", "[http]") {
  Parsed line = Parse("GET /" + std::string(200, 'a'), 100);
  CHECK(line.outcome == ParseOutcome::kError);
  CHECK(line.status == 414);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 20; ++i) many += "X-" + std::to_string(i) + ": value\r\n";
  Parsed headers = Parse(many, 100);  // no end of head yet, already too long
  CHECK(headers.outcome == ParseOutcome::kError);
  CHECK(headers.status == 431);
  std::string count = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) count += "X: y\r\n";
  Parsed too_many = Parse(count + "\r\n");
  CHECK(too_many.outcome == ParseOutcome::kError);
  CHECK(too_many.status == 431);
}

TEST_CASE("response heads carry Content-Length and Connection: close when closing", "[http]") {
  HttpResponse r;
  r.status = 404;
  r.SetContent("gone\n", "text/plain");
  r.SetHeader("content-type", "text/html");  // replaces, whatever the case
  r.SetHeader("Content-Length", "999");      // never sent: the real length is
  CHECK(
      SerializeResponseHead(r, true, false) ==
      "HTTP/1.1 404 Not Found\r\ncontent-type: text/html\r\nContent-Length: 5\r\nConnection: close\r\n\r\n");
  CHECK(SerializeResponseHead(r, false, true).find("\r\nConnection: keep-alive\r\n") != std::string::npos);
  CHECK(SerializeResponseHead(r, false, false).find("Connection") == std::string::npos);
}

TEST_CASE("the open-file soft limit is raised to the hard limit", "[http]") {
  rlimit lim{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &lim) == 0);
  rlimit low = lim;
  low.rlim_cur = std::min<rlim_t>(lim.rlim_max, 256);
  REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
  CHECK(OpenFileLimit() == low.rlim_cur);
  CHECK(RaiseOpenFileLimit() == lim.rlim_max);
  rlimit now{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &now) == 0);
  CHECK(now.rlim_cur == lim.rlim_max);
}
