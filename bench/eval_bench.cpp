// Cost of the built-in alert evaluator per collector publish, at a cluster's
// size, in-process and without a broker: the real consumer_groups and cluster
// renders (ConsumerGroupsCollector::Render, RenderClusterView) on
// observations of bench/cluster_setup's layout, the runner's hand-over
// (TappedSamples) and Evaluator::OnRun, on one thread.
//
//   eval_bench [--topics 1000] [--partitions 20] [--groups 2000] [--topics-per-group 5]
//              [--scenario stopped|healthy] [--granularity G] [--warmup 16] [--cycles 15]
//              [--interval-s 60]
//
// Defaults are size L: 20,000 partitions, 2,000 groups, 200,000 group-partitions.
// Scenario `stopped` is what bench/run.sh's L cluster shows: every group
// Empty, no commits, one message produced to every partition between cycles,
// so after the status window (10 observations) every group-partition is STOP
// and KafkaConsumerGroupStalled fires for every group-topic (10,000 alerts).
// `healthy`: every group Stable with one member that commits to 2 messages
// behind the end each cycle (every partition OK). In both, the topics
// t % 100 == 0 have lost their oldest messages to retention below the
// groups' commits (KafkaConsumerGroupDataLoss, 100 alerts).
//
// Per measured cycle (after --warmup cycles, which fill the status windows
// and let `for` elapse on the evaluator's clock, --interval-s per cycle):
//   render_untapped  consumer_groups Render + TakeParts, no tap (a twin collector)
//   render_tapped    the same with the evaluator's tap (StartTap, as the runner)
//   tap              the tap alone: the tapped families' samples of one render
//                    (captured in the last warm-up cycle) added again to a
//                    builder the way the render adds them, with the tap and
//                    without, 3 times each, alternating; the difference. The
//                    whole renders' difference is as large as the noise of a
//                    600 ms render on a shared machine, this one is not.
//                    Where the collector taps its per-topic sums instead of
//                    the partitions' samples (MetricsBuilder::TapSumsWithout),
//                    the tapped replay does too.
//   handover         the runner's hand-over of the tapped samples
//   onrun            Evaluator::OnRun of that run: the samples into the inputs,
//                    every rule, the snapshot and the ALERTS series
//   onrun_eval_only  OnRun of a run without tapped samples (offsets,
//                    broker_stats, a cluster run that kept its text)
//   cluster_*        the same for a cluster render whose view changed
// The runner's and the collector's steps are those of the revision the bench
// is built from (bench/run.sh eval builds an earlier one with this file): the
// overloads below pick what that revision has. malloc is set up as the
// daemon's main() does. Times are this thread's CPU time
// (CLOCK_THREAD_CPUTIME_ID; wall alongside),
// medians over the measured cycles; the tapped and untapped renders alternate
// which goes first. Per consumer_groups publish: tap + handover + onrun. Per
// cycle of the four Kafka collectors: that + 3 onrun_eval_only. Output: human
// lines and one JSON line prefixed "RESULT ".
#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "alerting/evaluator.h"
#include "collectors/cluster.h"
#include "collectors/consumer_groups.h"
#include "collectors/runner.h"
#include "metrics/catalogue.h"
#include "metrics/snapshot_store.h"
#include "util/log.h"

namespace {

using json = nlohmann::json;
using namespace dora;

struct Args {
  int topics = 1000, partitions = 20, groups = 2000, per_group = 5;
  std::string scenario = "stopped";
  std::string granularity;  // collectors.consumer_groups.granularity; empty: the default
  int warmup = 16, cycles = 15, interval_s = 60;
};

std::string TopicName(int t) {
  char b[64];
  std::snprintf(b, sizeof b, "bench-topic-%05d", t);
  return b;
}
std::string GroupName(int g) {
  char b[64];
  std::snprintf(b, sizeof b, "bench-group-%05d", g);
  return b;
}
// bench/cluster_setup's messages and commits.
int Messages(int t, int p) { return 5 + (t * 31 + p * 17) % 16; }
int64_t Committed(int g, int t, int p) {
  const int n = Messages(t, p);
  return n - (g * 7 + p) % (n + 1);
}
bool LostToRetention(int t) { return t % 100 == 0; }

struct Timer {
  timespec cpu0{};
  std::chrono::steady_clock::time_point wall0 = std::chrono::steady_clock::now();
  Timer() { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0); }
  // {cpu ms, wall ms} since construction.
  std::pair<double, double> Ms() const {
    timespec c{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
    const double cpu = static_cast<double>(c.tv_sec - cpu0.tv_sec) * 1e3 +
                       static_cast<double>(c.tv_nsec - cpu0.tv_nsec) / 1e6;
    const double wall =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall0).count();
    return {cpu, wall};
  }
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The runner's hand-over: the tapped samples as tapped (HandOver), or, before
// that existed, turned into label maps (TakeTappedSamples).
template <class B>
auto HandOverOf(B& b, alerting::RunInputs* run, int) -> decltype(HandOver(b, run)) {
  return HandOver(b, run);
}
template <class B>
void HandOverOf(B& b, alerting::RunInputs* run, long) {
  run->samples = TakeTappedSamples(b);
}
// Samples of `family` a run hands over, in either form.
template <class R>
auto TappedCount(const R& run, const std::string& family, int) -> decltype(run.tapped.size()) {
  auto it = run.tapped.find(family);
  return it == run.tapped.end() ? 0 : it->second.size();
}
template <class R>
size_t TappedCount(const R&, const std::string&, long) {
  return 0;
}
std::map<std::string, size_t> HandedOver(const alerting::RunInputs& run,
                                         const std::set<std::string>& families) {
  std::map<std::string, size_t> out;
  for (const std::string& f : families) {
    auto it = run.samples.find(f);
    const size_t n = (it == run.samples.end() ? 0 : it->second.size()) + TappedCount(run, f, 0);
    if (n > 0 || it != run.samples.end()) out[f] = n;
  }
  return out;
}
// consumer_groups' per-topic sums of its partition statuses and data loss,
// tapped instead of each partition's sample where the builder can.
template <class B>
auto SumsInstead(B& b, MetricsBuilder::FamilyId id, int) -> decltype(b.TapSumsWithout(id, "partition")) {
  return b.TapSumsWithout(id, "partition");
}
template <class B>
bool SumsInstead(B&, MetricsBuilder::FamilyId, long) {
  return false;
}
template <class B>
auto TapSumOf(B& b, MetricsBuilder::FamilyId id, const std::vector<Label>& labels, double value, int)
    -> decltype(b.TapSum(id, labels, value)) {
  return b.TapSum(id, labels, value);
}
template <class B>
void TapSumOf(B&, MetricsBuilder::FamilyId, const std::vector<Label>&, double, long) {}

// The cluster as the collectors see it, advanced one cycle at a time.
class Layout {
 public:
  explicit Layout(const Args& a) : a_(a) {
    for (int t = 0; t < a.topics; ++t) names_.push_back(TopicName(t));
    high_.assign(static_cast<size_t>(a.topics) * static_cast<size_t>(a.partitions), 0);
    for (int t = 0; t < a.topics; ++t)
      for (int p = 0; p < a.partitions; ++p) High(t, p) = Messages(t, p);
    for (int g = 0; g < a.groups; ++g) {
      std::vector<int> ts;
      for (int j = 0; j < a.per_group; ++j) ts.push_back((g * a.per_group + j) % a.topics);
      std::sort(ts.begin(), ts.end());  // committed offsets come by topic name
      ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
      group_topics_.push_back(std::move(ts));
    }
  }

  int64_t& High(int t, int p) {
    return high_[static_cast<size_t>(t) * static_cast<size_t>(a_.partitions) + p];
  }

  // One message to every partition (bench/run.sh's touch between cycles).
  void Touch() {
    for (auto& h : high_) ++h;
  }

  ClusterView View() const {
    ClusterView v;
    for (int b = 1; b <= 3; ++b) v.metadata.brokers.push_back({b, "broker-" + std::to_string(b), 9092});
    v.metadata.controller_id = 1;
    v.metadata.cluster_id = "eval-bench";
    for (int t = 0; t < a_.topics; ++t) {
      TopicMetadata tm;
      tm.name = names_[static_cast<size_t>(t)];
      for (int p = 0; p < a_.partitions; ++p) {
        PartitionMetadata pm;
        pm.id = p;
        pm.leader = 1 + (t + p) % 3;
        pm.replicas = {pm.leader};
        pm.isr = {pm.leader};
        tm.partitions.push_back(std::move(pm));
      }
      v.metadata.topics.push_back(std::move(tm));
      v.topic_configs[names_[static_cast<size_t>(t)]] = {{"min.insync.replicas", "1"}};
    }
    return v;
  }

  GroupsObservation Observe(std::chrono::steady_clock::time_point now) {
    GroupsObservation obs;
    obs.now = now;
    auto wm = std::make_shared<WatermarkSnapshot>();
    wm->started = now - std::chrono::milliseconds(50);
    wm->finished = now;
    wm->wall = std::chrono::system_clock::now();
    for (int t = 0; t < a_.topics; ++t) {
      const std::string& name = names_[static_cast<size_t>(t)];
      wm->partitions_per_topic[name] = a_.partitions;
      for (int p = 0; p < a_.partitions; ++p) {
        const int64_t high = High(t, p);
        // Lost to retention: everything but the last 2 messages.
        wm->partitions[{name, p}] = {high, LostToRetention(t) ? std::max<int64_t>(0, high - 2) : 0};
      }
    }
    wm->requested = high_.size();
    obs.watermarks = wm;
    const bool healthy = a_.scenario == "healthy";
    for (int g = 0; g < a_.groups; ++g) {
      GroupDescription d;
      d.name = GroupName(g);
      d.protocol_type = "consumer";
      d.coordinator = 1 + g % 3;
      GroupOffsets o;
      o.group = d.name;
      GroupMember m;
      if (healthy) {
        d.state = "Stable";
        d.protocol = "range";
        m.member_id = d.name + "-member-1";
        m.client_id = d.name;
        m.client_host = "/10.0.0.1";
      } else {
        d.state = "Empty";
      }
      for (int t : group_topics_[static_cast<size_t>(g)]) {
        o.topics.push_back(names_[static_cast<size_t>(t)]);
        for (int p = 0; p < a_.partitions; ++p) {
          // Healthy: committed 2 behind the end every cycle (its offset moves).
          const int64_t c = healthy ? High(t, p) - 2 : Committed(g, t, p);
          o.committed.push_back({static_cast<uint32_t>(o.topics.size() - 1), p, c});
          if (healthy) m.assignment.push_back({names_[static_cast<size_t>(t)], p});
        }
      }
      if (healthy) d.members.push_back(std::move(m));
      obs.listing.groups.push_back(std::move(d));
      obs.offsets.push_back(std::move(o));
    }
    return obs;
  }

 private:
  Args a_;
  std::vector<std::string> names_;
  std::vector<int64_t> high_;
  std::vector<std::vector<int>> group_topics_;
};

struct Phase {
  std::vector<double> cpu, wall;
  void Add(std::pair<double, double> ms) {
    cpu.push_back(ms.first);
    wall.push_back(ms.second);
  }
  json Json() const { return {{"cpu_ms", Median(cpu)}, {"wall_ms", Median(wall)}, {"n", cpu.size()}}; }
};

// A tapped sample's labels as (name, value) strings, whichever form the
// revision's builder keeps them in (one encoded string since it has Decode).
template <class T>
std::vector<std::pair<std::string, std::string>> LabelsOf(const T& t) {
  if constexpr (std::is_same_v<decltype(t.labels), std::string>) {
    return t.Decode();
  } else {
    return {t.labels.begin(), t.labels.end()};
  }
}

// The tapped families' samples of one render, to add again the way the
// render adds them: family by family, labels viewing strings that outlive
// the builder.
struct Captured {
  std::map<std::string, std::vector<std::vector<std::pair<std::string, std::string>>>> decoded;
  std::map<std::string, std::vector<double>> values;
  std::vector<std::pair<const metrics::FamilyDef*, std::vector<std::vector<Label>>>> labels;
  explicit Captured(const std::map<std::string, std::vector<MetricsBuilder::TappedSample>>& samples) {
    for (const auto& [family, list] : samples) {
      const size_t i = metrics::IndexOf(family);
      if (i >= metrics::kCatalogueSize) continue;
      auto& d = decoded[family];
      auto& vals = values[family];  // a family may have no sample (healthy: no partition status)
      for (const auto& t : list) {
        d.push_back(LabelsOf(t));
        vals.push_back(t.value);
      }
      labels.emplace_back(&metrics::kCatalogue[i], std::vector<std::vector<Label>>{});
      for (const auto& sample : d) {
        auto& l = labels.back().second.emplace_back();
        for (const auto& [k, v] : sample) l.emplace_back(k, v);
      }
    }
  }
  // Per family, its samples summed over `partition`, in the order of each
  // sum's first sample: what consumer_groups computes as it renders.
  std::map<std::string, std::vector<std::pair<std::vector<Label>, double>>> sums;
  void MakeSums() {
    for (const auto& [family, list] : decoded) {
      auto& out = sums[family];
      std::map<std::vector<std::pair<std::string, std::string>>, size_t> at;
      for (size_t i = 0; i < list.size(); ++i) {
        std::vector<std::pair<std::string, std::string>> key;
        std::vector<Label> kept;
        for (const auto& l : list[i]) {
          if (l.first == "partition") continue;
          key.push_back(l);
          kept.emplace_back(l.first, l.second);
        }
        auto [it, fresh] = at.emplace(key, out.size());
        if (fresh) out.emplace_back(std::move(kept), 0.0);
        out[it->second].second += values.at(family)[i];
      }
    }
  }
  size_t size() const {
    size_t n = 0;
    for (const auto& [family, list] : values) n += list.size();
    return n;
  }
  // {CPU, wall} ms of adding every sample (and TakeParts), tapped for `sink` or not.
  std::pair<double, double> Replay(const alerting::InputSink* sink) const {
    MetricsBuilder b;
    if (sink != nullptr) StartTap(b, *sink);
    Timer t;
    for (const auto& [def, list] : labels) {
      const std::string name(def->name);
      const auto id = b.Family(*def);
      const bool by_sums = sink != nullptr &&
                           (name == "kafka_consumergroup_partition_status" ||
                            name == "kafka_consumergroup_expired_messages") &&
                           SumsInstead(b, id, 0);
      const auto& v = values.at(name);
      for (size_t i = 0; i < list.size(); ++i) b.Add(id, list[i], v[i]);
      if (by_sums)
        for (const auto& [sum_labels, value] : sums.at(name)) TapSumOf(b, id, sum_labels, value, 0);
    }
    const auto parts = b.TakeParts();
    return t.Ms();  // before the builder (and what it tapped) is freed: the hand-over frees that
  }
};

int Run(const Args& a) {
  Layout layout(a);
  SnapshotStore store;
  // The evaluator's clock: the simulated cycle's time, so `for` elapses.
  const auto t0 = std::chrono::system_clock::now();
  alerting::SysTime sim_now = t0;
  alerting::Evaluator evaluator(AlertingConfig{}, &store, [&sim_now] { return sim_now; });

  ConsumerGroupsCollectorConfig gc;  // defaults (status window 10), --granularity aside
  if (!a.granularity.empty()) gc.granularity = a.granularity;
  ConsumerGroupsCollector tapped(gc, Millis(60000), nullptr, nullptr, nullptr);
  ConsumerGroupsCollector untapped(gc, Millis(60000), nullptr, nullptr, nullptr);
  ClusterHealthState health_tapped, health_untapped;
  const ClusterView view = layout.View();
  const auto steady0 = std::chrono::steady_clock::now();

  std::map<std::string, Phase> ph;
  std::vector<double> tap_diff, render_diff;
  std::unique_ptr<Captured> captured;
  size_t series = 0, alerts = 0, firing = 0, body_bytes = 0;
  std::map<std::string, size_t> handed_over;  // samples per family
  for (int cycle = 1; cycle <= a.warmup + a.cycles; ++cycle) {
    const bool measured = cycle > a.warmup;
    layout.Touch();
    const auto now = steady0 + std::chrono::seconds(static_cast<int64_t>(a.interval_s) * cycle);
    sim_now = t0 + std::chrono::seconds(static_cast<int64_t>(a.interval_s) * cycle);
    const GroupsObservation obs = layout.Observe(now);

    // consumer_groups: untapped and tapped renders, alternating which goes first.
    alerting::RunInputs run;
    run.collector = "consumer_groups";
    run.published = true;
    run.success = true;
    for (int k = 0; k < 2; ++k) {
      const bool with_tap = (k == 0) == (cycle % 2 == 0);
      MetricsBuilder out;
      if (with_tap) {
        StartTap(out, evaluator);
        Timer t;
        tapped.Render(obs, out);
        const auto parts = out.TakeParts();
        if (measured) ph["render_tapped"].Add(t.Ms());
        series = out.series();
        Timer h;
        HandOverOf(out, &run, 0);
        if (measured) ph["handover"].Add(h.Ms());
      } else {
        // The last warm-up cycle's samples of the tapped families, as they
        // are rendered (a plain tap of every sample), for the replays.
        const bool capture = cycle == a.warmup;
        if (capture) out.Tap(&evaluator.TappedFamilies());
        Timer t;
        untapped.Render(obs, out);
        const auto parts = out.TakeParts();
        if (measured) ph["render_untapped"].Add(t.Ms());
        body_bytes = 0;
        for (const auto& part : parts) body_bytes += part.size();
        if (capture) {
          captured = std::make_unique<Captured>(out.TakeTapped());
          captured->MakeSums();
        }
      }
    }
    if (measured) render_diff.push_back(ph["render_tapped"].cpu.back() - ph["render_untapped"].cpu.back());
    handed_over = HandedOver(run, evaluator.TappedFamilies());
    {
      Timer t;
      evaluator.OnRun(std::move(run));
      if (measured) ph["onrun"].Add(t.Ms());
    }

    // The tap alone, on the captured samples.
    if (measured && captured) {
      Phase with, without;
      for (int r = 0; r < 6; ++r) {
        const bool t = (r % 4 == 1 || r % 4 == 2) == (cycle % 2 == 0);
        (t ? with : without).Add(captured->Replay(t ? &evaluator : nullptr));
      }
      ph["replay_tapped"].Add({Median(with.cpu), Median(with.wall)});
      ph["replay_untapped"].Add({Median(without.cpu), Median(without.wall)});
      tap_diff.push_back(Median(with.cpu) - Median(without.cpu));
    }

    // A run with no tapped samples: evaluation alone.
    {
      alerting::RunInputs other;
      other.collector = "offsets";
      other.published = true;
      other.success = true;
      Timer t;
      evaluator.OnRun(std::move(other));
      if (measured) ph["onrun_eval_only"].Add(t.Ms());
    }

    // cluster, as when its view changed (it keeps its text otherwise).
    for (int k = 0; k < 2; ++k) {
      const bool with_tap = (k == 0) == (cycle % 2 == 0);
      MetricsBuilder out;
      if (with_tap) {
        StartTap(out, evaluator);
        Timer t;
        RenderClusterView(view, now, &health_tapped, out);
        const auto parts = out.TakeParts();
        if (measured) ph["cluster_render_tapped"].Add(t.Ms());
        alerting::RunInputs crun;
        crun.collector = "cluster";
        crun.published = true;
        crun.success = true;
        Timer h;
        HandOverOf(out, &crun, 0);
        if (measured) ph["cluster_handover"].Add(h.Ms());
        Timer e;
        evaluator.OnRun(std::move(crun));
        if (measured) ph["cluster_onrun"].Add(e.Ms());
      } else {
        Timer t;
        RenderClusterView(view, now, &health_untapped, out);
        const auto parts = out.TakeParts();
        if (measured) ph["cluster_render_untapped"].Add(t.Ms());
      }
    }

    const auto snap = evaluator.Current();
    alerts = snap->alerts.size();
    firing = static_cast<size_t>(std::count_if(snap->alerts.begin(), snap->alerts.end(), [](const auto& al) {
      return al.state == alerting::AlertState::kFiring;
    }));
    std::fprintf(stderr, "cycle %2d%s: series %zu, alerts %zu (firing %zu)", cycle,
                 measured ? "" : " (warm-up)", series, alerts, firing);
    if (measured)
      std::fprintf(stderr,
                   ", render %.1f / tapped %.1f, tap %.1f, hand-over %.1f, OnRun %.1f, eval only %.1f ms CPU",
                   ph["render_untapped"].cpu.back(), ph["render_tapped"].cpu.back(), tap_diff.back(),
                   ph["handover"].cpu.back(), ph["onrun"].cpu.back(), ph["onrun_eval_only"].cpu.back());
    std::fprintf(stderr, "\n");
  }

  // Medians and the derived costs.
  auto med = [&](const char* k) { return Median(ph[k].cpu); };
  const double tap = Median(tap_diff);
  const double per_publish = tap + med("handover") + med("onrun");
  // A steady cycle of the four Kafka collectors: the consumer_groups publish,
  // and three publishes that hand over nothing (offsets, broker_stats, and a
  // cluster run that kept its unchanged text).
  const double per_cycle = per_publish + 3 * med("onrun_eval_only");
  std::vector<double> ctap;
  for (size_t i = 0; i < ph["cluster_render_tapped"].cpu.size(); ++i)
    ctap.push_back(ph["cluster_render_tapped"].cpu[i] - ph["cluster_render_untapped"].cpu[i]);
  const double cluster_publish = Median(ctap) + med("cluster_handover") + med("cluster_onrun");

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  json res = {{"scenario", a.scenario},
              {"granularity", gc.granularity},
              {"body_bytes", body_bytes},
              {"layout",
               {{"topics", a.topics},
                {"partitions", a.topics * a.partitions},
                {"groups", a.groups},
                {"topics_per_group", a.per_group},
                {"group_partitions", a.groups * a.per_group * a.partitions}}},
              {"warmup", a.warmup},
              {"cycles", a.cycles},
              {"interval_s", a.interval_s},
              {"series", series},
              {"alerts", alerts},
              {"firing", firing},
              {"tapped_samples", captured ? captured->size() : 0},
              {"handed_over", handed_over},
              {"tap_cpu_ms", tap},
              {"render_diff_cpu_ms", Median(render_diff)},
              {"cluster_tap_cpu_ms", Median(ctap)},
              {"per_publish_cpu_ms", per_publish},
              {"per_cycle_cpu_ms", per_cycle},
              {"cluster_publish_cpu_ms", cluster_publish},
              {"peak_rss_mb", static_cast<double>(ru.ru_maxrss) / 1024.0}};
  for (const auto& [k, p] : ph) res["phases"][k] = p.Json();
  std::printf(
      "%s, granularity %s: series %zu (%zu bytes), alerts %zu (firing %zu); medians over %d cycles, "
      "CPU ms:\n",
      a.scenario.c_str(), gc.granularity.c_str(), series, body_bytes, alerts, firing, a.cycles);
  std::printf("  render untapped %.1f, tapped %.1f (difference %.1f, within the noise)\n",
              med("render_untapped"), med("render_tapped"), Median(render_diff));
  std::printf("  tap of %zu samples (replayed) %.1f\n", captured ? captured->size() : 0, tap);
  std::printf("  hand-over %.1f, OnRun %.1f: per consumer_groups publish %.1f\n", med("handover"),
              med("onrun"), per_publish);
  std::printf("  OnRun without samples %.1f: per cycle of 4 publishes %.1f\n", med("onrun_eval_only"),
              per_cycle);
  std::printf("  cluster publish (view changed): tap %.1f, hand-over %.1f, OnRun %.1f\n", Median(ctap),
              med("cluster_handover"), med("cluster_onrun"));
  std::printf("RESULT %s\n", res.dump().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--topics")
      a.topics = std::atoi(v.c_str());
    else if (k == "--partitions")
      a.partitions = std::atoi(v.c_str());
    else if (k == "--groups")
      a.groups = std::atoi(v.c_str());
    else if (k == "--topics-per-group")
      a.per_group = std::atoi(v.c_str());
    else if (k == "--scenario")
      a.scenario = v;
    else if (k == "--granularity")
      a.granularity = v;
    else if (k == "--warmup")
      a.warmup = std::atoi(v.c_str());
    else if (k == "--cycles")
      a.cycles = std::atoi(v.c_str());
    else if (k == "--interval-s")
      a.interval_s = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "unknown argument %s\n", k.c_str());
      return 2;
    }
  }
  if (argc % 2 == 0 || (a.scenario != "stopped" && a.scenario != "healthy") || a.cycles < 1 || a.warmup < 1) {
    std::fprintf(stderr,
                 "usage: eval_bench [--topics N] [--partitions N] [--groups N] [--topics-per-group N] "
                 "[--scenario stopped|healthy] [--granularity mixed|partition|topic] [--warmup N] [--cycles "
                 "N] [--interval-s S]\n");
    return 2;
  }
  // As the daemon's main() does (exporter/src/main.cpp).
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 1 << 20);
  dora::SetupLogging("warn", "text");
  return Run(a);
}
