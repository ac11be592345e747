#include "collectors/cluster.h"

#include <algorithm>
#include <future>

#include "collectors/conformance.h"
#include "metrics/catalogue.h"
#include "util/log.h"

namespace dora {
namespace {

int MinIsr(const ClusterView& view, const std::string& topic) {
  auto it = view.topic_configs.find(topic);
  if (it == view.topic_configs.end()) return -1;
  auto v = it->second.find("min.insync.replicas");
  if (v == it->second.end()) return -1;
  try {
    return std::stoi(v->second);
  } catch (...) {
    return -1;
  }
}

std::string ConfigOr(const ClusterView& view, const std::string& topic, const std::string& key) {
  auto it = view.topic_configs.find(topic);
  if (it == view.topic_configs.end()) return "";
  auto v = it->second.find(key);
  return v == it->second.end() ? "" : v->second;
}

}  // namespace

void RenderClusterView(const ClusterView& view, std::chrono::steady_clock::time_point now,
                       ClusterHealthState* state, MetricsBuilder& out) {
  const auto& md = view.metadata;
  auto brokers = out.Family(DORA_METRIC("kafka_brokers"));
  auto broker_info = out.Family(DORA_METRIC("kafka_broker_info"));
  auto partitions = out.Family(DORA_METRIC("kafka_topic_partitions"));
  auto leader = out.Family(DORA_METRIC("kafka_topic_partition_leader"));
  auto replicas = out.Family(DORA_METRIC("kafka_topic_partition_replicas"));
  auto isr = out.Family(DORA_METRIC("kafka_topic_partition_in_sync_replica"));
  auto preferred = out.Family(DORA_METRIC("kafka_topic_partition_leader_is_preferred"));
  auto urp = out.Family(DORA_METRIC("kafka_topic_partition_under_replicated_partition"));
  auto offline = out.Family(DORA_METRIC("kafka_topic_partition_offline"));
  auto atmin = out.Family(DORA_METRIC("kafka_cluster_partition_atminisr"));
  auto undermin = out.Family(DORA_METRIC("kafka_cluster_partition_underminisr"));
  auto urp_duration = out.Family(DORA_METRIC("kafka_topic_partition_under_replicated_duration_seconds"));
  auto t_urp = out.Family(DORA_METRIC("kafka_topic_under_replicated_partitions"));
  auto t_off = out.Family(DORA_METRIC("kafka_topic_offline_partitions"));
  auto t_at = out.Family(DORA_METRIC("kafka_topic_at_min_isr_partitions"));
  auto t_under = out.Family(DORA_METRIC("kafka_topic_under_min_isr_partitions"));
  auto c_urp = out.Family(DORA_METRIC("kafka_cluster_under_replicated_partitions"));
  auto c_off = out.Family(DORA_METRIC("kafka_cluster_offline_partitions"));
  auto c_at = out.Family(DORA_METRIC("kafka_cluster_at_min_isr_partitions"));
  auto c_under = out.Family(DORA_METRIC("kafka_cluster_under_min_isr_partitions"));
  auto b_leaders = out.Family(DORA_METRIC("kafka_broker_leader_partitions"));
  auto b_imbalance = out.Family(DORA_METRIC("kafka_broker_preferred_leader_imbalance"));
  auto info = out.Family(DORA_METRIC("kafka_topic_info"));
  auto shrinks = out.Family(DORA_METRIC("kafka_cluster_isr_shrinks_total"));
  auto expands = out.Family(DORA_METRIC("kafka_cluster_isr_expands_total"));

  out.Add(brokers, {}, static_cast<double>(md.brokers.size()));
  std::map<int32_t, int> leads, imbalance;
  const std::string no_rack;
  for (const auto& b : md.brokers) {
    const std::string id = std::to_string(b.id);
    const std::string address = b.address();
    auto rack_it = view.broker_racks.find(b.id);
    const std::string& rack = rack_it == view.broker_racks.end() ? no_rack : rack_it->second;
    out.Add(broker_info, {{"id", id}, {"address", address}, {"rack", rack}}, 1);
    leads[b.id] = 0;
    imbalance[b.id] = 0;
  }

  {
    // Capacity for the per-partition families, as in offsets: at 20k
    // partitions a doubling string holds up to twice its text.
    size_t n = 0, label_bytes = 0;
    for (const auto& t : md.topics) {
      n += t.partitions.size();
      label_bytes += t.partitions.size() * t.name.size();
    }
    for (auto f : {leader, replicas, isr, preferred, urp, offline, atmin, undermin, urp_duration})
      out.Reserve(f, n, n * 96 + label_bytes);
  }
  int c_urp_n = 0, c_off_n = 0, c_at_n = 0, c_under_n = 0;
  using Memory = ClusterHealthState::PartitionMemory;
  decltype(state->topics) next;
  next.reserve(md.topics.size());
  std::string pbuf;
  for (const auto& t : md.topics) {
    if (t.error != 0 && t.partitions.empty()) continue;
    const std::string& topic = t.name;
    const auto prev_it = state->topics.find(topic);
    const std::vector<Memory>* prev = prev_it == state->topics.end() ? nullptr : &prev_it->second;
    std::vector<Memory> memory;
    // Partitions come sorted by id, ids from 0.
    if (!t.partitions.empty() && t.partitions.back().id >= 0)
      memory.resize(static_cast<size_t>(t.partitions.back().id) + 1);
    int min_isr = MinIsr(view, topic);
    out.Add(partitions, {{"topic", topic}}, static_cast<double>(t.partitions.size()));
    int t_urp_n = 0, t_off_n = 0, t_at_n = 0, t_under_n = 0;
    size_t rf = 0;
    for (const auto& p : t.partitions) {
      pbuf = std::to_string(p.id);
      std::initializer_list<Label> labels = {{"topic", topic}, {"partition", pbuf}};
      rf = std::max(rf, p.replicas.size());
      bool is_offline = p.leader < 0;
      bool is_urp = p.isr.size() < p.replicas.size();
      bool is_preferred = !p.replicas.empty() && p.leader == p.replicas.front();
      out.Add(leader, labels, p.leader);
      out.Add(replicas, labels, static_cast<double>(p.replicas.size()));
      out.Add(isr, labels, static_cast<double>(p.isr.size()));
      out.Add(preferred, labels, is_preferred ? 1 : 0);
      out.Add(urp, labels, is_urp ? 1 : 0);
      out.Add(offline, labels, is_offline ? 1 : 0);
      if (min_isr > 0) {
        bool at = static_cast<int>(p.isr.size()) == min_isr;
        bool under = static_cast<int>(p.isr.size()) < min_isr;
        out.Add(atmin, labels, at ? 1 : 0);
        out.Add(undermin, labels, under ? 1 : 0);
        t_at_n += at;
        t_under_n += under;
      }
      t_urp_n += is_urp;
      t_off_n += is_offline;
      if (p.leader >= 0) leads[p.leader]++;
      if (!p.replicas.empty() && !is_preferred) imbalance[p.replicas.front()]++;

      Memory mem;
      mem.known = true;
      mem.isr_size = static_cast<uint32_t>(p.isr.size());
      mem.under_replicated = is_urp;
      const auto idx = static_cast<size_t>(p.id);
      const Memory* before =
          p.id >= 0 && prev && idx < prev->size() && (*prev)[idx].known ? &(*prev)[idx] : nullptr;
      if (before) {
        if (mem.isr_size < before->isr_size) state->isr_shrinks += before->isr_size - mem.isr_size;
        if (mem.isr_size > before->isr_size) state->isr_expands += mem.isr_size - before->isr_size;
        mem.under_since = before->under_replicated ? before->under_since : now;
      } else {
        mem.under_since = now;
      }
      double urp_seconds = is_urp ? std::chrono::duration<double>(now - mem.under_since).count() : 0.0;
      out.Add(urp_duration, labels, urp_seconds);
      if (p.id >= 0 && idx < memory.size()) memory[idx] = mem;
    }
    next.emplace(topic, std::move(memory));
    out.Add(t_urp, {{"topic", topic}}, t_urp_n);
    out.Add(t_off, {{"topic", topic}}, t_off_n);
    if (min_isr > 0) {
      out.Add(t_at, {{"topic", topic}}, t_at_n);
      out.Add(t_under, {{"topic", topic}}, t_under_n);
    }
    c_urp_n += t_urp_n;
    c_off_n += t_off_n;
    c_at_n += t_at_n;
    c_under_n += t_under_n;
    std::string parts = std::to_string(t.partitions.size());
    std::string rfs = std::to_string(rf);
    std::string cleanup = ConfigOr(view, topic, "cleanup.policy");
    std::string retention = ConfigOr(view, topic, "retention.ms");
    std::string minisr = min_isr > 0 ? std::to_string(min_isr) : "";
    out.Add(info,
            {{"topic", topic},
             {"partitions", parts},
             {"replication_factor", rfs},
             {"cleanup_policy", cleanup},
             {"retention_ms", retention},
             {"min_insync_replicas", minisr}},
            1);
  }
  // Deleted topics and partitions leave the memory with the metadata.
  state->topics = std::move(next);

  state->under_replicated = c_urp_n;
  out.Add(c_urp, {}, c_urp_n);
  out.Add(c_off, {}, c_off_n);
  out.Add(c_at, {}, c_at_n);
  out.Add(c_under, {}, c_under_n);
  std::string broker;
  for (const auto& [id, n] : leads) {
    broker = std::to_string(id);
    out.Add(b_leaders, {{"broker", broker}}, n);
  }
  for (const auto& [id, n] : imbalance) {
    broker = std::to_string(id);
    out.Add(b_imbalance, {{"broker", broker}}, n);
  }
  out.Add(shrinks, {}, static_cast<double>(state->isr_shrinks));
  out.Add(expands, {}, static_cast<double>(state->isr_expands));
}

ClusterCollector::ClusterCollector(ClusterCollectorConfig config, std::shared_ptr<KafkaApi> kafka,
                                   std::shared_ptr<ClusterState> state)
    : config_(std::move(config)), kafka_(std::move(kafka)), state_(std::move(state)) {
  if (!config_.expected_topics_file.empty()) {
    ConfigErrors errors;  // validated with the config; a file changed since is reported here
    TopicsSpec spec = LoadTopicsSpec(config_.expected_topics_file, &errors);
    if (errors.empty()) {
      expected_topics_ = std::move(spec);
    } else {
      GetLogger("collector.cluster")->error("topic conformance disabled: {}", errors.Joined());
    }
  }
}

void ClusterCollector::RefreshConfigs(const CollectContext& ctx, const ClusterMetadata& md) {
  auto now = std::chrono::steady_clock::now();
  std::vector<std::string> wanted;
  bool full = !refreshed_once_ || now - last_refresh_ >= config_.config_refresh_interval;
  for (const auto& t : md.topics) {
    if (full || topic_configs_.count(t.name) == 0) wanted.push_back(t.name);
  }
  auto log = GetLogger("collector.cluster");
  if (!wanted.empty() && ctx.remaining().count() > 0) {
    auto res = kafka_->DescribeTopicConfigs(wanted, ctx.remaining());
    if (res.ok()) {
      // Only the keys the exporter reads (kafka_topic_info, min-ISR, conformance):
      // a topic has ~40 configs, and the view copies these maps every run.
      static const char* const kKept[] = {"cleanup.policy", "min.insync.replicas", "retention.ms"};
      for (auto& [topic, values] : res.value()) {
        ConfigValues kept;
        for (const char* key : kKept) {
          auto it = values.find(key);
          if (it != values.end()) kept.emplace(key, std::move(it->second));
        }
        topic_configs_[topic] = std::move(kept);
      }
    } else {
      log->debug("topic config refresh failed, keeping previous values: {}", res.status().message);
      full = false;  // try again next run
    }
  }
  if (full) {
    // One DescribeConfigs per broker, all at once, each bounded by a quarter of
    // the budget (at least 1 s): a broker that was just killed stays in the
    // metadata until the controller fences it, and asked in turn with the whole
    // budget it held every run of a refresh (and the alerts fed by this
    // collector) for the collector's timeout. Its rack keeps its last value.
    const Millis cap = std::min(ctx.remaining(), std::max(Millis(1000), config_.timeout / 4));
    std::vector<std::pair<int32_t, std::future<Result<ConfigValues>>>> calls;
    if (cap.count() > 0) {
      for (const auto& b : md.brokers)
        calls.emplace_back(b.id, std::async(std::launch::async, [this, id = b.id, cap] {
                             return kafka_->DescribeBrokerConfig(id, cap);
                           }));
    }
    for (auto& [id, call] : calls) {
      auto res = call.get();
      if (!res.ok()) continue;  // rack is optional (needs DESCRIBE_CONFIGS on Cluster)
      auto it = res.value().find("broker.rack");
      racks_[id] = it == res.value().end() ? "" : it->second;
    }
    last_refresh_ = now;
    refreshed_once_ = true;
  }
  // Forget deleted topics, so a recreated one starts from fresh configs.
  std::set<std::string> live;
  for (const auto& t : md.topics) live.insert(t.name);
  for (auto it = topic_configs_.begin(); it != topic_configs_.end();) {
    it = live.count(it->first) ? std::next(it) : topic_configs_.erase(it);
  }
}

Status ClusterCollector::Collect(const CollectContext& ctx, MetricsBuilder& out) {
  auto md = kafka_->Metadata(ctx.remaining());
  if (!md.ok()) {
    served_.reset();  // the runner drops this collector's text
    return md.status();
  }
  RefreshConfigs(ctx, md.value());
  auto view = std::make_shared<ClusterView>();
  view->metadata = std::move(md.value());
  view->topic_configs = topic_configs_;
  view->broker_racks = racks_;
  view->fetched_at = std::chrono::steady_clock::now();
  // The controller id is a live series, rendered every run: a KRaft broker
  // answers Metadata with a random live broker as the controller.
  MetricsBuilder& live = out.Live();
  live.Add(live.Family(DORA_METRIC("kafka_cluster_controller_id")), {}, view->metadata.controller_id);
  // Metadata and configs as in the previous run, nothing under-replicated
  // (those durations grow with time): the rest of the text (every series, the
  // ISR counters and conformance) would come out the same (at 20,000
  // partitions ~60 ms of CPU and ~20 MB built per run), so the served one
  // stays, with its gzip. The health memory stays valid too. This is the one
  // place that decides it: the runner only carries it out.
  const ClusterMetadata& now_md = view->metadata;
  const auto& served = served_;
  if (served && health_.under_replicated == 0 && now_md.topics == served->metadata.topics &&
      now_md.brokers == served->metadata.brokers && now_md.cluster_id == served->metadata.cluster_id &&
      view->topic_configs == served->topic_configs && view->broker_racks == served->broker_racks) {
    out.KeepPublished();
  } else {
    RenderClusterView(*view, view->fetched_at, &health_, out);
    if (expected_topics_) RenderConformance(*expected_topics_, *view, out);
    // From the config, so constant while this collector lives: the kept text holds it too.
    if (config_.expected_brokers > 0)
      out.Add(out.Family(DORA_METRIC("kafka_brokers_expected")), {}, config_.expected_brokers);
  }
  served_ = view;
  state_->Set(std::move(view));
  return Status::Ok();
}

}  // namespace dora
