#include "alerting/rules.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <regex>

namespace dora::alerting {
namespace {

constexpr std::chrono::seconds kRateWindow{300};  // [5m]
constexpr std::chrono::hours kBrokersWindow{24};  // [1d]
constexpr char kLatency[] = "kafka_probe_produce_latency_seconds";
constexpr char kProduceErrors[] = "kafka_probe_produce_errors_total";
constexpr char kCpu[] = "kafka_broker_process_cpu_seconds_total";
constexpr std::chrono::seconds kRestartWindow{600};  // time() - start < 600
constexpr double kHotTopicFloor = 1;                 // kafka_topic_messages_in_per_second > 1

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
  const std::vector<Sample>& samples = Family(in, family);
  // Already the sums (the tap reduced the family, ReducedFamilies): no
  // sample has the label summed away and every one matches. A family's
  // series are distinct, so each is its own sum, and no label set need be
  // built again (at L, 10,000 lag sums a run).
  const bool reduced = std::all_of(samples.begin(), samples.end(), [&sum](const Sample& s) {
    if (s.labels.count(sum.sum_without) != 0) return false;
    if (sum.match.empty()) return true;
    auto it = s.labels.find(sum.match);
    return it != s.labels.end() &&
           std::find(sum.values.begin(), sum.values.end(), it->second) != sum.values.end();
  });
  if (reduced) return samples;
  std::map<Labels, double> sums;
  for (const Sample& s : samples) {
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

// The sample of `family` with exactly these labels, or null (PromQL's
// one-to-one vector matching).
const Sample* Match(const Samples& in, const char* family, const Labels& labels) {
  for (const Sample& s : Family(in, family))
    if (s.labels == labels) return &s;
  return nullptr;
}

// kafka_brokers < max_over_time(kafka_brokers[1d]) or kafka_brokers <
// kafka_brokers_expected: the value where either holds.
std::vector<Sample> BrokersMissing(const Samples& in, const History& h, SysTime now) {
  std::vector<Sample> out;
  double max = -std::numeric_limits<double>::infinity();
  for (const auto& [t, v] : h.brokers)
    if (t > now - kBrokersWindow) max = std::max(max, v);
  for (const Sample& s : Family(in, "kafka_brokers")) {
    const Sample* expected = Match(in, "kafka_brokers_expected", s.labels);
    if (s.value < max || (expected != nullptr && s.value < expected->value)) out.push_back(s);
  }
  return out;
}

std::vector<Sample> LagNearRetention(const Samples& in, const History&, SysTime) {
  return Plain(in, "kafka_consumergroup_lag_retention_ratio");
}

// kafka_broker_process_open_fds / kafka_broker_process_max_fds.
std::vector<Sample> FileDescriptors(const Samples& in, const History&, SysTime) {
  std::vector<Sample> out;
  for (const Sample& open : Family(in, "kafka_broker_process_open_fds"))
    if (const Sample* max = Match(in, "kafka_broker_process_max_fds", open.labels))
      out.push_back({open.labels, open.value / max->value});
  return out;
}

// time() - kafka_broker_process_start_time_seconds.
std::vector<Sample> Restarted(const Samples& in, const History&, SysTime now) {
  const double t = std::chrono::duration<double>(now.time_since_epoch()).count();
  std::vector<Sample> out;
  for (const Sample& s : Family(in, "kafka_broker_process_start_time_seconds"))
    out.push_back({s.labels, t - s.value});
  return out;
}

// rate(kafka_broker_process_cpu_seconds_total[5m]) / kafka_broker_process_cpu_limit_cores.
std::vector<Sample> CpuSaturated(const Samples& in, const History& h, SysTime now) {
  std::vector<Sample> out;
  for (const Sample& s : Family(in, kCpu)) {
    double rate = 0;
    if (!h.Rate(kCpu, s.labels, now, kRateWindow, &rate)) continue;
    if (const Sample* limit = Match(in, "kafka_broker_process_cpu_limit_cores", s.labels))
      out.push_back({s.labels, rate / limit->value});
  }
  return out;
}

// (kafka_topic_hottest_partition_write_share > ignoring (topic) group_left ()
// kafka_topic_hot_partition_share_threshold) and
// (kafka_topic_messages_in_per_second > 1): the share where both hold.
std::vector<Sample> HotPartition(const Samples& in, const History&, SysTime) {
  std::vector<Sample> out;
  for (const Sample& share : Family(in, "kafka_topic_hottest_partition_write_share")) {
    Labels without_topic = share.labels;
    without_topic.erase("topic");
    const Sample* threshold = Match(in, "kafka_topic_hot_partition_share_threshold", without_topic);
    const Sample* rate = Match(in, "kafka_topic_messages_in_per_second", share.labels);
    if (threshold != nullptr && share.value > threshold->value && rate != nullptr &&
        rate->value > kHotTopicFloor)
      out.push_back(share);
  }
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
       {"kafka_brokers", "kafka_brokers_expected"},
       "Kafka cluster has fewer brokers than during the last day{{ with printf "
       "\"kafka_brokers_expected{instance=%q}\" $labels.instance | query }} or than the {{ . | first | value "
       "| printf \"%.0f\" }} expected{{ end }}",
       "Only {{ $value | printf \"%.0f\" }} brokers are in the cluster metadata seen by {{ $labels.instance "
       "}}, fewer than the maximum of the last 24 hours{{ with printf "
       "\"kafka_brokers_expected{instance=%q}\" "
       "$labels.instance | query }} or than the {{ . | first | value | printf \"%.0f\" }} brokers of "
       "expected_brokers{{ end }}, for 5 minutes.",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/runbooks.md#kafkabrokersmissing",
       &BrokersMissing},
      {"KafkaConsumerGroupLagNearRetention",
       "page",
       Op::kGreater,
       {"kafka_consumergroup_lag_retention_ratio"},
       "Consumer group {{ $labels.consumergroup }} is close to losing messages of topic {{ $labels.topic }}",
       "The oldest message of topic {{ $labels.topic }} that consumer group {{ $labels.consumergroup }} has "
       "not consumed is {{ $value | humanizePercentage }} of the topic's retention.ms old, above 80% for 5 "
       "minutes: retention deletes it at 100%.",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/"
       "runbooks.md#kafkaconsumergrouplagnearretention",
       &LagNearRetention},
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
      {"KafkaBrokerFileDescriptorsHigh",
       "ticket",
       Op::kGreater,
       {"kafka_broker_process_open_fds", "kafka_broker_process_max_fds"},
       "Broker {{ $labels.broker }} uses more than 80% of its file descriptor limit",
       "The broker {{ $labels.broker }} process has {{ $value | humanizePercentage }} of its open file limit "
       "in use, above 80% for 5 minutes.",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/"
       "runbooks.md#kafkabrokerfiledescriptorshigh",
       &FileDescriptors},
      {"KafkaBrokerCpuSaturated",
       "ticket",
       Op::kGreater,
       {kCpu, "kafka_broker_process_cpu_limit_cores"},
       "Broker {{ $labels.broker }} uses more than 90% of its CPUs",
       "The broker {{ $labels.broker }} process used {{ $value | humanizePercentage }} of the CPUs it may "
       "use "
       "over the last 5 minutes, above 90% for 10 minutes.",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/runbooks.md#kafkabrokercpusaturated",
       &CpuSaturated},
      {"KafkaTopicHotPartition",
       "ticket",
       Op::kNone,
       {"kafka_topic_hottest_partition_write_share", "kafka_topic_hot_partition_share_threshold",
        "kafka_topic_messages_in_per_second"},
       "Topic {{ $labels.topic }} has a hot partition",
       "The hottest partition of topic {{ $labels.topic }} takes {{ $value | humanizePercentage }} of its "
       "writes, above the configured share for 15 minutes.",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/runbooks.md#kafkatopichotpartition",
       &HotPartition},
      {"KafkaBrokerRestarted",
       "warning",
       Op::kLess,
       {"kafka_broker_process_start_time_seconds"},
       "Broker {{ $labels.broker }} restarted",
       "The broker {{ $labels.broker }} process started {{ $value | humanizeDuration }} ago.",
       "https://github.com/dora/dora-kafka-exporter/blob/main/docs/runbooks.md#kafkabrokerrestarted",
       &Restarted},
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

// Go's %q of a string.
std::string Quote(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// The selector of a `with` pipeline: `query "sel"` or
// `printf "fmt" $labels.x | query` (each %q of fmt taking the next label).
std::string WithSelector(const std::string& pipeline, const Labels& labels) {
  const std::regex plain(R"re(^query\s+"([^"]*)"$)re");
  const std::regex formatted(
      R"re(^printf\s+"([^"]*)"((?:\s+\$labels\.[a-zA-Z_][a-zA-Z0-9_]*)*)\s*\|\s*query$)re");
  std::smatch m;
  const std::string p = Trim(pipeline);
  if (std::regex_match(p, m, plain)) return m[1];
  if (!std::regex_match(p, m, formatted)) return "";
  std::vector<std::string> args;
  const std::string arg_text = m[2];
  const std::regex arg(R"(\$labels\.([a-zA-Z_][a-zA-Z0-9_]*))");
  for (std::sregex_iterator it(arg_text.begin(), arg_text.end(), arg), e; it != e; ++it) {
    auto l = labels.find((*it)[1]);
    args.push_back(l == labels.end() ? "" : l->second);
  }
  std::string out;
  const std::string fmt = m[1];
  size_t next = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt.compare(i, 2, "%q") == 0) {
      out += Quote(next < args.size() ? args[next++] : "");
      ++i;
    } else {
      out += fmt[i];
    }
  }
  return out;
}

// The samples of `name{l="v", ...}` among the inputs (a matcher with "" also
// matches a missing label), ordered by labels.
std::vector<Sample> Query(const std::string& selector, const Samples* in) {
  std::vector<Sample> out;
  if (in == nullptr || selector.empty()) return out;
  const size_t brace = selector.find('{');
  const std::string name = selector.substr(0, brace);
  Labels matchers;
  if (brace != std::string::npos) {
    const std::regex matcher(R"re(([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)")re");
    const std::string body = selector.substr(brace);
    for (std::sregex_iterator it(body.begin(), body.end(), matcher), e; it != e; ++it) {
      std::string v;
      const std::string raw = (*it)[2];
      for (size_t i = 0; i < raw.size(); ++i) v += raw[i] == '\\' && i + 1 < raw.size() ? raw[++i] : raw[i];
      matchers[(*it)[1]] = v;
    }
  }
  auto family = in->find(name);
  if (family == in->end()) return out;
  for (const Sample& s : family->second) {
    bool match = true;
    for (const auto& [k, v] : matchers) {
      auto l = s.labels.find(k);
      if ((l == s.labels.end() ? std::string() : l->second) != v) match = false;
    }
    if (match) out.push_back(s);
  }
  std::sort(out.begin(), out.end(), [](const Sample& a, const Sample& b) { return a.labels < b.labels; });
  return out;
}

// The body of a `with`: {{ . | first | value [| pipe] }} is the first
// result's value; the rest renders as outside.
std::string RenderDot(const std::string& body, const Labels& labels, double value,
                      const std::vector<Sample>& result) {
  static const std::regex dot(R"(\{\{\s*\.\s*\|\s*first\s*\|\s*value\s*(?:\|([^}]*))?\}\})");
  std::string out;
  auto last = body.cbegin();
  for (std::sregex_iterator it(body.begin(), body.end(), dot), e; it != e; ++it) {
    out += RenderTemplate(std::string(last, (*it)[0].first), labels, value, nullptr);
    out += RenderValue((*it)[1].matched ? Trim((*it)[1]) : "", result.front().value);
    last = (*it)[0].second;
  }
  return out + RenderTemplate(std::string(last, body.cend()), labels, value, nullptr);
}

}  // namespace

bool History::Observes(const std::string& family) {
  return family == "kafka_brokers" || family == kLatency || family == kProduceErrors;
}

void History::Observe(SysTime now, const Samples& fresh) {
  auto count = fresh.find("kafka_brokers");
  if (count != fresh.end() && !count->second.empty()) brokers.emplace_back(now, count->second.front().value);
  while (!brokers.empty() && brokers.front().first <= now - kBrokersWindow) brokers.pop_front();
  for (const char* family : {kLatency, kProduceErrors, kCpu}) {
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

bool History::Rate(const std::string& family, const Labels& labels, SysTime now, std::chrono::seconds window,
                   double* out) const {
  auto it = counters.find({family, labels});
  if (it == counters.end()) return false;
  // Prometheus's extrapolatedRate over the points in (now - window, now].
  const std::pair<SysTime, double>* first = nullptr;
  const std::pair<SysTime, double>* last = nullptr;
  double delta = 0, prev = 0;
  int n = 0;
  for (const auto& p : it->second) {
    if (p.first <= now - window || p.first > now) continue;
    if (n == 0) first = &p;
    if (n > 0 && p.second < prev) delta += prev;  // a reset: what was counted before it
    prev = p.second;
    last = &p;
    ++n;
  }
  if (n < 2) return false;
  using Secs = std::chrono::duration<double>;
  delta += last->second - first->second;
  const double sampled = Secs(last->first - first->first).count();
  if (sampled <= 0) return false;
  double to_start = Secs(first->first - (now - window)).count();
  const double to_end = Secs(now - last->first).count();
  const double average = sampled / (n - 1);
  if (delta > 0 && first->second >= 0) to_start = std::min(to_start, sampled * (first->second / delta));
  const double threshold = average * 1.1;
  double interval = sampled;
  interval += to_start < threshold ? to_start : average / 2;
  interval += to_end < threshold ? to_end : average / 2;
  *out = delta * (interval / sampled) / Secs(window).count();
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
         rule.compute == &ReplicationLatency || rule.compute == &CpuSaturated ||
         rule.compute == &Restarted;  // time() moves too
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

std::string RenderTemplate(const std::string& text, const Labels& labels, double value, const Samples* in) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    const size_t open = text.find("{{", pos);
    if (open == std::string::npos) break;
    const size_t close = text.find("}}", open + 2);
    if (close == std::string::npos) break;
    out.append(text, pos, open - pos);
    const std::string inner = Trim(text.substr(open + 2, close - open - 2));
    if (inner.rfind("with ", 0) == 0) {
      // {{ with <query> }}body{{ end }}: the body, with `.` the query's
      // result, where the result is not empty.
      const size_t end = text.find("{{ end }}", close + 2);
      if (end == std::string::npos) break;
      const std::vector<Sample> result = Query(WithSelector(inner.substr(5), labels), in);
      if (!result.empty()) out += RenderDot(text.substr(close + 2, end - close - 2), labels, value, result);
      pos = end + 9;
      continue;
    }
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
