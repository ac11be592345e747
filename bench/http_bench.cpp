// The /metrics HTTP path on its own, serving a real /metrics body (a file
// saved from the daemon), two ways, for bench/scrape_load to measure:
//
//   http_bench --body FILE --mode current|proposed [--port 0] [--seconds 120] [--republish-ms 2000]
//
// current:  what exporter/src/http/server.cpp and App::RenderMetrics do today —
//           self metrics + SnapshotStore::Render() concatenated per scrape,
//           res.set_content (a copy), cpp-httplib's default worker pool, and
//           cpp-httplib compressing each response itself when the client sends
//           Accept-Encoding: gzip.
// proposed: the change recommended in docs/benchmarks.md — self metrics
//           published into the store, SnapshotStore::Shared()/SharedGzip()
//           served through a content provider (no copy; gzip once per publish),
//           32 workers.
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
    self.RecordRun("consumer_groups", true, "", 1.0);
    if (proposed) store.Publish("_self", self.Render());
  };
  publish();

  httplib::Server server;
  // As exporter/src/http/server.cpp's Route() sets them.
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(100);
  server.set_read_timeout(10, 0);
  server.set_write_timeout(30, 0);
  const char* type = "text/plain; version=0.0.4; charset=utf-8";
  if (proposed) {
    server.new_task_queue = [] { return new httplib::ThreadPool(32); };
    server.Get("/metrics", [&](const httplib::Request& req, httplib::Response& res) {
      const bool gz = req.get_header_value("Accept-Encoding").find("gzip") != std::string::npos;
      std::shared_ptr<const std::string> body = gz ? store.SharedGzip() : store.Shared();
      if (!body)
        body = store.Shared();
      else if (gz)
        res.set_header("Content-Encoding", "gzip");
      res.set_content_provider(body->size(), type,
                               [body](size_t offset, size_t length, httplib::DataSink& sink) {
                                 size_t n = std::min(length, body->size() - offset);
                                 sink.write(body->data() + offset, n);
                                 return true;
                               });
    });
  } else {
    server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
      res.set_content(self.Render() + store.Render(), type);
    });
  }
  if (port == 0)
    port = server.bind_to_any_port("127.0.0.1");
  else if (!server.bind_to_port("127.0.0.1", port))
    return 1;
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
    server.stop();
  });
  server.listen_after_bind();
  stop.store(true);
  republisher.join();
  return 0;
}
