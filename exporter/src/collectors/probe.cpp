#include "collectors/probe.h"

// The probe owns a producer and a consumer handle of its own, so this file
// talks to librdkafka directly (behind ProbeCollector::Impl; probe.h stays
// free of librdkafka types). Admin requests go through the shared KafkaClient.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <random>
#include <set>
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
// A message without a delivery report this long after the SLA
// (message.timeout.ms) is resolved as failed.
constexpr Millis kReportGrace{5000};
constexpr char kMagic[] = "dora-probe/1";

int64_t UnixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

const std::vector<double>& ProbeLatencyBuckets() {
  static const std::vector<double> buckets = {0.001, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.025,
                                              0.05,  0.1,    0.25,  0.5,    1,    2.5,    5,     10};
  return buckets;
}

LatencyHistogram::LatencyHistogram(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(bounds.size() + 1, 0) {}

void LatencyHistogram::Observe(double seconds) {
  // Buckets are "less than or equal" upper bounds.
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin();
  ++counts_[i];
  ++count_;
  sum_ += seconds;
}

std::vector<uint64_t> LatencyHistogram::Cumulative() const {
  std::vector<uint64_t> out(bounds_.size());
  uint64_t acc = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    acc += counts_[i];
    out[i] = acc;
  }
  return out;
}

std::string EncodeProbePayload(const ProbePayload& p) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s %016" PRIx64 " %" PRId32 " %" PRIu64 " %" PRId64, kMagic, p.instance,
                p.partition, p.seq, p.sent_unix_us);
  return buf;
}

std::optional<ProbePayload> DecodeProbePayload(std::string_view text) {
  if (text.size() > 120 || text.substr(0, sizeof kMagic - 1) != kMagic) return std::nullopt;
  std::string s(text);  // sscanf needs a terminated string
  char magic[16] = {0};
  ProbePayload p;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%15s %16" SCNx64 " %" SCNd32 " %" SCNu64 " %" SCNd64 "%n", magic, &p.instance,
                  &p.partition, &p.seq, &p.sent_unix_us, &consumed) != 5)
    return std::nullopt;
  if (static_cast<size_t>(consumed) != s.size() || std::string(magic) != kMagic || p.partition < 0)
    return std::nullopt;
  return p;
}

ProbeTopicPlan PlanProbeTopic(std::vector<int32_t> brokers, const TopicMetadata* existing) {
  ProbeTopicPlan plan;
  std::sort(brokers.begin(), brokers.end());
  brokers.erase(std::unique(brokers.begin(), brokers.end()), brokers.end());
  const size_t n = brokers.size();
  if (n == 0) {
    plan.note = "no brokers in the metadata";
    return plan;
  }
  const size_t want_rf = std::min<size_t>(3, n);
  auto replicas_from = [&](size_t first, size_t rf) {
    std::vector<int32_t> r;
    for (size_t k = 0; k < rf; ++k) r.push_back(brokers[(first + k) % n]);
    return r;
  };
  if (existing == nullptr) {
    plan.action = ProbeTopicPlan::Action::kCreate;
    for (size_t i = 0; i < n; ++i) plan.assignment.push_back(replicas_from(i, want_rf));
    plan.total_partitions = static_cast<int>(n);
    return plan;
  }
  std::set<int32_t> covered;
  size_t topic_rf = 0;
  for (const auto& p : existing->partitions) {
    if (!p.replicas.empty()) covered.insert(p.replicas.front());
    topic_rf = std::max(topic_rf, p.replicas.size());
  }
  if (topic_rf == 0) topic_rf = want_rf;
  if (topic_rf < want_rf) {
    plan.note = "replication factor " + std::to_string(topic_rf) +
                " is below min(3, brokers) = " + std::to_string(want_rf) +
                "; not repaired (that needs a partition reassignment)";
  }
  // New partitions must match the topic's replication factor.
  const size_t rf = std::min(topic_rf, n);
  for (size_t i = 0; i < n; ++i) {
    if (covered.count(brokers[i]) == 0) plan.assignment.push_back(replicas_from(i, rf));
  }
  plan.total_partitions = static_cast<int>(existing->partitions.size() + plan.assignment.size());
  if (!plan.assignment.empty()) plan.action = ProbeTopicPlan::Action::kAddPartitions;
  return plan;
}

// ---------------------------------------------------------------------------
// ProbeTracker

ProbeTracker::ProbeTracker(Millis sla, Millis window) : sla_(sla), window_(window) {}

int64_t ProbeTracker::Second(Clock::time_point t) const {
  return std::chrono::duration_cast<std::chrono::seconds>(t - epoch_).count();
}

void ProbeTracker::Resolve(Pending& p, bool ok, Clock::time_point now) {
  if (p.resolved) return;
  p.resolved = true;
  ++c_.attempts;
  if (!ok) ++c_.failures;
  int64_t s = Second(now);
  if (window_buckets_.empty() || window_buckets_.back().first != s) window_buckets_.push_back({s, {0, 0}});
  (ok ? window_buckets_.back().second.first : window_buckets_.back().second.second)++;
  int64_t oldest = s - std::chrono::duration_cast<std::chrono::seconds>(window_).count();
  while (!window_buckets_.empty() && window_buckets_.front().first <= oldest) window_buckets_.pop_front();
}

void ProbeTracker::Sent(int32_t partition, uint64_t seq, const std::string& broker, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  Pending& p = pending_[{partition, seq}];
  p = Pending{};
  p.sent = now;
  p.broker = broker;
  // Every probed broker and partition has its series from the first message on
  // (counters at 0, so rate() and alerts work from the first error).
  produce_latency_.try_emplace(broker);
  produced_.try_emplace(broker, 0);
  produce_errors_.try_emplace(broker, 0);
  e2e_latency_.try_emplace(partition);
}

void ProbeTracker::Delivered(int32_t partition, uint64_t seq, bool ok, const std::string& broker,
                             double latency_seconds, int64_t offset, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find({partition, seq});
  if (it == pending_.end()) return;  // forgotten long ago (no report for 2x the SLA)
  Pending& p = it->second;
  if (p.delivered) return;
  p.delivered = true;
  const std::string& label = broker.empty() ? p.broker : broker;
  if (ok) {
    p.acked = true;
    p.offset = offset;
    if (latency_seconds < 0) latency_seconds = std::chrono::duration<double>(now - p.sent).count();
    produce_latency_.try_emplace(label).first->second.Observe(latency_seconds);
    ++produced_[label];
    ++c_.produced;
  } else {
    ++produce_errors_[label];
    ++c_.produce_errors;
    // Written despite the error (a timeout after the broker appended it) and
    // already read back: the consumer's verdict stands.
    if (!p.received) Resolve(p, false, now);
  }
  if (p.resolved) pending_.erase(it);
}

void ProbeTracker::Received(int32_t partition, uint64_t seq, int64_t offset, double e2e_seconds,
                            Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  ++c_.received;
  e2e_latency_.try_emplace(partition).first->second.Observe(e2e_seconds);
  const double sla = std::chrono::duration<double>(sla_).count();
  auto it = pending_.find({partition, seq});
  if (it != pending_.end()) {
    Pending& p = it->second;
    p.received = true;
    if (!p.resolved) {
      bool late = e2e_seconds > sla;
      if (late) ++c_.lost;
      Resolve(p, !late, now);
    }
    if (p.delivered) pending_.erase(it);
  }
  // The consumer reads a partition in offset order: an acknowledged message at
  // a lower offset that never arrived was skipped (truncated by the leader).
  for (auto g = pending_.lower_bound({partition, 0}); g != pending_.end() && g->first.first == partition;) {
    Pending& p = g->second;
    if (!p.resolved && p.acked && !p.received && p.offset >= 0 && p.offset < offset) {
      ++c_.lost;
      Resolve(p, false, now);
      g = pending_.erase(g);
    } else {
      ++g;
    }
  }
}

void ProbeTracker::Sweep(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = pending_.begin(); it != pending_.end();) {
    Pending& p = it->second;
    auto age = now - p.sent;
    if (!p.resolved && p.acked && age > sla_) {
      ++c_.lost;
      Resolve(p, false, now);
    } else if (!p.resolved && !p.delivered && age > sla_ + kReportGrace) {
      Resolve(p, false, now);  // librdkafka should have reported by now (message.timeout.ms = SLA)
    }
    bool done = p.resolved && (p.delivered || age > 2 * sla_ + kReportGrace);
    it = done ? pending_.erase(it) : std::next(it);
  }
}

std::optional<double> ProbeTracker::RatioLocked(Clock::time_point now) const {
  int64_t oldest = Second(now) - std::chrono::duration_cast<std::chrono::seconds>(window_).count();
  uint64_t ok = 0, fail = 0;
  for (const auto& [s, c] : window_buckets_) {
    if (s <= oldest) continue;
    ok += c.first;
    fail += c.second;
  }
  if (ok + fail == 0) return std::nullopt;
  return static_cast<double>(ok) / static_cast<double>(ok + fail);
}

std::optional<double> ProbeTracker::SuccessRatio(Clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mu_);
  return RatioLocked(now);
}

ProbeTracker::Counters ProbeTracker::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  Counters c = c_;
  c.pending = pending_.size();
  return c;
}

void ProbeTracker::Render(MetricsBuilder& out, Clock::time_point now) const {
  using MT = MetricType;
  auto produce = out.Family("kafka_probe_produce_latency_seconds",
                            "acks=all acknowledgement latency of probe messages, by the leader broker they "
                            "went to (includes waiting for every in-sync follower).",
                            MT::kHistogram);
  auto e2e = out.Family("kafka_probe_end_to_end_latency_seconds",
                        "Probe message latency from produce to consume, by partition.", MT::kHistogram);
  auto produced = out.Family("kafka_probe_messages_produced_total",
                             "Probe messages acknowledged by their leader broker.", MT::kCounter);
  auto errors = out.Family("kafka_probe_produce_errors_total",
                           "Probe messages whose produce failed, by the leader broker they were sent to.",
                           MT::kCounter);
  auto received = out.Family("kafka_probe_messages_received_total",
                             "Probe messages read back by the probe consumer.", MT::kCounter);
  auto lost =
      out.Family("kafka_probe_messages_lost_total",
                 "Acknowledged probe messages not read back within the SLA (or skipped).", MT::kCounter);
  auto attempts = out.Family("kafka_probe_attempts_total",
                             "Probe messages whose outcome is known (SLI denominator).", MT::kCounter);
  auto failures = out.Family(
      "kafka_probe_failures_total",
      "Probe messages that failed: produce error, lost, or read back later than the SLA.", MT::kCounter);
  auto ratio =
      out.Family("kafka_probe_success_ratio",
                 "Successful share of the probe messages resolved in the last 5 minutes.", MT::kGauge);

  std::lock_guard<std::mutex> lock(mu_);
  const auto& bounds = ProbeLatencyBuckets();
  for (const auto& [broker, h] : produce_latency_) {
    out.AddHistogram(produce, {{"broker", broker}}, bounds, h.Cumulative(), h.sum(), h.count());
  }
  for (const auto& [partition, h] : e2e_latency_) {
    std::string p = std::to_string(partition);
    out.AddHistogram(e2e, {{"partition", p}}, bounds, h.Cumulative(), h.sum(), h.count());
  }
  for (const auto& [broker, n] : produced_) out.Add(produced, {{"broker", broker}}, static_cast<double>(n));
  for (const auto& [broker, n] : produce_errors_)
    out.Add(errors, {{"broker", broker}}, static_cast<double>(n));
  out.Add(received, {}, static_cast<double>(c_.received));
  out.Add(lost, {}, static_cast<double>(c_.lost));
  out.Add(attempts, {}, static_cast<double>(c_.attempts));
  out.Add(failures, {}, static_cast<double>(c_.failures));
  if (auto r = RatioLocked(now)) out.Add(ratio, {}, *r);
}

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
  std::shared_ptr<KafkaApi> admin;
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
    instance = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(UnixMicros());
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
      std::string payload = EncodeProbePayload({instance, p, s, UnixMicros()});
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
      int64_t now_us = UnixMicros();
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
                               std::shared_ptr<KafkaApi> kafka)
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
