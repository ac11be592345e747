// StartOffsetsTopicReader (kafka/offsets_topic.h): a librdkafka consumer on
// __consumer_offsets, on a thread of its own.
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "kafka/conf.h"
#include "kafka/handle.h"
#include "kafka/log_callbacks.h"
#include "kafka/offsets_topic.h"
#include "kafka/types.h"
#include "util/log.h"

namespace dora {
namespace {

constexpr char kOffsetsTopic[] = "__consumer_offsets";
constexpr char kReaderLogger[] = "librdkafka.offsets_topic";

// No consumer close: the reader never joins its group, and a close could
// wait on a coordinator that is down.
void DestroyWithoutClose(rd_kafka_t* rk) { rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE); }
using ConsumerPtr = Handle<rd_kafka_t, DestroyWithoutClose>;

class OffsetsTopicReader : public CommittedOffsetsSource {
 public:
  explicit OffsetsTopicReader(ConsumerPtr rk) : rk_(std::move(rk)) {}
  ~OffsetsTopicReader() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }

  OffsetsTopicProgress Progress() const override {
    std::lock_guard<std::mutex> lock(mu_);
    OffsetsTopicProgress p = progress_;
    p.groups = table_.groups();
    p.group_partitions = table_.partitions();
    return p;
  }
  std::vector<GroupOffsets> Committed(const std::vector<std::string>& groups) const override {
    std::lock_guard<std::mutex> lock(mu_);
    return table_.Committed(groups);
  }

 private:
  // Sleeps up to `d` unless stopped; false when stopped.
  bool Pause(std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (!stop_ && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return !stop_;
  }

  // The topic's partition count, 0 while unknown (the topic is created on
  // the cluster's first FindCoordinator).
  int Partitions() {
    TopicPtr topic(rd_kafka_topic_new(rk_.get(), kOffsetsTopic, nullptr));
    if (!topic) return 0;
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk_.get(), 0, topic.get(), &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
    MetadataPtr owned(md);
    if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
    return md->topics[0].partition_cnt;
  }

  // ListOffsets at `timestamp` (-1 end: the last stable offset under
  // read_committed, -2 start) for every partition; empty on any error.
  std::vector<int64_t> Offsets(int partitions, int64_t timestamp) {
    PartitionListPtr list(rd_kafka_topic_partition_list_new(partitions));
    for (int p = 0; p < partitions; ++p)
      rd_kafka_topic_partition_list_add(list.get(), kOffsetsTopic, p)->offset = timestamp;
    if (rd_kafka_offsets_for_times(rk_.get(), list.get(), 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) return {};
    std::vector<int64_t> out(static_cast<size_t>(partitions), -1);
    for (int i = 0; i < list->cnt; ++i) {
      const auto& e = list->elems[i];
      if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR || e.offset < 0 || e.partition < 0 || e.partition >= partitions)
        return {};
      out[static_cast<size_t>(e.partition)] = e.offset;
    }
    for (int64_t o : out)
      if (o < 0) return {};
    return out;
  }

  void Run() {
    auto log = GetLogger("offsets_topic");
    const auto started = std::chrono::steady_clock::now();
    int partitions = 0;
    std::vector<int64_t> end, next;
    // Start: the partitions, where each ends and begins now. Retried until
    // the cluster answers; the collector uses OffsetFetch meanwhile.
    while (!stop_) {
      partitions = Partitions();
      if (partitions > 0) end = Offsets(partitions, -1);
      if (!end.empty()) next = Offsets(partitions, -2);
      if (!next.empty()) break;
      log->debug("{}: no partitions or offsets yet; retrying", kOffsetsTopic);
      if (!Pause(std::chrono::seconds(1))) return;
    }
    if (stop_) return;
    PartitionListPtr list(rd_kafka_topic_partition_list_new(partitions));
    for (int p = 0; p < partitions; ++p)
      rd_kafka_topic_partition_list_add(list.get(), kOffsetsTopic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    if (rd_kafka_resp_err_t err = rd_kafka_assign(rk_.get(), list.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log->error("{}: cannot assign its partitions: {}", kOffsetsTopic, rd_kafka_err2str(err));
      return;
    }
    std::vector<bool> reached(static_cast<size_t>(partitions), false);
    int left = partitions;
    auto reach = [&](int32_t p) {
      if (p < 0 || p >= partitions || reached[static_cast<size_t>(p)]) return;
      reached[static_cast<size_t>(p)] = true;
      --left;
    };
    auto remaining = [&] {
      int64_t n = 0;
      for (int p = 0; p < partitions; ++p) {
        if (!reached[static_cast<size_t>(p)] && end[static_cast<size_t>(p)] > next[static_cast<size_t>(p)])
          n += end[static_cast<size_t>(p)] - next[static_cast<size_t>(p)];
      }
      return n;
    };
    for (int p = 0; p < partitions; ++p) {
      if (next[static_cast<size_t>(p)] >= end[static_cast<size_t>(p)]) reach(p);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      progress_.remaining = remaining();
      progress_.caught_up = left == 0;
    }
    log->info("reading {} ({} partitions, {} records to catch up)", kOffsetsTopic, partitions, remaining());
    bool caught_up = left == 0;
    std::map<OffsetsRecordKind, bool> warned;
    int64_t polls = 0;
    while (!stop_) {
      MessagePtr m(rd_kafka_consumer_poll(rk_.get(), 100));
      ++polls;
      if (m) {
        const auto p = static_cast<size_t>(m->partition);
        const bool ours = m->partition >= 0 && m->partition < partitions;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          reach(m->partition);
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          log->debug("{}: {}", kOffsetsTopic, rd_kafka_message_errstr(m.get()));
        } else {
          OffsetsTopicRecord r = DecodeOffsetsTopicRecord(m->key, m->key_len, m->payload, m->len);
          if ((r.kind == OffsetsRecordKind::kUnknown || r.kind == OffsetsRecordKind::kMalformed) &&
              !warned[r.kind]) {
            warned[r.kind] = true;  // once per kind; the counter says how many
            log->warn("{} partition {} offset {}: record skipped: {}", kOffsetsTopic, m->partition, m->offset,
                      r.error);
          }
          std::lock_guard<std::mutex> lock(mu_);
          table_.Apply(r);
          ++progress_.records[OffsetsRecordKindName(r.kind, r.tombstone)];
          if (ours) {
            next[p] = m->offset + 1;
            if (next[p] >= end[p]) reach(m->partition);
          }
        }
      }
      if (!caught_up && (left == 0 || polls % 50 == 0 || !m)) {
        std::lock_guard<std::mutex> lock(mu_);
        progress_.remaining = remaining();
        if (left == 0) {
          caught_up = true;
          progress_.caught_up = true;
          progress_.remaining = 0;
          log->info("{} read up to its end at start in {} ms: {} groups, {} group-partitions", kOffsetsTopic,
                    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                          started)
                        .count(),
                    table_.groups(), table_.partitions());
        }
      }
    }
  }

  ConsumerPtr rk_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  CommittedOffsetsTable table_;
  OffsetsTopicProgress progress_;
};

}  // namespace

Result<std::shared_ptr<CommittedOffsetsSource>> StartOffsetsTopicReader(const KafkaConfig& config) {
  const std::string cid = config.client_id + "-offsets-topic";
  // assign() needs a group.id in librdkafka; the group is never joined and
  // nothing is committed (librdkafka only looks up its coordinator).
  auto conf = BuildKafkaConf(config, {{"client.id", cid},
                                      {"group.id", cid},
                                      {"enable.auto.commit", "false"},
                                      {"enable.auto.offset.store", "false"},
                                      {"enable.partition.eof", "true"},
                                      {"auto.offset.reset", "earliest"},
                                      {"isolation.level", "read_committed"},
                                      {"queued.max.messages.kbytes", "16384"}});
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_t* c = conf.value().get();
  SetLogCallbacks<kReaderLogger>(c);
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof errstr);
  if (rk == nullptr)
    return Status::Error(Reason::kConfig,
                         std::string("offsets topic reader: cannot create Kafka handle: ") + errstr);
  conf.value().release();  // rd_kafka_new took it
  ConsumerPtr owned(rk);
  rd_kafka_poll_set_consumer(rk);  // errors and logs come through consumer_poll
  auto reader = std::make_shared<OffsetsTopicReader>(std::move(owned));
  reader->Start();
  return std::shared_ptr<CommittedOffsetsSource>(std::move(reader));
}

}  // namespace dora
