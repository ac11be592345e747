#include "alerting/rules.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace dora::alerting {
namespace {

constexpr std::chrono::seconds kRateWindow{300};  // [5m]
constexpr std::chrono::hours kBrokersWindow{24};  // [1d]
constexpr char kLatency[] = "kafka_probe_produce_latency_seconds";
constexpr char kProduceErrors[] = "kafka_probe_produce_errors_total";

const std::vector<Sample>& Family(const Samples& in, const char* name) {
  static const std::vector<Sample> kNone;
  auto it = in.find(name);
  return it == in.end() ? kNone : it->second;
}

// The series as they are: `expr` is the family compared with a constant.
std::vector<Sample> Plain(const Samples& in, const char* family) { return Family(in, family); }

using TapReduce = MetricsBuilder::TapReduce;

// The `sum without` of the rules that read one: each is also its family's
// reduction at the tap (ReducedFamilies).
constexpr char kLagSum[] = "kafka_consumergroup_lag_sum";
constexpr char kExpired[] = "kafka_consumergroup_expired_messages";
constexpr char kPartitionStatus[] = "kafka_consumergroup_partition_status";
const TapReduce& LagHighSum() {
  static const TapReduce k{"topic", "", {}};
  return k;
}
const TapReduce& DataLossSum() {
  static const TapReduce k{"partition", "", {}};
  return k;
}
const TapReduce& StalledSum() {
  static const TapReduce k{"partition", "status", {"STOP", "STALL"}};
  return k;
}

// sum without (sum.sum_without) (family{sum.match=~"sum.values"}).
std::vector<Sample> SumWithout(const Samples& in, const char* family, const TapReduce& sum) {
  std::map<Labels, double> sums;
  for (const Sample& s : Family(in, family)) {
    if (!sum.match.empty()) {
      auto it = s.labels.find(sum.match);
      if (it == s.labels.end() ||
          std::find(sum.values.begin(), sum.values.end(), it->second) == sum.values.end())
        continue;
    }
    Labels l = s.labels;
    l.erase(sum.sum_without);
    sums[std::move(l)] += s.value;
  }
  // Moved out node by node: each label set is copied once, from its sample.
  std::vector<Sample> out;
  out.reserve(sums.size());
  while (!sums.empty()) {
    auto node = sums.extract(sums.begin());
    out.emplace_back();
    out.back().labels.swap(node.key());
    out.back().value = node.mapped();
  }
  return out;
}

std::vector<Sample> LagHigh(const Samples& in, const History&, SysTime) {
  return SumWithout(in, kLagSum, LagHighSum());
}
std::vector<Sample> DiskUsage(const Samples& in, const History&, SysTime) {
  return Plain(in, "kafka_log_dir_used_ratio");
}
std::vector<Sample> RegistryDown(const Samples& in, const History&, SysTime) {
  return Plain(in, "kafka_schema_registry_up");
}
std::vector<Sample> PartitionOffline(const Samples& in, const History&, SysTime) {
  return Plain(in, "kafka_topic_partition_offline");
}
std::vector<Sample> UnderMinIsr(const Samples& in, const History&, SysTime) {
  return Plain(in, "kafka_cluster_partition_underminisr");
}
std::vector<Sample> CollectorFailing(const Samples& in, const History&, SysTime) {
  return Plain(in, "kafka_exporter_collector_success");
}
std::vector<Sample> DataLoss(const Samples& in, const History&, SysTime) {
  return SumWithout(in, kExpired, DataLossSum());
}
std::vector<Sample> Stalled(const Samples& in, const History&, SysTime) {
  return SumWithout(in, kPartitionStatus, StalledSum());
}

// kafka_brokers < max_over_time(kafka_brokers[1d]): the value where it holds.
std::vector<Sample> BrokersMissing(const Samples& in, const History& h, SysTime now) {
  std::vector<Sample> out;
  double max = -std::numeric_limits<double>::infinity();
  for (const auto& [t, v] : h.brokers)
    if (t > now - kBrokersWindow) max = std::max(max, v);
  for (const Sample& s : Family(in, "kafka_brokers"))
    if (s.value < max) out.push_back(s);
  return out;
}

// increase(kafka_probe_produce_errors_total[5m]) per broker.
std::vector<Sample> ProduceErrors(const Samples& in, const History& h, SysTime now) {
  std::vector<Sample> out;
  for (const Sample& s : Family(in, kProduceErrors)) {
    double inc = 0;
    if (h.Increase(kProduceErrors, s.labels, now, kRateWindow, &inc)) out.push_back({s.labels, inc});
  }
  return out;
}

// histogram_quantile(0.99, rate(kafka_probe_produce_latency_seconds_bucket[5m]))
// per broker, from the bucket increases over 5m (the rate's 1/300 cancels out).
std::vector<Sample> ReplicationLatency(const Samples& in, const History& h, SysTime now) {
  std::map<Labels, std::vector<std::pair<double, double>>> per_series;
  for (const Sample& s : Family(in, kLatency)) {
    auto le = s.labels.find("le");
    if (le == s.labels.end()) continue;
    double inc = 0;
    if (!h.Increase(kLatency, s.labels, now, kRateWindow, &inc)) continue;
    Labels l = s.labels;
    l.erase("le");
    const double bound =
        le->second == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(le->second);
    per_series[l].emplace_back(bound, inc);
  }
  std::vector<Sample> out;
  for (auto& [l, buckets] : per_series) {
    const double q = HistogramQuantile(0.99, buckets);
    if (!std::isnan(q)) out.push_back({l, q});
  }
  return out;
}

std::vector<RuleDef> MakeRules() {
  return {
      {"KafkaConsumerGroupLagHigh",
       "ticket",
       Op::kGreater,
       {kLagSum},
       "Consumer group {{ $labels.consumergroup }} lags more than 10,000 messages",
       "Consumer group {{ $labels.consumergroup }} is {{ $value | printf \"%.0f\" }} messages behind (sum "
       "over its topics) on {{ $labels.instance }}, above the 10,000 threshold for 5 minutes.",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/runbooks.md#kafkaconsumergrouplaghigh",
       &LagHigh},
      {"KafkaBrokerDiskUsageHigh",
       "ticket",
       Op::kGreater,
       {"kafka_log_dir_used_ratio"},
       "Broker {{ $labels.broker }} log dir {{ $labels.log_dir }} is more than 80% full",
       "Log dir {{ $labels.log_dir }} of broker {{ $labels.broker }} is {{ $value | humanizePercentage }} "
       "full, above the 80% threshold for 5 minutes.",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/runbooks.md#kafkabrokerdiskusagehigh",
       &DiskUsage},
      {"KafkaSchemaRegistryDown",
       "page",
       Op::kEqual,
       {"kafka_schema_registry_up"},
       "Schema registry {{ $labels.registry }} is unavailable",
       "Schema registry {{ $labels.registry }} has not answered the exporter's checks for 2 minutes: "
       "producers and consumers that need a schema not in their cache fail.",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/runbooks.md#kafkaschemaregistrydown",
       &RegistryDown},
      {"KafkaTopicPartitionOffline",
       "page",
       Op::kEqual,
       {"kafka_topic_partition_offline"},
       "Partition {{ $labels.topic }}/{{ $labels.partition }} is offline",
       "Partition {{ $labels.partition }} of topic {{ $labels.topic }} has had no leader for 1 minute: it "
       "can be neither written nor read.",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/runbooks.md#kafkatopicpartitionoffline",
       &PartitionOffline},
      {"KafkaReplicationLatencyHigh",
       "page",
       Op::kGreater,
       {"kafka_probe_produce_latency_seconds"},
       "acks=all produce latency on broker {{ $labels.broker }} is above 5 s",
       "The p99 acks=all ack latency of probe messages led by broker {{ $labels.broker }} is {{ $value | "
       "humanizeDuration }} over 5 minutes (threshold 5 s): followers of this leader replicate more than 5 s "
       "behind.",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/runbooks.md#kafkareplicationlatencyhigh",
       &ReplicationLatency},
      {"KafkaTopicPartitionUnderMinISR",
       "page",
       Op::kEqual,
       {"kafka_cluster_partition_underminisr"},
       "Partition {{ $labels.topic }}/{{ $labels.partition }} is under min.insync.replicas",
       "Partition {{ $labels.partition }} of topic {{ $labels.topic }} has fewer in-sync replicas than "
       "min.insync.replicas for 1 minute: producers with acks=all get NOT_ENOUGH_REPLICAS.",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/"
       "runbooks.md#kafkatopicpartitionunderminisr",
       &UnderMinIsr},
      {"KafkaBrokersMissing",
       "page",
       Op::kNone,
       {"kafka_brokers"},
       "Kafka cluster has fewer brokers than during the last day",
       "Only {{ $value | printf \"%.0f\" }} brokers are in the cluster metadata seen by {{ $labels.instance "
       "}}, fewer than the maximum of the last 24 hours, for 5 minutes.",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/runbooks.md#kafkabrokersmissing",
       &BrokersMissing},
      {"KafkaConsumerGroupDataLoss",
       "page",
       Op::kGreater,
       {kExpired},
       "Consumer group {{ $labels.consumergroup }} lost messages of topic {{ $labels.topic }}",
       "{{ $value | printf \"%.0f\" }} message(s) of topic {{ $labels.topic }} were deleted by retention "
       "before consumer group {{ $labels.consumergroup }} read them (committed offset below the log start "
       "offset).",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/runbooks.md#kafkaconsumergroupdataloss",
       &DataLoss},
      {"KafkaConsumerGroupStalled",
       "ticket",
       Op::kGreater,
       {kPartitionStatus},
       "Consumer group {{ $labels.consumergroup }} is in status {{ $labels.status }} on topic {{ "
       "$labels.topic }}",
       "{{ $value | printf \"%.0f\" }} partition(s) of topic {{ $labels.topic }} consumed by group {{ "
       "$labels.consumergroup }} have status {{ $labels.status }} for 5 minutes (STOP: no commits while lag "
       "> 0; STALL: commits without progress).",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/runbooks.md#kafkaconsumergroupstalled",
       &Stalled},
      {"KafkaProbeProduceErrors",
       "ticket",
       Op::kGreater,
       {"kafka_probe_produce_errors_total"},
       "Probe produce requests to broker {{ $labels.broker }} fail",
       "{{ $value | printf \"%.0f\" }} acks=all probe messages for partitions led by broker {{ "
       "$labels.broker }} failed in the last 5 minutes.",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/runbooks.md#kafkaprobeproduceerrors",
       &ProduceErrors},
      {"KafkaExporterCollectorFailing",
       "ticket",
       Op::kEqual,
       {"kafka_exporter_collector_success"},
       "Exporter collector {{ $labels.collector }} fails on {{ $labels.instance }}",
       "Collector {{ $labels.collector }} of {{ $labels.instance }} has failed every run for 5 minutes; the "
       "metrics it produces are missing or incomplete.",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/runbooks.md#kafkaexportercollectorfailing",
       &CollectorFailing},
  };
}

// Go's %.4g for the humanize functions.
std::string G4(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string HumanizeDuration(double v) {
  if (std::isnan(v) || std::isinf(v)) return G4(v);
  if (v == 0) return "0s";
  std::string sign;
  if (v < 0) {
    sign = "-";
    v = -v;
  }
  char buf[96];
  if (v >= 1) {
    const auto i = static_cast<int64_t>(v);
    const int64_t seconds = i % 60, minutes = (i / 60) % 60, hours = (i / 3600) % 24, days = i / 86400;
    if (days != 0) {
      std::snprintf(buf, sizeof buf, "%s%lldd %lldh %lldm %llds", sign.c_str(), static_cast<long long>(days),
                    static_cast<long long>(hours), static_cast<long long>(minutes),
                    static_cast<long long>(seconds));
    } else if (hours != 0) {
      std::snprintf(buf, sizeof buf, "%s%lldh %lldm %llds", sign.c_str(), static_cast<long long>(hours),
                    static_cast<long long>(minutes), static_cast<long long>(seconds));
    } else if (minutes != 0) {
      std::snprintf(buf, sizeof buf, "%s%lldm %llds", sign.c_str(), static_cast<long long>(minutes),
                    static_cast<long long>(seconds));
    } else {
      return sign + G4(v) + "s";
    }
    return buf;
  }
  std::string prefix;
  for (const char* p : {"m", "u", "n", "p", "f", "a", "z", "y"}) {
    if (v >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return sign + G4(v) + prefix + "s";
}

std::string Humanize(double v) {
  if (v == 0 || std::isnan(v) || std::isinf(v)) return G4(v);
  const char* big[] = {"", "k", "M", "G", "T", "P", "E", "Z", "Y"};
  const char* small[] = {"", "m", "u", "n", "p", "f", "a", "z", "y"};
  size_t i = 0;
  if (std::fabs(v) >= 1) {
    while (std::fabs(v) >= 1000 && i + 1 < std::size(big)) {
      v /= 1000;
      ++i;
    }
    return G4(v) + big[i];
  }
  while (std::fabs(v) < 1 && i + 1 < std::size(small)) {
    v *= 1000;
    ++i;
  }
  return G4(v) + small[i];
}

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(' ');
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(' ') - b + 1);
}

std::string RenderValue(const std::string& pipe, double value) {
  if (pipe.empty()) {
    char buf[64] = "";
    double back = 0;
    // The shortest text that reads back as the value (Go's %v).
    for (int p = 1; p <= 17; ++p) {
      std::snprintf(buf, sizeof buf, "%.*g", p, value);
      if (std::sscanf(buf, "%lf", &back) == 1 && back == value) break;
    }
    return buf;
  }
  if (pipe == "humanize") return Humanize(value);
  if (pipe == "humanizePercentage") return G4(value * 100) + "%";
  if (pipe == "humanizeDuration") return HumanizeDuration(value);
  const std::string printf_prefix = "printf \"%.";
  if (pipe.rfind(printf_prefix, 0) == 0 && pipe.size() == printf_prefix.size() + 3 &&
      pipe[printf_prefix.size() + 1] == 'f' && pipe.back() == '"') {
    const int digits = pipe[printf_prefix.size()] - '0';
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", digits, value);
    return buf;
  }
  return "";
}

}  // namespace

bool History::Observes(const std::string& family) {
  return family == "kafka_brokers" || family == kLatency || family == kProduceErrors;
}

void History::Observe(SysTime now, const Samples& fresh) {
  auto count = fresh.find("kafka_brokers");
  if (count != fresh.end() && !count->second.empty()) brokers.emplace_back(now, count->second.front().value);
  while (!brokers.empty() && brokers.front().first <= now - kBrokersWindow) brokers.pop_front();
  for (const char* family : {kLatency, kProduceErrors}) {
    auto it = fresh.find(family);
    if (it == fresh.end()) continue;
    for (const Sample& s : it->second) {
      auto& points = counters[{family, s.labels}];
      points.emplace_back(now, s.value);
    }
  }
  // Points older than the window go; so do series no longer reported.
  for (auto it = counters.begin(); it != counters.end();) {
    auto& points = it->second;
    while (!points.empty() && points.front().first <= now - kRateWindow) points.pop_front();
    it = points.empty() ? counters.erase(it) : std::next(it);
  }
}

bool History::Increase(const std::string& family, const Labels& labels, SysTime now,
                       std::chrono::seconds window, double* out) const {
  auto it = counters.find({family, labels});
  if (it == counters.end()) return false;
  double total = 0, prev = 0;
  int n = 0;
  for (const auto& [t, v] : it->second) {
    if (t <= now - window || t > now) continue;
    if (n > 0) total += v >= prev ? v - prev : v;  // a reset counts from 0
    prev = v;
    ++n;
  }
  if (n < 2) return false;
  *out = total;
  return true;
}

double HistogramQuantile(double q, std::vector<std::pair<double, double>> buckets) {
  std::sort(buckets.begin(), buckets.end());
  if (buckets.size() < 2 || !std::isinf(buckets.back().first)) return std::nan("");
  // Cumulative counts must not decrease (Prometheus makes them monotonic).
  for (size_t i = 1; i < buckets.size(); ++i)
    buckets[i].second = std::max(buckets[i].second, buckets[i - 1].second);
  const double total = buckets.back().second;
  if (total == 0) return std::nan("");
  const double rank = q * total;
  size_t b = 0;
  while (b < buckets.size() - 1 && buckets[b].second < rank) ++b;
  if (b == buckets.size() - 1) return buckets[buckets.size() - 2].first;
  if (b == 0 && buckets[0].first <= 0) return buckets[0].first;
  double start = 0, end = buckets[b].first, count = buckets[b].second;
  double r = rank;
  if (b > 0) {
    start = buckets[b - 1].first;
    count -= buckets[b - 1].second;
    r -= buckets[b - 1].second;
  }
  return start + (end - start) * (r / count);
}

const std::vector<RuleDef>& Rules() {
  static const std::vector<RuleDef> kRules = MakeRules();
  return kRules;
}

const RuleDef* FindRule(const std::string& name) {
  for (const RuleDef& r : Rules())
    if (name == r.name) return &r;
  return nullptr;
}

const std::set<std::string>& TappedFamilies() {
  static const std::set<std::string> kFamilies = [] {
    std::set<std::string> out;
    for (const RuleDef& r : Rules())
      for (const auto& f : r.families) out.insert(f);
    out.erase("kafka_exporter_collector_success");  // from the runner, not a builder
    return out;
  }();
  return kFamilies;
}

const MetricsBuilder::TapReductions& ReducedFamilies() {
  static const MetricsBuilder::TapReductions kReduced = {
      {kLagSum, LagHighSum()}, {kExpired, DataLossSum()}, {kPartitionStatus, StalledSum()}};
  return kReduced;
}

bool ReadsHistory(const RuleDef& rule) {
  return rule.compute == &BrokersMissing || rule.compute == &ProduceErrors ||
         rule.compute == &ReplicationLatency;
}

bool Compare(Op op, double value, double threshold) {
  switch (op) {
    case Op::kGreater:
      return value > threshold;
    case Op::kEqual:
      return value == threshold;
    case Op::kLess:
      return value < threshold;
    case Op::kNone:
      return true;
  }
  return false;
}

std::string RenderTemplate(const std::string& text, const Labels& labels, double value) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    const size_t open = text.find("{{", pos);
    if (open == std::string::npos) break;
    const size_t close = text.find("}}", open + 2);
    if (close == std::string::npos) break;
    out.append(text, pos, open - pos);
    const std::string inner = Trim(text.substr(open + 2, close - open - 2));
    if (inner.rfind("$labels.", 0) == 0) {
      auto it = labels.find(inner.substr(8));
      if (it != labels.end()) out += it->second;
    } else if (inner.rfind("$value", 0) == 0) {
      const size_t bar = inner.find('|');
      out += RenderValue(bar == std::string::npos ? "" : Trim(inner.substr(bar + 1)), value);
    }
    pos = close + 2;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

}  // namespace dora::alerting
