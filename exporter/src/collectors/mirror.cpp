#include "collectors/mirror.h"

#include <atomic>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <thread>
#include <vector>

#include "collectors/mirror/records.h"
#include "collectors/mirror/state.h"
#include "kafka/mirror_reader.h"
#include "kafka/probe_transport.h"
#include "metrics/catalogue.h"
#include "util/log.h"

namespace dora {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowMs(const CollectContext& ctx) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(ctx.wall_now.time_since_epoch()).count();
}

// MM2's own DefaultTopicFilter leaves these out whatever its topics list says:
// internal topics ("__*"), MM2's ".internal"/"-internal" topics and ".replica".
bool NeverReplicated(const std::string& name) {
  auto ends = [&](const char* suffix) {
    const std::string s(suffix);
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return name.rfind("__", 0) == 0 || ends(".internal") || ends("-internal") || ends(".replica");
}

bool Matches(const std::vector<std::regex>& inc, const std::vector<std::regex>& exc,
             const std::string& name) {
  if (NeverReplicated(name)) return false;
  bool in = false;
  for (const auto& r : inc) in = in || std::regex_match(name, r);
  if (!in) return false;
  for (const auto& r : exc) {
    if (std::regex_match(name, r)) return false;
  }
  return true;
}

}  // namespace

namespace mirror {

// One cluster of the flows: its config, its shared client (the daemon's for
// kafka:, one of its own for the peer, made on first use) and a reader for
// MM2's internal topics, with the next offset to read of each partition.
struct Side {
  KafkaConfig config;
  std::shared_ptr<KafkaApi> api;
  std::unique_ptr<MirrorReader> reader;
  std::map<TopicPartition, int64_t> next;  // assigned internal partitions
  std::map<std::string, int> topics;       // partition counts, from this run's Metadata

  Status Open(const char* role) {
    if (!api) {
      auto a = ConnectKafka(config);
      if (!a.ok()) return a.status();
      api = std::move(a.value());
    }
    if (!reader) {
      auto r = MirrorReader::Create(config, role);
      if (!r.ok()) return r.status();
      reader = std::move(r.value());
    }
    return Status::Ok();
  }
};

// A flow's latency probe: a producer on the source and a reader on the
// target, driven by one thread; the ledger is what the collector renders.
struct Probe {
  std::shared_ptr<mirror::ProbeLedger> ledger = std::make_shared<mirror::ProbeLedger>();
  std::unique_ptr<ProbeProducer> producer;
  std::unique_ptr<MirrorReader> reader;
  std::atomic<bool> stop{false};
  std::atomic<bool> topic_ready{false};
  bool remote_assigned = false;  // collector thread only
  uint64_t instance = 0;
  std::thread thread;

  ~Probe() { Stop(); }
  void Stop() {
    stop = true;
    if (thread.joinable()) thread.join();
    producer.reset();
    reader.reset();
  }

  void Run(Millis every) {
    uint64_t seq = 0;
    auto next_send = Clock::now();
    while (!stop) {
      if (topic_ready && Clock::now() >= next_send) {
        ++seq;
        ledger->Sent(seq, Clock::now());
        if (!producer->Send(0, seq, mirror::ProbePayload(instance, seq)).ok) ledger->ProduceFailed(seq);
        next_send += every;
        if (next_send < Clock::now()) next_send = Clock::now() + every;
      }
      producer->Poll(Millis(0));
      auto r = reader->Poll(Millis(100));
      if (r && r->error.empty()) {
        if (auto s = mirror::ParseProbePayload(r->value, instance)) ledger->Seen(*s, Clock::now());
      }
    }
  }
};

struct Flow {
  MirrorFlow config;
  Side* source = nullptr;
  Side* target = nullptr;
  Side* syncs_side = nullptr;  // where the offset-syncs topic lives
  std::vector<std::regex> include, exclude;
  mirror::SyncStore syncs;
  mirror::CheckpointStore checkpoints;
  uint64_t undecodable = 0;
  std::unique_ptr<Probe> probe;
};

}  // namespace mirror

using mirror::Flow;
using mirror::Probe;
using mirror::Side;

struct MirrorCollector::Impl {
  MirrorCollectorConfig config;
  Side local;
  Side peer;
  std::vector<std::unique_ptr<Flow>> flows;
  std::shared_ptr<spdlog::logger> log = GetLogger("collector.mirror");

  ~Impl() {
    for (auto& f : flows) {
      if (f->probe) f->probe->Stop();
    }
  }

  // Reads each internal topic of `side` that `wanted` names up to the high
  // watermark this run found, handing every record to `dispatch`. False when
  // time ran out first.
  template <typename D>
  Result<bool> CatchUp(Side& side, const std::set<std::string>& wanted, const CollectContext& ctx,
                       D dispatch) {
    std::vector<PartitionOffset> starts;
    for (const auto& name : wanted) {
      auto it = side.topics.find(name);
      if (it == side.topics.end()) continue;
      for (int p = 0; p < it->second; ++p) {
        TopicPartition tp{name, p};
        if (side.next.count(tp) == 0) {
          side.next[tp] = 0;
          starts.push_back({tp, -2, 0});  // from the beginning: the topics are compacted
        }
      }
    }
    if (!starts.empty()) {
      // A partition whose records are all deleted has nothing to read below its log start.
      std::vector<TopicPartition> fresh;
      for (const auto& st : starts) fresh.push_back(st.tp);
      auto first = side.reader->Offsets(fresh, /*latest=*/false, ctx.remaining());
      if (!first.ok()) {
        for (const auto& tp : fresh) side.next.erase(tp);
        return first.status();
      }
      for (const auto& e : first.value()) {
        if (e.error == 0 && e.offset > 0) side.next[e.tp] = e.offset;
      }
    }
    if (Status s = side.reader->Assign(starts); !s.ok) {
      for (const auto& st : starts) side.next.erase(st.tp);
      return s;
    }
    std::vector<TopicPartition> tps;
    for (const auto& [tp, next] : side.next) {
      if (wanted.count(tp.topic)) tps.push_back(tp);
    }
    auto ends = side.reader->Offsets(tps, /*latest=*/true, ctx.remaining());
    if (!ends.ok()) return ends.status();
    std::map<TopicPartition, int64_t> end;
    for (const auto& e : ends.value()) {
      if (e.error == 0) end[e.tp] = e.offset;
    }
    auto behind = [&] {
      for (const auto& [tp, hw] : end) {
        if (side.next[tp] < hw) return true;
      }
      return false;
    };
    while (behind()) {
      if (ctx.expired()) return false;
      auto r = side.reader->Poll(std::min(Millis(200), ctx.remaining()));
      if (!r || !r->error.empty()) continue;
      auto& n = side.next[{r->topic, r->partition}];
      n = std::max(n, r->offset + 1);
      dispatch(*r);
    }
    return true;
  }

  Status EnsureProbe(Flow& f, const CollectContext& ctx) {
    if (f.config.probe_topic.empty()) return Status::Ok();
    if (!f.probe) {
      auto p = std::make_unique<Probe>();
      std::random_device rd;
      p->instance = (static_cast<uint64_t>(rd()) << 32) ^ rd();
      auto ledger = p->ledger;
      auto prod = ProbeProducer::Create(f.source->config, f.config.probe_topic, config.probe_timeout,
                                        [ledger](const ProbeDelivery& d) {
                                          if (!d.ok) ledger->ProduceFailed(d.seq);
                                        });
      if (!prod.ok()) return prod.status();
      p->producer = std::move(prod.value());
      auto rd2 = MirrorReader::Create(f.target->config, "probe");
      if (!rd2.ok()) return rd2.status();
      p->reader = std::move(rd2.value());
      Probe* raw = p.get();
      const Millis every = config.probe_interval;
      p->thread = std::thread([raw, every] {
        try {
          raw->Run(every);
        } catch (...) {
        }
      });
      f.probe = std::move(p);
    }
    Probe& p = *f.probe;
    if (!p.topic_ready) {
      if (f.source->topics.count(f.config.probe_topic) == 0) {
        // One partition, replicas on the first min(3, brokers) brokers, an hour of retention.
        auto md = f.source->api->Metadata(ctx.remaining());
        if (!md.ok()) return md.status();
        std::vector<int32_t> replicas;
        for (const auto& b : md.value().brokers) {
          if (replicas.size() < 3) replicas.push_back(b.id);
        }
        if (replicas.empty()) return Status::Error(Reason::kKafka, "no broker to place the probe topic on");
        Status s = f.source->api->CreateTopic(f.config.probe_topic, {replicas}, {{"retention.ms", "3600000"}},
                                              ctx.remaining());
        if (!s.ok) return s;
        log->info("created the mirror probe topic {} on {}", f.config.probe_topic, f.config.source);
      }
      p.topic_ready = true;
    }
    const std::string remote = mirror::RemoteTopic(f.config, f.config.probe_topic);
    if (!p.remote_assigned && f.target->topics.count(remote)) {
      // From the beginning: messages sent before MM2 created the topic count too;
      // other instances' messages are told apart by the payload.
      if (Status s = p.reader->Assign({{{remote, 0}, -2, 0}}); !s.ok) return s;
      p.remote_assigned = true;
    }
    p.ledger->Expire(Clock::now(), config.probe_timeout);
    return Status::Ok();
  }

  Status Run(const CollectContext& ctx, MetricsBuilder& out) {
    const int64_t now_ms = NowMs(ctx);
    // Metadata of both clusters first: a dead peer fails the run here.
    for (Side* s : {&local, &peer}) {
      if (Status st = s->Open(s == &local ? "local" : "peer"); !st.ok) return st;
      auto md = s->api->Metadata(ctx.remaining());
      if (!md.ok()) return md.status();
      s->topics.clear();
      for (const auto& t : md.value().topics) {
        if (t.error == 0 && !t.partitions.empty()) s->topics[t.name] = static_cast<int>(t.partitions.size());
      }
    }
    bool caught_up = true;
    // Offset syncs and checkpoints, per side, for every flow reading there.
    for (Side* s : {&local, &peer}) {
      std::map<std::string, std::vector<Flow*>> syncs_of, checkpoints_of;
      std::set<std::string> wanted;
      for (auto& f : flows) {
        if (f->syncs_side == s) {
          syncs_of[mirror::OffsetSyncsTopic(f->config)].push_back(f.get());
          wanted.insert(mirror::OffsetSyncsTopic(f->config));
        }
        if (f->target == s) {
          checkpoints_of[mirror::CheckpointsTopic(f->config)].push_back(f.get());
          wanted.insert(mirror::CheckpointsTopic(f->config));
        }
      }
      auto done = CatchUp(*s, wanted, ctx, [&](const MirrorRecord& r) {
        if (auto it = syncs_of.find(r.topic); it != syncs_of.end()) {
          auto d = mirror::DecodeOffsetSync(r.key, r.value);
          for (Flow* f : it->second) {
            if (d)
              f->syncs.Add(*d, r.timestamp_ms);
            else
              ++f->undecodable;
          }
        }
        if (auto it = checkpoints_of.find(r.topic); it != checkpoints_of.end()) {
          auto d = mirror::DecodeCheckpoint(r.key, r.value);
          for (Flow* f : it->second) {
            if (d)
              f->checkpoints.Add(*d, r.timestamp_ms);
            else
              ++f->undecodable;
          }
        }
      });
      if (!done.ok()) return done.status();
      caught_up = caught_up && done.value();
    }

    auto f_lag = out.Family(DORA_METRIC("kafka_mirror_partition_lag_messages"));
    auto f_sync_age = out.Family(DORA_METRIC("kafka_mirror_offset_sync_age_seconds"));
    auto f_offsets = out.Family(DORA_METRIC("kafka_mirror_topic_offset_sum"));
    auto f_cp_age = out.Family(DORA_METRIC("kafka_mirror_checkpoint_age_seconds"));
    auto f_reread = out.Family(DORA_METRIC("kafka_mirror_checkpoint_reread_messages"));
    auto f_undecodable = out.Family(DORA_METRIC("kafka_mirror_records_undecodable_total"));
    auto f_latency = out.Family(DORA_METRIC("kafka_mirror_latency_seconds"));
    auto f_sent = out.Family(DORA_METRIC("kafka_mirror_probe_messages_sent_total"));
    auto f_errors = out.Family(DORA_METRIC("kafka_mirror_probe_produce_errors_total"));
    auto f_missing = out.Family(DORA_METRIC("kafka_mirror_probe_messages_missing_total"));
    auto f_pending = out.Family(DORA_METRIC("kafka_mirror_probe_oldest_pending_seconds"));

    for (auto& fp : flows) {
      Flow& f = *fp;
      const std::string& src = f.config.source;
      const std::string& tgt = f.config.target;
      // The replicated topics: the source's topics the flow includes.
      std::vector<std::string> topics;
      for (const auto& [name, n] : f.source->topics) {
        if (Matches(f.include, f.exclude, name)) topics.push_back(name);
      }
      std::vector<TopicPartition> src_tps, tgt_tps;
      for (const auto& t : topics) {
        for (int p = 0; p < f.source->topics[t]; ++p) src_tps.push_back({t, p});
        const std::string remote = mirror::RemoteTopic(f.config, t);
        if (auto it = f.target->topics.find(remote); it != f.target->topics.end()) {
          for (int p = 0; p < it->second; ++p) tgt_tps.push_back({remote, p});
        }
      }
      auto src_hw = f.source->reader->Offsets(src_tps, true, ctx.remaining());
      if (!src_hw.ok()) return src_hw.status();
      auto tgt_hw = f.target->reader->Offsets(tgt_tps, true, ctx.remaining());
      if (!tgt_hw.ok()) return tgt_hw.status();
      std::map<std::string, double> src_sum, tgt_sum;
      for (const auto& e : src_hw.value()) {
        if (e.error != 0 || e.offset < 0) continue;
        src_sum[e.tp.topic] += static_cast<double>(e.offset);
        const auto* s = f.syncs.Latest(e.tp.topic, e.tp.partition);
        if (s == nullptr) continue;  // no sync yet: MM2 has not replicated it (or not since its start)
        const std::string part = std::to_string(e.tp.partition);
        const double lag = static_cast<double>(std::max<int64_t>(0, e.offset - 1 - s->upstream));
        out.Add(f_lag, {{"source", src}, {"target", tgt}, {"topic", e.tp.topic}, {"partition", part}}, lag);
        if (s->timestamp_ms >= 0)
          out.Add(f_sync_age, {{"source", src}, {"target", tgt}, {"topic", e.tp.topic}, {"partition", part}},
                  std::max(0.0, static_cast<double>(now_ms - s->timestamp_ms) / 1000.0));
      }
      for (const auto& e : tgt_hw.value()) {
        if (e.error != 0 || e.offset < 0) continue;
        if (auto up = mirror::UpstreamTopic(f.config, e.tp.topic))
          tgt_sum[*up] += static_cast<double>(e.offset);
      }
      for (const auto& [t, v] : src_sum)
        out.Add(f_offsets, {{"source", src}, {"target", tgt}, {"cluster", src}, {"topic", t}}, v);
      for (const auto& [t, v] : tgt_sum)
        out.Add(f_offsets, {{"source", src}, {"target", tgt}, {"cluster", tgt}, {"topic", t}}, v);

      // Checkpoints against the groups' committed offsets on the source now.
      std::vector<std::string> groups;
      for (const auto& [key, e] : f.checkpoints.entries()) {
        if (groups.empty() || groups.back() != std::get<0>(key)) groups.push_back(std::get<0>(key));
      }
      std::map<std::pair<std::string, TopicPartition>, int64_t> committed;
      if (!groups.empty()) {
        for (const auto& g : f.source->api->FetchCommittedOffsets(groups, 8, ctx.remaining())) {
          if (g.error != 0) continue;
          for (const auto& c : g.committed) committed[{g.group, {g.topic(c), c.partition}}] = c.offset;
        }
      }
      std::map<std::pair<std::string, std::string>, std::pair<double, double>>
          per_group_topic;  // age, reread
      for (const auto& [key, e] : f.checkpoints.entries()) {
        const auto& [group, remote, partition] = key;
        auto up = mirror::UpstreamTopic(f.config, remote);
        if (!up) continue;
        auto it = committed.find({group, {*up, partition}});
        if (it == committed.end()) continue;  // the group no longer commits this partition on the source
        auto& agg = per_group_topic[{group, *up}];
        const int64_t c = it->second;
        if (c != e.upstream && e.timestamp_ms >= 0)
          agg.first = std::max(agg.first, static_cast<double>(now_ms - e.timestamp_ms) / 1000.0);
        // The group would restart on the target at the checkpoint's
        // downstream offset; its position now, translated, is where it is.
        auto now_down = f.syncs.Translate(*up, partition, c);
        const int64_t reread = now_down ? *now_down - e.downstream : c - e.upstream;
        agg.second += static_cast<double>(std::max<int64_t>(0, reread));
      }
      for (const auto& [gt, v] : per_group_topic) {
        out.Add(f_cp_age, {{"source", src}, {"target", tgt}, {"group", gt.first}, {"topic", gt.second}},
                std::max(0.0, v.first));
        out.Add(f_reread, {{"source", src}, {"target", tgt}, {"group", gt.first}, {"topic", gt.second}},
                v.second);
      }
      out.Add(f_undecodable, {{"source", src}, {"target", tgt}}, static_cast<double>(f.undecodable));

      if (Status s = EnsureProbe(f, ctx); !s.ok) return s;
      if (f.probe) {
        const auto v = f.probe->ledger->Snapshot(Clock::now());
        out.AddHistogram(f_latency, {{"source", src}, {"target", tgt}}, f.probe->ledger->bounds(),
                         v.cumulative, v.sum, v.count);
        out.Add(f_sent, {{"source", src}, {"target", tgt}}, static_cast<double>(v.sent));
        out.Add(f_errors, {{"source", src}, {"target", tgt}}, static_cast<double>(v.produce_errors));
        out.Add(f_missing, {{"source", src}, {"target", tgt}}, static_cast<double>(v.missing));
        out.Add(f_pending, {{"source", src}, {"target", tgt}}, v.oldest_pending_seconds);
      }
    }
    if (!caught_up)
      return Status::Partial(Reason::kTimeout,
                             "MM2's internal topics not read to their end within the timeout");
    return Status::Ok();
  }
};

MirrorCollector::MirrorCollector(MirrorCollectorConfig config, KafkaConfig local,
                                 std::shared_ptr<KafkaApi> local_api)
    : config_(std::move(config)), impl_(std::make_unique<Impl>()) {
  impl_->config = config_;
  impl_->local.config = std::move(local);
  impl_->local.api = std::move(local_api);
  impl_->peer.config = config_.peer;
  for (const auto& fc : config_.flows) {
    auto f = std::make_unique<Flow>();
    f->config = fc;
    const bool local_is_source = fc.source == impl_->local.config.name;
    f->source = local_is_source ? &impl_->local : &impl_->peer;
    f->target = local_is_source ? &impl_->peer : &impl_->local;
    f->syncs_side = fc.offset_syncs_on == "target" ? f->target : f->source;
    for (const auto& r : fc.topics.include) f->include.emplace_back(r, std::regex::ECMAScript);
    for (const auto& r : fc.topics.exclude) f->exclude.emplace_back(r, std::regex::ECMAScript);
    impl_->flows.push_back(std::move(f));
  }
}

MirrorCollector::~MirrorCollector() = default;

Status MirrorCollector::Collect(const CollectContext& ctx, MetricsBuilder& out) {
  return impl_->Run(ctx, out);
}

}  // namespace dora
