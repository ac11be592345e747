// Scrape load driver for /metrics on loopback: C concurrent scrapers, each on
// its own keep-alive connection, back to back, bounded in time and count.
//
//   scrape_load --port P [--concurrency 1] [--seconds 10] [--max 2000] [--gzip 0|1] [--path /metrics]
//
// Latency = request sent to last body byte read (the client does not
// decompress). Output: one human line and one JSON line prefixed "RESULT ".
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  int port = 0, concurrency = 1, max_requests = 2000;
  double seconds = 10;
  bool gzip = false;
  std::string path = "/metrics", host = "127.0.0.1";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--port")
      port = std::atoi(v.c_str());
    else if (k == "--concurrency")
      concurrency = std::max(1, std::min(64, std::atoi(v.c_str())));
    else if (k == "--seconds")
      seconds = std::max(0.5, std::min(120.0, std::atof(v.c_str())));
    else if (k == "--max")
      max_requests = std::max(1, std::min(100000, std::atoi(v.c_str())));
    else if (k == "--gzip")
      gzip = v == "1";
    else if (k == "--path")
      path = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (port <= 0) {
    std::fprintf(stderr, "usage: scrape_load --port P [--concurrency C] [--seconds S] [--gzip 0|1]\n");
    return 2;
  }
  using Clock = std::chrono::steady_clock;
  auto end =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::atomic<int> issued{0};
  std::mutex mu;
  std::vector<double> lat_ms;
  size_t errors = 0, bytes = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      httplib::Client cli(host, port);
      cli.set_keep_alive(true);
      cli.set_decompress(false);
      cli.set_connection_timeout(5, 0);
      cli.set_read_timeout(60, 0);
      httplib::Headers headers = {{"Accept-Encoding", gzip ? "gzip" : "identity"}};
      std::vector<double> mine;
      size_t my_errors = 0, my_bytes = 0;
      while (Clock::now() < end && issued.fetch_add(1) < max_requests) {
        auto t0 = Clock::now();
        auto res = cli.Get(path.c_str(), headers);
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (!res || res->status != 200) {
          ++my_errors;
          continue;
        }
        my_bytes += res->body.size();
        mine.push_back(ms);
      }
      std::lock_guard<std::mutex> lock(mu);
      lat_ms.insert(lat_ms.end(), mine.begin(), mine.end());
      errors += my_errors;
      bytes += my_bytes;
    });
  }
  for (auto& t : threads) t.join();
  std::sort(lat_ms.begin(), lat_ms.end());
  auto q = [&](double p) {
    if (lat_ms.empty()) return 0.0;
    size_t i = static_cast<size_t>(p * static_cast<double>(lat_ms.size() - 1) + 0.5);
    return lat_ms[std::min(i, lat_ms.size() - 1)];
  };
  double avg_bytes = lat_ms.empty() ? 0 : static_cast<double>(bytes) / static_cast<double>(lat_ms.size());
  std::printf(
      "scrape concurrency=%d gzip=%d n=%zu errors=%zu p50_ms=%.1f p99_ms=%.1f max_ms=%.1f body_MB=%.2f\n",
      concurrency, gzip ? 1 : 0, lat_ms.size(), errors, q(0.5), q(0.99), lat_ms.empty() ? 0.0 : lat_ms.back(),
      avg_bytes / 1048576.0);
  std::printf(
      "RESULT {\"concurrency\":%d,\"gzip\":%s,\"n\":%zu,\"errors\":%zu,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
      "\"max_ms\":%.2f,\"body_bytes\":%.0f}\n",
      concurrency, gzip ? "true" : "false", lat_ms.size(), errors, q(0.5), q(0.99),
      lat_ms.empty() ? 0.0 : lat_ms.back(), avg_bytes);
  return errors > 0 && lat_ms.empty() ? 1 : 0;
}
