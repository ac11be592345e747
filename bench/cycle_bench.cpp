// Collection-cycle benchmark against a real cluster, in-process: the same
// collectors the daemon builds (cluster, offsets, consumer_groups,
// broker_stats), run together the way `--once` and the daemon's aligned
// cycles run them (CollectorRunner::RunOnce), published into a SnapshotStore.
//
//   cycle_bench --bootstrap B [--cycles 5] [--stats-ms 1000] [--touch-cmd CMD]
//               [--sweep 1,8,32,128] [--sweep-repeats 3] [--dump FILE] [--config FILE]
//
// Per cycle: wall time, CPU seconds of this process (getrusage: every thread,
// librdkafka's included), Kafka requests by API name (sum over brokers of the
// `req` object of librdkafka's statistics, taken after the cycle's last answer
// minus before its first request), series and body bytes; then the /metrics
// render (SnapshotStore::Render + SelfMetrics), gzip of that body the way
// cpp-httplib compresses a response (zlib level 6, gzip wrapper), peak RSS.
// `--touch-cmd` runs between cycles (not timed) so watermarks move and the
// lag-in-seconds series exist. `--sweep` then times FetchCommittedOffsets over
// every group at each max_in_flight. Output: human lines and one JSON line
// prefixed "RESULT ".
#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "collectors/broker_stats.h"
#include "collectors/cluster.h"
#include "collectors/consumer_groups.h"
#include "collectors/offsets.h"
#include "collectors/runner.h"
#include "config/loader.h"
#include "kafka/api.h"
#include "metrics/self_metrics.h"
#include "metrics/snapshot_store.h"
#include "util/log.h"

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

struct StatsTap {
  std::mutex mu;
  std::string latest;
  uint64_t count = 0;
  Clock::time_point at{};
};

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double PeakRssMb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

double CurrentRssMb() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, rss = 0;
  f >> pages >> rss;
  return static_cast<double>(rss) * 4096.0 / (1024.0 * 1024.0);
}

// Request counts by API name, summed over every broker entry (bootstrap ones included).
std::map<std::string, int64_t> RequestCounts(const std::string& stats) {
  std::map<std::string, int64_t> out;
  json doc = json::parse(stats, nullptr, false);
  if (doc.is_discarded() || !doc.contains("brokers")) return out;
  for (const auto& [name, b] : doc["brokers"].items()) {
    if (!b.contains("req")) continue;
    for (const auto& [api, n] : b["req"].items()) {
      if (n.is_number() && n.get<int64_t>() != 0) out[api] += n.get<int64_t>();
    }
  }
  return out;
}

// Waits (bounded) for a statistics event generated after `after`; returns its JSON.
std::string FreshStats(dora::KafkaApi& client, StatsTap& tap, Clock::time_point after) {
  auto end = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < end) {
    client.ServeCallbacks();
    {
      std::lock_guard<std::mutex> lock(tap.mu);
      if (tap.at > after) return tap.latest;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::lock_guard<std::mutex> lock(tap.mu);
  return tap.latest;
}

// cpp-httplib 0.11.4's gzip_compressor: deflateInit2(Z_DEFAULT_COMPRESSION, 31, 8), 16 KiB chunks.
std::string Gzip(const std::string& in, int level = Z_DEFAULT_COMPRESSION) {
  z_stream s{};
  deflateInit2(&s, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  std::string out;
  char buf[16384];
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  int ret = Z_OK;
  do {
    s.next_out = reinterpret_cast<Bytef*>(buf);
    s.avail_out = sizeof buf;
    ret = deflate(&s, Z_FINISH);
    out.append(buf, sizeof buf - s.avail_out);
  } while (ret == Z_OK);
  deflateEnd(&s);
  return out;
}

template <typename F>
double Millis(F&& f) {
  auto t0 = Clock::now();
  f();
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<int> ParseList(const std::string& s) {
  std::vector<int> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) out.push_back(std::atoi(s.substr(i, j - i).c_str()));
    i = j + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string bootstrap, touch_cmd, sweep, dump, config_file;
  int cycles = 5, stats_ms = 1000, sweep_repeats = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--bootstrap")
      bootstrap = v;
    else if (k == "--cycles")
      cycles = std::max(1, std::min(50, std::atoi(v.c_str())));
    else if (k == "--stats-ms")
      stats_ms = std::max(50, std::atoi(v.c_str()));
    else if (k == "--touch-cmd")
      touch_cmd = v;
    else if (k == "--sweep")
      sweep = v;
    else if (k == "--sweep-repeats")
      sweep_repeats = std::max(1, std::min(10, std::atoi(v.c_str())));
    else if (k == "--dump")
      dump = v;
    else if (k == "--config")
      config_file = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (bootstrap.empty()) {
    std::fprintf(stderr, "usage: cycle_bench --bootstrap HOST:PORT [--cycles N] ...\n");
    return 2;
  }
  dora::ConfigErrors errors;
  dora::Config config = config_file.empty() ? dora::ParseConfig("{}", "bench", &errors)
                                            : dora::LoadConfigFile(config_file, &errors);
  if (!errors.empty()) {
    std::fprintf(stderr, "config: %s\n", errors.Joined().c_str());
    return 2;
  }
  config.kafka.bootstrap_servers = {bootstrap};
  auto& cc = config.collectors;
  // Collector timeouts as configured; the bench reports runs that exceed them.
  auto tap = std::make_shared<StatsTap>();
  auto store_stats = std::make_shared<dora::BrokerStatsStore>();
  auto kafka_r = dora::ConnectKafka(
      config.kafka,
      [tap, store_stats](const std::string& js) {
        {
          std::lock_guard<std::mutex> lock(tap->mu);
          tap->latest = js;
          ++tap->count;
          tap->at = Clock::now();
        }
        store_stats->Set(js);
      },
      dora::Millis(stats_ms));
  if (!kafka_r.ok()) {
    std::fprintf(stderr, "kafka: %s\n", kafka_r.status().message.c_str());
    return 1;
  }
  std::shared_ptr<dora::KafkaApi> kafka = kafka_r.value();
  auto cluster_state = std::make_shared<dora::ClusterState>();
  auto watermarks =
      std::make_shared<dora::WatermarkService>(kafka, cluster_state, cc.offsets.partitions_per_request);
  dora::SelfMetrics self;
  dora::SnapshotStore store;
  std::vector<std::unique_ptr<dora::Collector>> collectors;
  collectors.push_back(std::make_unique<dora::ClusterCollector>(cc.cluster, kafka, cluster_state));
  collectors.push_back(std::make_unique<dora::OffsetsCollector>(cc.offsets, watermarks));
  auto groups = std::make_unique<dora::ConsumerGroupsCollector>(cc.consumer_groups, cc.offsets.rate_window,
                                                                kafka, watermarks, &self);
  // offsets_source offsets_topic: the reader's catch-up (its CPU: every
  // thread of this process while it reads) before the measured cycles.
  json offsets_topic = nullptr;
  if (cc.consumer_groups.offsets_source == "offsets_topic") {
    double cpu0 = CpuSeconds();
    auto t0 = Clock::now();
    auto reader = dora::StartOffsetsTopicReader(config.kafka);
    if (!reader.ok()) {
      std::fprintf(stderr, "offsets topic reader: %s\n", reader.status().message.c_str());
      return 1;
    }
    dora::OffsetsTopicProgress p;
    for (int i = 0; i < 6000 && !(p = reader.value()->Progress()).caught_up; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    double wall = std::chrono::duration<double>(Clock::now() - t0).count(), cpu = CpuSeconds() - cpu0;
    uint64_t records = 0;
    for (const auto& [kind, n] : p.records) records += n;
    std::printf("offsets topic catch-up: %s in %.2f s wall, %.3f CPU-s, %llu records, %zu group-partitions\n",
                p.caught_up ? "done" : "NOT DONE", wall, cpu, static_cast<unsigned long long>(records),
                p.group_partitions);
    offsets_topic = {{"caught_up", p.caught_up},
                     {"catch_up_wall_s", wall},
                     {"catch_up_cpu_s", cpu},
                     {"records", records},
                     {"group_partitions", p.group_partitions}};
    groups->SetOffsetsSource(reader.value());
  }
  collectors.push_back(std::move(groups));
  collectors.push_back(std::make_unique<dora::BrokerStatsCollector>(cc.broker_stats, kafka, store_stats));
  dora::CollectorRunner runner(std::move(collectors), &store, &self, config.retry);

  json result;
  result["bootstrap"] = bootstrap;
  result["cycles"] = json::array();
  std::printf("%-5s %8s %8s %8s %9s %10s %9s %9s %8s %8s  %s\n", "cycle", "wall_s", "cpu_s", "requests",
              "series", "body_MB", "render_ms", "gzip_ms", "gzip_MB", "rss_MB", "requests by type");
  std::string body;
  for (int c = 0; c < cycles; ++c) {
    if (c > 0 && !touch_cmd.empty()) {
      int rc = std::system(touch_cmd.c_str());
      if (rc != 0) std::fprintf(stderr, "touch command failed (%d)\n", rc);
    }
    auto before_stats = FreshStats(*kafka, *tap, Clock::now());
    auto req0 = RequestCounts(before_stats);
    double cpu0 = CpuSeconds();
    auto t0 = Clock::now();
    bool ok = runner.RunOnce();
    auto t1 = Clock::now();
    double cpu1 = CpuSeconds();
    auto after_stats = FreshStats(*kafka, *tap, t1);
    auto req1 = RequestCounts(after_stats);
    json by_type = json::object();
    int64_t total = 0;
    std::string types;
    for (const auto& [api, n] : req1) {
      int64_t d = n - (req0.count(api) ? req0[api] : 0);
      if (d == 0) continue;
      by_type[api] = d;
      total += d;
      types += api + "=" + std::to_string(d) + " ";
    }
    // What a scrape does to get its body: SnapshotStore::Shared() (the self
    // metrics are an entry of the store, published by the runner), pointer
    // copies only; the joined text is for the analysis below.
    std::vector<double> render_ms, gzip_ms;
    std::string gz;
    for (int r = 0; r < 3; ++r) {
      std::shared_ptr<const dora::ExpositionBody> shared;
      render_ms.push_back(Millis([&] { shared = store.Shared(); }));
    }
    body = store.Render();
    gzip_ms.push_back(Millis([&] { gz = Gzip(body); }));
    // Series per family (sample lines by metric name).
    size_t series = 0;
    std::map<std::string, size_t> families;
    for (size_t p = 0; p < body.size();) {
      size_t nl = body.find('\n', p);
      if (nl == std::string::npos) nl = body.size();
      if (body[p] != '#') {
        size_t e = body.find_first_of("{ ", p);
        if (e == std::string::npos || e > nl) e = nl;
        ++families[body.substr(p, e - p)];
        ++series;
      }
      p = nl + 1;
    }
    double wall = std::chrono::duration<double>(t1 - t0).count();
    std::printf("%-5d %8.3f %8.3f %8lld %9zu %10.2f %9.1f %9.1f %8.2f %8.1f  %s%s\n", c + 1, wall,
                cpu1 - cpu0, static_cast<long long>(total), series, body.size() / 1048576.0,
                Median(render_ms), Median(gzip_ms), gz.size() / 1048576.0, PeakRssMb(), ok ? "" : "[FAILED] ",
                types.c_str());
    std::fflush(stdout);
    json cj;
    cj["cycle"] = c + 1;
    cj["ok"] = ok;
    cj["wall_s"] = wall;
    cj["cpu_s"] = cpu1 - cpu0;
    cj["requests"] = total;
    cj["requests_by_type"] = by_type;
    cj["series"] = series;
    cj["body_bytes"] = body.size();
    cj["gzip_bytes"] = gz.size();
    cj["render_ms"] = Median(render_ms);
    cj["gzip_ms"] = Median(gzip_ms);
    cj["peak_rss_mb"] = PeakRssMb();
    cj["rss_mb"] = CurrentRssMb();
    cj["stats_json_bytes"] = after_stats.size();
    cj["family_series"] = families;
    result["cycles"].push_back(cj);
  }
  if (!dump.empty()) std::ofstream(dump) << body;
  body.clear();
  body.shrink_to_fit();

  // SnapshotStore's shared render and cached gzip (what a scrape could serve
  // without copying or compressing): checked against Render, then timed.
  {
    std::shared_ptr<const dora::ExpositionBody> shared, gz1, gz2;
    double first_ms = Millis([&] { shared = store.Shared(); });
    double again_ms = Millis([&] { shared = store.Shared(); });
    double gz_first_ms = Millis([&] { gz1 = store.SharedGzip(); });
    double gz_again_ms = Millis([&] { gz2 = store.SharedGzip(); });
    const std::string joined = shared ? shared->Joined() : std::string();
    bool same = shared && joined == store.Render();
    std::string back, packed;
    if (gz1) {
      packed = gz1->Joined();
      z_stream zs{};
      inflateInit2(&zs, 31);
      back.resize(joined.size() + 1);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
      zs.avail_in = static_cast<uInt>(packed.size());
      zs.next_out = reinterpret_cast<Bytef*>(&back[0]);
      zs.avail_out = static_cast<uInt>(back.size());
      inflate(&zs, Z_FINISH);
      back.resize(zs.total_out);
      inflateEnd(&zs);
    }
    // Each SharedGzip call assembles a new body from the cached parts: equal
    // bytes, not the same object.
    bool gz_ok = gz1 && gz2 && gz2->Joined() == packed && back == joined;
    std::printf(
        "shared render: first %.1f ms, cached %.3f ms, equal to Render: %s; gzip once %.1f ms (%.2f MB), "
        "cached %.3f ms, round-trip ok: %s\n",
        first_ms, again_ms, same ? "yes" : "NO", gz_first_ms, gz1 ? gz1->size / 1048576.0 : 0.0, gz_again_ms,
        gz_ok ? "yes" : "NO");
    result["shared"] = {{"first_ms", first_ms},         {"cached_ms", again_ms},         {"equal", same},
                        {"gzip_first_ms", gz_first_ms}, {"gzip_cached_ms", gz_again_ms}, {"gzip_ok", gz_ok}};
  }

  // Where a consumer_groups run spends its wall time: its three Kafka phases
  // one after the other, as the collector makes them (a fresh
  // WatermarkService, so the watermarks are really fetched).
  {
    auto t0 = Clock::now();
    auto listing = kafka->ListGroups(cc.consumer_groups.max_in_flight, dora::Millis(30000));
    auto t1 = Clock::now();
    std::vector<std::string> names;
    if (listing.ok())
      for (const auto& g : listing.value().groups) names.push_back(g.name);
    auto offs = kafka->FetchCommittedOffsets(names, cc.consumer_groups.max_in_flight, dora::Millis(60000));
    auto t2 = Clock::now();
    dora::WatermarkService fresh(kafka, cluster_state, cc.offsets.partitions_per_request);
    auto wm = fresh.Get(Clock::now(), Clock::now() + std::chrono::seconds(30));
    auto t3 = Clock::now();
    auto s = [](Clock::time_point a, Clock::time_point b) {
      return std::chrono::duration<double>(b - a).count();
    };
    std::printf(
        "phases: list_groups %.3f s, offset_fetch %.3f s (%zu groups, max_in_flight %d), watermarks %.3f s "
        "(%zu calls)\n",
        s(t0, t1), s(t1, t2), names.size(), cc.consumer_groups.max_in_flight, s(t2, t3),
        wm.ok() ? wm.value()->calls : 0);
    result["phases"] = {{"list_groups_s", s(t0, t1)},
                        {"offset_fetch_s", s(t1, t2)},
                        {"watermarks_s", s(t2, t3)},
                        {"max_in_flight", cc.consumer_groups.max_in_flight}};
  }

  // OffsetFetch throughput: every group, at each max_in_flight.
  result["sweep"] = json::array();
  if (!sweep.empty()) {
    auto listing = kafka->ListGroups(cc.consumer_groups.max_in_flight, dora::Millis(30000));
    std::vector<std::string> names;
    if (listing.ok())
      for (const auto& g : listing.value().groups) names.push_back(g.name);
    for (int inflight : ParseList(sweep)) {
      std::vector<double> secs;
      size_t failed = 0;
      for (int r = 0; r < sweep_repeats; ++r) {
        auto t0 = Clock::now();
        auto res = kafka->FetchCommittedOffsets(names, inflight, dora::Millis(120000));
        secs.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
        for (const auto& g : res) failed += g.error != 0;
      }
      double med = Median(secs);
      std::printf("offsetfetch max_in_flight=%d groups=%zu median_s=%.3f groups_per_s=%.0f failed=%zu\n",
                  inflight, names.size(), med, med > 0 ? names.size() / med : 0.0, failed);
      result["sweep"].push_back({{"max_in_flight", inflight},
                                 {"groups", names.size()},
                                 {"median_s", med},
                                 {"groups_per_s", med > 0 ? names.size() / med : 0.0},
                                 {"failed", failed}});
    }
  }
  result["peak_rss_mb"] = PeakRssMb();
  result["partitions_per_request"] = cc.offsets.partitions_per_request;
  result["granularity"] = cc.consumer_groups.granularity;
  result["offsets_source"] = cc.consumer_groups.offsets_source;
  result["offsets_topic"] = offsets_topic;
  std::printf("RESULT %s\n", result.dump().c_str());
  return 0;
}
