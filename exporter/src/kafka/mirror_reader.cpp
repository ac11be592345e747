#include "kafka/mirror_reader.h"

#include <librdkafka/rdkafka.h>

#include "kafka/conf.h"
#include "kafka/handle.h"
#include "kafka/log_callbacks.h"

namespace dora {
namespace {

void DestroyWithoutClose(rd_kafka_t* rk) { rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE); }
using ConsumerPtr = Handle<rd_kafka_t, DestroyWithoutClose>;

Status KafkaError(rd_kafka_resp_err_t err) { return Status::Error(Reason::kKafka, rd_kafka_err2str(err)); }

}  // namespace

struct MirrorReader::Impl {
  ConsumerPtr rk;
};

MirrorReader::MirrorReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MirrorReader::~MirrorReader() = default;

Result<std::unique_ptr<MirrorReader>> MirrorReader::Create(const KafkaConfig& config,
                                                           const std::string& role) {
  const std::string cid = config.client_id + "-mirror-" + role;
  auto conf = BuildKafkaConf(config, {{"client.id", cid},
                                      {"group.id", config.client_id + "-mirror"},
                                      {"enable.auto.commit", "false"},
                                      {"enable.auto.offset.store", "false"},
                                      {"enable.partition.eof", "false"},
                                      {"auto.offset.reset", "earliest"},
                                      {"allow.auto.create.topics", "false"},
                                      {"isolation.level", "read_uncommitted"},
                                      {"queued.max.messages.kbytes", "4096"}});
  if (!conf.ok()) return conf.status();
  SetLogCallbacks<kMirrorLogger>(conf.value().get());
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.value().get(), errstr, sizeof errstr);
  if (rk == nullptr)
    return Status::Error(Reason::kConfig, std::string("mirror: cannot create Kafka handle: ") + errstr);
  conf.value().release();  // rd_kafka_new took it
  auto impl = std::make_unique<Impl>();
  impl->rk.reset(rk);
  rd_kafka_poll_set_consumer(impl->rk.get());
  return std::unique_ptr<MirrorReader>(new MirrorReader(std::move(impl)));
}

Result<std::vector<PartitionOffset>> MirrorReader::Offsets(const std::vector<TopicPartition>& partitions,
                                                           bool latest, Millis timeout) {
  std::vector<PartitionOffset> out;
  if (partitions.empty()) return out;
  PartitionListPtr query(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  if (!query) return Status::Error(Reason::kInternal, "cannot allocate a partition list");
  for (const auto& tp : partitions)
    rd_kafka_topic_partition_list_add(query.get(), tp.topic.c_str(), tp.partition)->offset = latest ? -1 : -2;
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(impl_->rk.get(), query.get(), KafkaMs(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err);
  out.reserve(query->cnt);
  for (int i = 0; i < query->cnt; ++i) {
    const auto& e = query->elems[i];
    out.push_back({{e.topic ? e.topic : "", e.partition}, e.offset, e.err});
  }
  return out;
}

Status MirrorReader::Assign(const std::vector<PartitionOffset>& starts) {
  if (starts.empty()) return Status::Ok();
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(starts.size())));
  if (!list) return Status::Error(Reason::kInternal, "cannot allocate a partition list");
  for (const auto& s : starts)
    rd_kafka_topic_partition_list_add(list.get(), s.tp.topic.c_str(), s.tp.partition)->offset = s.offset;
  ErrorPtr e(rd_kafka_incremental_assign(impl_->rk.get(), list.get()));
  if (e) return Status::Error(Reason::kKafka, rd_kafka_error_string(e.get()));
  return Status::Ok();
}

std::optional<MirrorRecord> MirrorReader::Poll(Millis wait) {
  MessagePtr m(rd_kafka_consumer_poll(impl_->rk.get(), KafkaMs(wait)));
  if (!m) return std::nullopt;
  MirrorRecord r;
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    r.error = rd_kafka_message_errstr(m.get());
    return r;
  }
  if (m->rkt != nullptr) r.topic = rd_kafka_topic_name(m->rkt);
  r.partition = m->partition;
  r.offset = m->offset;
  rd_kafka_timestamp_type_t tstype = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  r.timestamp_ms = rd_kafka_message_timestamp(m.get(), &tstype);
  if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) r.timestamp_ms = -1;
  if (m->key != nullptr) r.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
  return r;
}

}  // namespace dora
