// The status page (GET /) at size L, without a broker: 2,000 groups x 5
// topics (200,000 group-partitions at 20 partitions a topic), as the
// consumer_groups collector hands them to the evaluator.
//
//   status_bench [groups=2000] [topics_per_group=5] [repeats=50]
//
// Prints, as medians over the repeats:
//   tap_*_ms   one consumer_groups publish's tapped families through
//              MetricsBuilder::Tap, the runner's copy and Evaluator::OnRun,
//              with the rules' families only and with the page's added;
//   view_ms    Evaluator::Status() (the per-request read, under its lock);
//   render_ms  RenderStatusPage, and the page's size, with no alert and
//              with every group's KafkaConsumerGroupLagHigh firing.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "alerting/evaluator.h"
#include "http/status_page.h"
#include "metrics/builder.h"
#include "metrics/catalogue.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// What the consumer_groups collector renders of the per-group families and
// the group-topic lag sums, tapped with `tap`, then handed over as the runner
// does (collectors/runner.cpp).
dora::alerting::RunInputs Publish(size_t groups, size_t topics, double lag,
                                  const std::set<std::string>* tap) {
  dora::MetricsBuilder out;
  out.Tap(tap);
  const auto lag_sum = out.Family(DORA_METRIC("kafka_consumergroup_lag_sum"));
  const auto max_lag = out.Family(DORA_METRIC("kafka_consumergroup_max_lag"));
  const auto max_lag_s = out.Family(DORA_METRIC("kafka_consumergroup_max_lag_seconds"));
  const auto status = out.Family(DORA_METRIC("kafka_consumergroup_status"));
  std::vector<std::string> topic_names;
  for (size_t t = 0; t < topics; ++t) topic_names.push_back("bench-topic-" + std::to_string(t));
  for (size_t g = 0; g < groups; ++g) {
    const std::string name = "bench-group-" + std::to_string(g);
    for (const std::string& t : topic_names)
      out.Add(lag_sum, {{"consumergroup", name}, {"topic", t}}, lag + static_cast<double>(g % 100));
    out.Add(max_lag, {{"consumergroup", name}}, lag);
    out.Add(max_lag_s, {{"consumergroup", name}}, static_cast<double>(g % 600));
    out.Add(status, {{"consumergroup", name}, {"status", g % 7 == 0 ? "WARN" : "OK"}}, 1);
  }
  dora::alerting::RunInputs run;
  run.collector = "consumer_groups";
  run.published = true;
  run.success = true;
  for (auto& [family, samples] : out.TakeTapped()) {
    auto& dst = run.samples[family];
    dst.reserve(samples.size());
    for (auto& t : samples) {
      const auto labels = t.Decode();
      dst.push_back({dora::alerting::Labels(labels.begin(), labels.end()), t.value});
    }
  }
  return run;
}

double TimedPublish(dora::alerting::Evaluator& eval, size_t groups, size_t topics, double lag,
                    const std::set<std::string>* tap) {
  const auto t0 = Clock::now();
  eval.OnRun(Publish(groups, topics, lag, tap));
  return Ms(t0);
}

void Cluster(dora::alerting::Evaluator& eval) {
  dora::alerting::RunInputs run;
  run.collector = "cluster";
  run.published = true;
  run.success = true;
  run.samples["kafka_brokers"] = {{{}, 3}};
  run.samples["kafka_cluster_under_replicated_partitions"] = {{{}, 0}};
  run.samples["kafka_cluster_under_min_isr_partitions"] = {{{}, 0}};
  run.samples["kafka_cluster_offline_partitions"] = {{{}, 0}};
  eval.OnRun(std::move(run));
}

}  // namespace

int main(int argc, char** argv) {
  const size_t groups = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 2000;
  const size_t topics = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 5;
  const int repeats = std::max(1, argc > 3 ? std::atoi(argv[3]) : 50);
  using dora::alerting::Evaluator;

  // The tap: rules only (what runs without the page) vs rules + page.
  dora::AlertingConfig config;
  config.rules.at("KafkaConsumerGroupLagHigh").for_duration = std::chrono::seconds(0);
  Evaluator eval(config, nullptr);
  Cluster(eval);
  std::vector<double> untapped, rules_only, with_page;
  const std::set<std::string> none;
  for (int r = 0; r < repeats; ++r) {
    untapped.push_back(TimedPublish(eval, groups, topics, 10, &none));
    rules_only.push_back(TimedPublish(eval, groups, topics, 10, &dora::alerting::TappedFamilies()));
    with_page.push_back(TimedPublish(eval, groups, topics, 10, &eval.TappedFamilies()));
  }
  std::printf(
      "groups=%zu group_topics=%zu repeats=%d publish_untapped_ms=%.2f publish_rules_tap_ms=%.2f "
      "publish_rules_and_page_tap_ms=%.2f\n",
      groups, groups * topics, repeats, Median(untapped), Median(rules_only), Median(with_page));

  for (const bool storm : {false, true}) {
    // Lag 10-109 per topic: nothing fires; 20,000: every group fires (for: 0s).
    Evaluator fresh(config, nullptr);
    Cluster(fresh);
    fresh.OnRun(Publish(groups, topics, storm ? 20000 : 10, &fresh.TappedFamilies()));
    const auto alerts = fresh.Current();
    std::vector<double> view_ms, render_ms;
    size_t bytes = 0;
    for (int r = 0; r < repeats; ++r) {
      auto t0 = Clock::now();
      const dora::alerting::StatusView v = fresh.Status();
      view_ms.push_back(Ms(t0));
      t0 = Clock::now();
      const std::string page = dora::RenderStatusPage(v, *alerts, std::chrono::system_clock::now());
      render_ms.push_back(Ms(t0));
      bytes = page.size();
    }
    std::printf("scenario=%s alerts=%zu view_ms=%.3f render_ms=%.3f page_bytes=%zu\n",
                storm ? "all-groups-firing" : "no-alert", alerts->alerts.size(), Median(view_ms),
                Median(render_ms), bytes);
  }
  return 0;
}
