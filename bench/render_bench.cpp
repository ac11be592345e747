// Micro-benchmark of the /metrics render path for a large cluster: prometheus-cpp's
// Registry + TextSerializer against MetricsBuilder's pre-rendered text.
//
//   render_bench registry|builder [series=230000] [repeats=5]
//
// One mode per process, so peak RSS (ru_maxrss) belongs to that mode alone.
// Prints one line per repeat and a median; bench/run_render_bench.sh runs both.
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "metrics/builder.h"

namespace {

struct Series {
  std::string group, topic, partition;
};

// Consumer-group lag shaped series: groups x topics x partitions.
std::vector<Series> MakeSeries(size_t n) {
  std::vector<Series> out;
  out.reserve(n);
  for (size_t i = 0; out.size() < n; ++i) {
    std::string group = "dora-consumer-group-" + std::to_string(i / 115);
    std::string topic = "compliance-topic-" + std::to_string((i / 12) % 200);
    out.push_back({group, topic, std::to_string(i % 12)});
  }
  return out;
}

double RunRegistry(const std::vector<Series>& series, size_t* bytes) {
  auto start = std::chrono::steady_clock::now();
  prometheus::Registry registry;
  auto& family = prometheus::BuildGauge().Name("kafka_consumergroup_lag").Help("Lag.").Register(registry);
  for (size_t i = 0; i < series.size(); ++i) {
    family
        .Add({{"consumergroup", series[i].group},
              {"topic", series[i].topic},
              {"partition", series[i].partition}})
        .Set(static_cast<double>(i));
  }
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(os, registry.Collect());
  *bytes = os.str().size();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double RunBuilder(const std::vector<Series>& series, size_t* bytes) {
  auto start = std::chrono::steady_clock::now();
  dora::MetricsBuilder b;
  auto f = b.Family({"kafka_consumergroup_lag", dora::MetricType::kGauge, "", "", "", "Lag."});
  for (size_t i = 0; i < series.size(); ++i) {
    b.Add(
        f,
        {{"consumergroup", series[i].group}, {"topic", series[i].topic}, {"partition", series[i].partition}},
        static_cast<double>(i));
  }
  std::string text = b.Render();
  *bytes = text.size();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: render_bench registry|builder [series] [repeats]\n");
    return 2;
  }
  std::string mode = argv[1];
  size_t n = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 230000;
  int repeats = argc > 3 ? std::atoi(argv[3]) : 5;
  auto series = MakeSeries(n);
  std::vector<double> times;
  size_t bytes = 0;
  for (int r = 0; r < repeats; ++r) {
    double t = mode == "registry" ? RunRegistry(series, &bytes) : RunBuilder(series, &bytes);
    times.push_back(t);
  }
  std::sort(times.begin(), times.end());
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf(
      "mode=%s series=%zu repeats=%d median_ms=%.1f min_ms=%.1f max_ms=%.1f body_bytes=%zu "
      "peak_rss_mb=%.1f\n",
      mode.c_str(), n, repeats, times[times.size() / 2] * 1000, times.front() * 1000, times.back() * 1000,
      bytes, ru.ru_maxrss / 1024.0);
  return 0;
}
