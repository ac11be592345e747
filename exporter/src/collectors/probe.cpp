#include "collectors/probe.h"

// The probe owns a producer and a consumer handle of its own, so this file
// talks to librdkafka directly (behind ProbeCollector::Impl; probe.h stays
// free of librdkafka types). Admin requests go through the shared KafkaClient.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <random>
#include <thread>

#include "kafka/log_callbacks.h"
#include "kafka/properties.h"
#include "util/log.h"

namespace dora {
namespace {

using Clock = std::chrono::steady_clock;

// How often the consumer-side layout (partitions, leaders) is refreshed: a
// leader change shows in the broker label of errors within this time.
constexpr Millis kLayoutRefresh{5000};
// Window of kafka_probe_success_ratio.
constexpr Millis kRatioWindow{300000};

// The delivery report identifies its message by (partition, seq) packed into
// the message opaque: no per-message allocation to leak on shutdown.
constexpr int kSeqBits = 44;
void* PackOpaque(int32_t partition, uint64_t seq) {
  uint64_t v = (static_cast<uint64_t>(static_cast<uint32_t>(partition)) << kSeqBits) |
               (seq & ((uint64_t{1} << kSeqBits) - 1));
  return reinterpret_cast<void*>(static_cast<uintptr_t>(v));
}
std::pair<int32_t, uint64_t> UnpackOpaque(void* p) {
  uint64_t v = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p));
  return {static_cast<int32_t>(v >> kSeqBits), v & ((uint64_t{1} << kSeqBits) - 1)};
}

}  // namespace

// ---------------------------------------------------------------------------
// The probe's handles and threads.

struct ProbeCollector::Impl {
  struct PartitionState {
    int32_t leader = -1;
    int32_t preferred = -1;
    bool assigned = false;  // the consumer reads it from a known offset: safe to probe
  };

  ProbeCollectorConfig config;
  KafkaConfig kafka_config;
  std::shared_ptr<KafkaClient> admin;
  std::shared_ptr<ProbeTracker> tracker;
  std::shared_ptr<spdlog::logger> log = GetLogger("collector.probe");
  uint64_t instance = 0;

  // Destroyed by Stop(), which ~Impl runs before any member goes: the
  // delivery callback's target (this Impl and its state) outlives them.
  rd_kafka_t* producer = nullptr;
  rd_kafka_t* consumer = nullptr;
  rd_kafka_topic_t* topic = nullptr;  // the producer's topic handle (metadata requests)

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  std::map<int32_t, PartitionState> partitions;  // guarded by mu
  std::string problem;                           // guarded by mu; "" when the probe runs
  std::string fatal;                             // guarded by mu; a thread stopped
  std::vector<std::thread> threads;
  std::map<int32_t, uint64_t> seq;  // sender thread only
  bool changed = false;             // maintainer thread only: the topic was just created or grown
  bool assign_failing = false;      // maintainer thread only

  ~Impl() { Stop(); }

  static void DeliveryCb(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
    try {
      static_cast<Impl*>(opaque)->OnDelivery(m);
    } catch (...) {
    }
  }

  Result<rd_kafka_t*> NewHandle(rd_kafka_type_t type, const std::map<std::string, std::string>& extra) {
    auto conf = BuildKafkaConf(kafka_config, extra);
    if (!conf.ok()) return conf.status();
    rd_kafka_conf_t* c = conf.value().release();
    SetLogCallbacks<kProbeLogger>(c);
    rd_kafka_conf_set_opaque(c, this);
    if (type == RD_KAFKA_PRODUCER) rd_kafka_conf_set_dr_msg_cb(c, DeliveryCb);
    char errstr[512];
    rd_kafka_t* rk = rd_kafka_new(type, c, errstr, sizeof errstr);
    if (rk == nullptr) {
      rd_kafka_conf_destroy(c);
      return Status::Error("config", std::string("probe: cannot create Kafka handle: ") + errstr);
    }
    return rk;
  }

  Status Start() {
    std::random_device rd;
    instance = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(ProbeUnixMicros());
    const std::string cid = kafka_config.client_id + "-probe";
    auto p = NewHandle(RD_KAFKA_PRODUCER, {{"client.id", cid},
                                           {"acks", "all"},
                                           {"linger.ms", "0"},
                                           {"enable.idempotence", "false"},
                                           // The broker must never create the probe topic with its defaults.
                                           {"allow.auto.create.topics", "false"},
                                           {"message.timeout.ms", std::to_string(config.sla.count())},
                                           {"socket.nagle.disable", "true"}});
    if (!p.ok()) return p.status();
    producer = p.value();
    topic = rd_kafka_topic_new(producer, config.topic.c_str(), nullptr);
    if (topic == nullptr)  // an invalid name (the config check rejects those) or no memory
      return Status::Error("config", "probe: cannot use topic \"" + config.topic +
                                         "\": " + rd_kafka_err2str(rd_kafka_last_error()));
    // assign() needs a group.id in librdkafka; the group is never joined and
    // nothing is committed (librdkafka only looks up its coordinator).
    auto c = NewHandle(RD_KAFKA_CONSUMER, {{"client.id", cid},
                                           {"group.id", cid},
                                           {"enable.auto.commit", "false"},
                                           {"enable.auto.offset.store", "false"},
                                           {"enable.partition.eof", "false"},
                                           {"auto.offset.reset", "latest"},
                                           {"isolation.level", "read_uncommitted"},
                                           {"queued.max.messages.kbytes", "1024"},
                                           {"socket.nagle.disable", "true"}});
    if (!c.ok()) return c.status();
    consumer = c.value();
    rd_kafka_poll_set_consumer(consumer);  // errors and logs come through consumer_poll
    threads.emplace_back([this] { Guard("sender", [this] { SenderLoop(); }); });
    threads.emplace_back([this] { Guard("receiver", [this] { ReceiverLoop(); }); });
    threads.emplace_back([this] { Guard("maintainer", [this] { MaintainerLoop(); }); });
    log->info("probe started on topic {} (instance {:016x}, interval {}, sla {})", config.topic, instance,
              FormatDuration(config.interval), FormatDuration(config.sla));
    return Status::Ok();
  }

  // No exception leaves a thread entry.
  template <typename F>
  void Guard(const char* what, F f) {
    try {
      f();
    } catch (const std::exception& ex) {
      Fatal(std::string("probe ") + what + " thread stopped: " + ex.what());
    } catch (...) {
      Fatal(std::string("probe ") + what + " thread stopped");
    }
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
    threads.clear();
    if (producer != nullptr) {
      // Outstanding messages fail now instead of holding up destroy.
      rd_kafka_purge(producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(producer, 0);
      if (topic != nullptr) rd_kafka_topic_destroy(topic);
      topic = nullptr;
      rd_kafka_destroy(producer);
      producer = nullptr;
    }
    if (consumer != nullptr) {
      rd_kafka_destroy_flags(consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
      consumer = nullptr;
    }
  }

  void SetProblem(const std::string& p) {
    std::lock_guard<std::mutex> lock(mu);
    if (p == problem) return;
    if (!p.empty()) {
      log->warn("{}", p);
    } else {
      log->info("probe topic {} is in place; probing", config.topic);
    }
    problem = p;
  }

  // A stopped thread is reported until the collector is rebuilt (reload).
  void Fatal(const std::string& p) {
    std::lock_guard<std::mutex> lock(mu);
    log->error("{}", p);
    fatal = p;
  }

  std::string Problem() {
    std::lock_guard<std::mutex> lock(mu);
    return fatal.empty() ? problem : fatal;
  }

  // Sleeps up to `d`, waking at once on Stop().
  void Sleep(Millis d) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, d, [this] { return stop.load(); });
  }

  Millis ShortTimeout() const { return std::min(config.timeout, Millis(5000)); }

  // -- sender: one message per assigned partition every interval, delivery reports.
  void SenderLoop() {
    auto next = Clock::now();
    while (!stop) {
      auto now = Clock::now();
      if (now >= next) {
        SendRound(now);
        next += config.interval;
        if (next <= now) next = now + config.interval;  // fell behind: skip, do not burst
      }
      tracker->Sweep(now);
      auto wait = std::chrono::duration_cast<Millis>(next - Clock::now());
      wait = std::clamp(wait, Millis(0), Millis(100));
      rd_kafka_poll(producer, static_cast<int>(wait.count()));  // serves delivery reports
    }
  }

  void SendRound(Clock::time_point now) {
    std::vector<std::pair<int32_t, std::string>> targets;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& [p, st] : partitions) {
        if (!st.assigned) continue;
        int32_t b = st.leader >= 0 ? st.leader : st.preferred;
        targets.emplace_back(p, std::to_string(b));
      }
    }
    for (const auto& [p, broker] : targets) {
      uint64_t s = ++seq[p];
      std::string payload = EncodeProbePayload({instance, p, s, ProbeUnixMicros()});
      tracker->Sent(p, s, broker, now);
      // rd_kafka_produce rather than producev: the RD_KAFKA_V_* macros use C casts.
      rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
      if (rd_kafka_produce(topic, p, RD_KAFKA_MSG_F_COPY, payload.data(), payload.size(), nullptr, 0,
                           PackOpaque(p, s)) != 0)
        err = rd_kafka_last_error();
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log->debug("produce to partition {} failed at once: {}", p, rd_kafka_err2str(err));
        tracker->Delivered(p, s, false, "", -1, -1, now);
      }
    }
  }

  void OnDelivery(const rd_kafka_message_t* m) {
    auto [p, s] = UnpackOpaque(m->_private);
    bool ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    int32_t broker = rd_kafka_message_broker_id(m);
    int64_t latency_us = rd_kafka_message_latency(m);
    if (!ok) log->debug("probe message {}/{} failed: {}", p, s, rd_kafka_err2str(m->err));
    tracker->Delivered(p, s, ok, broker >= 0 ? std::to_string(broker) : "",
                       latency_us >= 0 ? static_cast<double>(latency_us) / 1e6 : -1.0, m->offset,
                       Clock::now());
  }

  // -- receiver: reads the probe topic back.
  void ReceiverLoop() {
    std::string last_error;
    while (!stop) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
      if (m == nullptr) continue;
      std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> guard(m, rd_kafka_message_destroy);
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::string e = rd_kafka_message_errstr(m);
        if (e != last_error) log->debug("probe consumer: {}", e);
        last_error = e;
        continue;
      }
      int64_t now_us = ProbeUnixMicros();
      auto payload =
          DecodeProbePayload(std::string_view(static_cast<const char*>(m->payload), m->payload ? m->len : 0));
      // Other exporter instances may probe the same topic: only our own messages count.
      if (!payload || payload->instance != instance || payload->partition != m->partition) continue;
      double e2e = std::max<int64_t>(0, now_us - payload->sent_unix_us) / 1e6;
      tracker->Received(m->partition, payload->seq, m->offset, e2e, Clock::now());
    }
  }

  // -- maintainer: topic layout, repair, consumer assignment.
  void MaintainerLoop() {
    auto next_check = Clock::now();
    auto next_layout = Clock::now();
    while (!stop) {
      auto now = Clock::now();
      if (now >= next_layout || now >= next_check) {
        bool check = now >= next_check;
        bool healthy = RefreshLayout(check);
        // Right after a create/grow the new layout shows within a second or two.
        next_layout = Clock::now() + (changed ? Millis(1000) : kLayoutRefresh);
        changed = false;
        if (check) {
          // A broken layout is looked at again sooner than a healthy one.
          Millis again =
              healthy ? config.topic_check_interval : std::min(config.topic_check_interval, Millis(15000));
          next_check = Clock::now() + again;
        }
      }
      AssignNew();
      Sleep(Millis(1000));
    }
  }

  // Returns false when the topic is missing or was just changed.
  bool RefreshLayout(bool check) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(producer, 0, topic, &md, static_cast<int>(ShortTimeout().count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Metadata is unreachable: keep probing the known layout (that is the probe's job).
      log->debug("probe metadata failed: {}", rd_kafka_err2str(err));
      return false;
    }
    std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> guard(
        md, rd_kafka_metadata_destroy);
    std::vector<int32_t> brokers;
    for (int i = 0; i < md->broker_cnt; ++i) brokers.push_back(md->brokers[i].id);
    TopicMetadata tm;
    bool missing = true;
    for (int i = 0; i < md->topic_cnt; ++i) {
      const auto& t = md->topics[i];
      if (t.topic == nullptr || config.topic != t.topic) continue;
      tm.name = t.topic;
      tm.error = t.err;
      for (int j = 0; j < t.partition_cnt; ++j) {
        PartitionMetadata pm;
        pm.id = t.partitions[j].id;
        pm.leader = t.partitions[j].leader;
        pm.replicas.assign(t.partitions[j].replicas, t.partitions[j].replicas + t.partitions[j].replica_cnt);
        tm.partitions.push_back(std::move(pm));
      }
      missing = t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || tm.partitions.empty();
    }
    if (check && config.manage_topic) {
      if (Repair(brokers, missing ? nullptr : &tm)) return false;
    }
    if (missing) {
      SetProblem("probe topic " + config.topic + " does not exist" +
                 (config.manage_topic ? " (creating it)" : " and manage_topic is false"));
      return false;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      std::map<int32_t, PartitionState> next;
      for (const auto& pm : tm.partitions) {
        PartitionState st;
        auto old = partitions.find(pm.id);
        if (old != partitions.end()) st.assigned = old->second.assigned;
        st.leader = pm.leader;
        st.preferred = pm.replicas.empty() ? -1 : pm.replicas.front();
        next[pm.id] = st;
      }
      partitions = std::move(next);
    }
    SetProblem("");
    return true;
  }

  // Creates or grows the topic when needed; true when it changed something.
  bool Repair(const std::vector<int32_t>& brokers, const TopicMetadata* existing) {
    ProbeTopicPlan plan = PlanProbeTopic(brokers, existing);
    if (!plan.note.empty()) log->debug("probe topic {}: {}", config.topic, plan.note);
    if (plan.action == ProbeTopicPlan::Action::kNone) return false;
    Status s;
    if (plan.action == ProbeTopicPlan::Action::kCreate) {
      // Probe data is worth nothing after the SLA: keep about an hour of it.
      s = admin->CreateTopic(
          config.topic, plan.assignment,
          {{"cleanup.policy", "delete"}, {"retention.ms", "3600000"}, {"segment.ms", "3600000"}},
          config.timeout);
      if (s.ok) {
        log->info("created probe topic {} with {} partition(s)", config.topic, plan.total_partitions);
        Forget();  // a recreated topic starts at offset 0: old positions mean nothing
      }
    } else {
      s = admin->CreatePartitions(config.topic, plan.total_partitions, plan.assignment, config.timeout);
      if (s.ok) {
        log->info("probe topic {}: added {} partition(s) for brokers without one", config.topic,
                  plan.assignment.size());
      }
    }
    if (!s.ok) {
      if (s.message.find("TOPIC_ALREADY_EXISTS") != std::string::npos) return false;  // metadata lagged
      SetProblem("probe topic " + config.topic + " could not be repaired: " + s.message);
      return false;
    }
    changed = true;
    return true;
  }

  // The topic was (re)created: stop probing and reading the old partitions, so
  // the new ones are read from their own end rather than from stale positions.
  void Forget() {
    std::vector<int32_t> assigned;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& [p, st] : partitions) {
        if (st.assigned) assigned.push_back(p);
      }
      partitions.clear();
    }
    if (assigned.empty()) return;
    using ListPtr =
        std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)>;
    ListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(assigned.size())),
                 rd_kafka_topic_partition_list_destroy);
    if (!list) return;
    for (int32_t p : assigned) rd_kafka_topic_partition_list_add(list.get(), config.topic.c_str(), p);
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(consumer, list.get())) {
      log->debug("probe: unassign failed: {}", rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    }
  }

  // Starts reading new partitions at their current end, so every probe message
  // sent from now on is read back.
  void AssignNew() {
    std::vector<int32_t> todo;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& [p, st] : partitions) {
        if (!st.assigned) todo.push_back(p);
      }
    }
    if (todo.empty()) return;
    using ListPtr =
        std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)>;
    ListPtr query(rd_kafka_topic_partition_list_new(static_cast<int>(todo.size())),
                  rd_kafka_topic_partition_list_destroy);
    if (!query) return;
    for (int32_t p : todo)
      rd_kafka_topic_partition_list_add(query.get(), config.topic.c_str(), p)->offset = -1;
    rd_kafka_resp_err_t err =
        rd_kafka_offsets_for_times(consumer, query.get(), static_cast<int>(ShortTimeout().count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log->debug("probe: end offsets for new partitions failed: {}", rd_kafka_err2str(err));
      return;
    }
    ListPtr assign(rd_kafka_topic_partition_list_new(static_cast<int>(todo.size())),
                   rd_kafka_topic_partition_list_destroy);
    if (!assign) return;
    std::vector<int32_t> done;
    for (int i = 0; i < query->cnt; ++i) {
      const auto& e = query->elems[i];
      if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR || e.offset < 0) continue;
      rd_kafka_topic_partition_list_add(assign.get(), config.topic.c_str(), e.partition)->offset = e.offset;
      done.push_back(e.partition);
    }
    if (done.empty()) return;
    if (rd_kafka_error_t* e = rd_kafka_incremental_assign(consumer, assign.get())) {
      log->log(assign_failing ? spdlog::level::debug : spdlog::level::warn,
               "probe: cannot assign partitions: {}", rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
      assign_failing = true;
      return;
    }
    assign_failing = false;
    std::lock_guard<std::mutex> lock(mu);
    for (int32_t p : done) {
      auto it = partitions.find(p);
      if (it != partitions.end()) it->second.assigned = true;
    }
    log->debug("probe: reading {} new partition(s) from their end", done.size());
  }
};

ProbeCollector::ProbeCollector(ProbeCollectorConfig config, KafkaConfig kafka_config,
                               std::shared_ptr<KafkaClient> kafka)
    : config_(std::move(config)),
      kafka_config_(std::move(kafka_config)),
      kafka_(std::move(kafka)),
      tracker_(std::make_shared<ProbeTracker>(config_.sla, kRatioWindow)) {}

ProbeCollector::~ProbeCollector() = default;  // Impl's destructor stops the threads

Status ProbeCollector::Collect(const CollectContext& /*ctx*/, MetricsBuilder& out) {
  if (!impl_) {
    auto impl = std::make_unique<Impl>();
    impl->config = config_;
    impl->kafka_config = kafka_config_;
    impl->admin = kafka_;
    impl->tracker = tracker_;
    Status s = impl->Start();
    if (!s.ok) return s;  // the partly built Impl stops and frees what it made
    impl_ = std::move(impl);
  }
  tracker_->Render(out, std::chrono::steady_clock::now());
  std::string problem = impl_->Problem();
  if (!problem.empty()) return Status::Error("partial", problem);
  return Status::Ok();
}

}  // namespace dora
