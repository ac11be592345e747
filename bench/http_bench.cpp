// The /metrics HTTP path on its own, serving a real /metrics body (a file
// saved from the daemon), two ways, for bench/scrape_load to measure:
//
//   http_bench --body FILE --mode current|proposed [--port 0] [--seconds 120] [--republish-ms 2000]
//
// current:  what the daemon did before the shared body (kept here to compare):
//           self metrics + SnapshotStore::Render() joined per scrape,
//           res.set_content (a copy), cpp-httplib's default worker pool, and
//           cpp-httplib compressing each response itself when the client sends
//           Accept-Encoding: gzip.
// proposed: the daemon's own dora::HttpServer, as App::Run sets it up: self
//           metrics published into the store, SnapshotStore::Shared()/
//           SharedGzip() served through a content provider (no join, no copy;
//           gzip once per publish, never waited for), 32 workers.
// A background thread republishes the body every --republish-ms as a collector
// run would, so the proposed mode's caches are rebuilt that often. Prints
// "PORT <n>" once listening; stops after --seconds.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "http/server.h"
#include "metrics/self_metrics.h"
#include "metrics/snapshot_store.h"

int main(int argc, char** argv) {
  std::string body_file, mode = "current";
  int port = 0, republish_ms = 2000;
  double seconds = 120;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--body")
      body_file = v;
    else if (k == "--mode")
      mode = v;
    else if (k == "--port")
      port = std::atoi(v.c_str());
    else if (k == "--seconds")
      seconds = std::max(1.0, std::min(600.0, std::atof(v.c_str())));
    else if (k == "--republish-ms")
      republish_ms = std::max(100, std::atoi(v.c_str()));
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  std::ifstream in(body_file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "usage: http_bench --body FILE --mode current|proposed\n");
    return 2;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const bool proposed = mode == "proposed";

  dora::SelfMetrics self;
  self.Declare("consumer_groups");
  dora::SnapshotStore store;
  auto publish = [&] {
    store.Publish("consumer_groups", std::string(text));  // a fresh string, as a collector run makes
    self.RecordRun("consumer_groups", dora::Status::Ok(), 1.0);
    if (proposed) store.Publish("_self", self.Render());
  };
  publish();

  const char* type = "text/plain; version=0.0.4; charset=utf-8";
  httplib::Server server;
  std::unique_ptr<dora::HttpServer> daemon_server;
  if (proposed) {
    dora::WebConfig web;
    web.listen_address = "127.0.0.1:" + std::to_string(port);
    dora::HttpHandlers handlers;
    handlers.metrics = [&store](bool gz) { return gz ? store.SharedGzip() : store.Shared(); };
    handlers.ready = [] { return true; };
    daemon_server = std::make_unique<dora::HttpServer>(web, handlers);
    if (dora::Status st = daemon_server->Bind(); !st.ok) {
      std::fprintf(stderr, "%s\n", st.message.c_str());
      return 1;
    }
    port = daemon_server->port();
  } else {
    // As exporter/src/http/server.cpp's Route() set them then.
    server.set_tcp_nodelay(true);
    server.set_keep_alive_max_count(100);
    server.set_read_timeout(10, 0);
    server.set_write_timeout(30, 0);
    server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
      res.set_content(self.Render() + store.Render(), type);
    });
    if (port == 0)
      port = server.bind_to_any_port("127.0.0.1");
    else if (!server.bind_to_port("127.0.0.1", port))
      return 1;
  }
  std::printf("PORT %d\n", port);
  std::fflush(stdout);

  std::atomic<bool> stop{false};
  std::thread republisher([&] {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    auto next = std::chrono::steady_clock::now();
    while (!stop.load() && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (std::chrono::steady_clock::now() >= next) {
        publish();
        next += std::chrono::milliseconds(republish_ms);
      }
    }
    if (daemon_server)
      daemon_server->Stop();
    else
      server.stop();
  });
  if (daemon_server)
    daemon_server->Serve();
  else
    server.listen_after_bind();
  stop.store(true);
  republisher.join();
  return 0;
}
