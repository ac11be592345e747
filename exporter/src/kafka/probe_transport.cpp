#include "kafka/probe_transport.h"

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <map>

#include "kafka/conf.h"
#include "kafka/handle.h"
#include "kafka/log_callbacks.h"
#include "kafka/metadata_convert.h"
#include "kafka/properties.h"

namespace dora {
namespace {

// No consumer close: the probe consumer never joins its group, and a close
// could wait on a coordinator that is down.
void DestroyWithoutClose(rd_kafka_t* rk) { rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE); }
using ProducerPtr = Handle<rd_kafka_t, rd_kafka_destroy>;
using ConsumerPtr = Handle<rd_kafka_t, DestroyWithoutClose>;

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

Status KafkaError(rd_kafka_resp_err_t err) { return Status::Error(Reason::kKafka, rd_kafka_err2str(err)); }

// A handle of `type` from the config plus `extra`, logging as "librdkafka.probe".
// `opaque` and `dr_msg_cb` are set on the conf when given.
Result<rd_kafka_t*> NewHandle(rd_kafka_type_t type, const KafkaConfig& config,
                              const std::map<std::string, std::string>& extra, void* opaque = nullptr,
                              void (*dr_msg_cb)(rd_kafka_t*, const rd_kafka_message_t*, void*) = nullptr) {
  auto conf = BuildKafkaConf(config, extra);
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_t* c = conf.value().get();
  SetLogCallbacks<kProbeLogger>(c);
  if (opaque != nullptr) rd_kafka_conf_set_opaque(c, opaque);
  if (dr_msg_cb != nullptr) rd_kafka_conf_set_dr_msg_cb(c, dr_msg_cb);
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, c, errstr, sizeof errstr);
  if (rk == nullptr) {
    return Status::Error(Reason::kConfig, std::string("probe: cannot create Kafka handle: ") + errstr);
  }
  conf.value().release();  // rd_kafka_new took it
  return rk;
}

}  // namespace

std::string ProbeClientId(const KafkaConfig& config) { return config.client_id + "-probe"; }

// ---------------------------------------------------------------------------
// ProbeProducer

struct ProbeProducer::Impl {
  // Declared before the handles, so destroyed after them: librdkafka calls it
  // until the producer is gone.
  DeliveryCallback on_delivery;
  ProducerPtr rk;
  TopicPtr topic;  // the topic handle Send and Layout use; destroyed before rk

  ~Impl() {
    if (!rk) return;
    // Outstanding messages fail now instead of holding up destroy.
    rd_kafka_purge(rk.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk.get(), 0);
  }

  static void DeliveryCb(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
    try {
      auto* self = static_cast<Impl*>(opaque);
      auto [partition, seq] = UnpackOpaque(m->_private);
      ProbeDelivery d;
      d.partition = partition;
      d.seq = seq;
      d.ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
      d.broker = rd_kafka_message_broker_id(m);
      int64_t latency_us = rd_kafka_message_latency(m);
      d.latency_seconds = latency_us >= 0 ? static_cast<double>(latency_us) / 1e6 : -1.0;
      d.offset = m->offset;
      if (!d.ok) d.error = rd_kafka_err2str(m->err);
      if (self->on_delivery) self->on_delivery(d);
    } catch (...) {
    }
  }
};

ProbeProducer::ProbeProducer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProbeProducer::~ProbeProducer() = default;

Result<std::unique_ptr<ProbeProducer>> ProbeProducer::Create(const KafkaConfig& config,
                                                             const std::string& topic, Millis message_timeout,
                                                             DeliveryCallback on_delivery) {
  auto impl = std::make_unique<Impl>();
  impl->on_delivery = std::move(on_delivery);
  const std::string cid = ProbeClientId(config);
  auto rk = NewHandle(RD_KAFKA_PRODUCER, config,
                      {{"client.id", cid},
                       {"acks", "all"},
                       {"linger.ms", "0"},
                       {"enable.idempotence", "false"},
                       // The broker must never create the probe topic with its defaults.
                       {"allow.auto.create.topics", "false"},
                       {"message.timeout.ms", std::to_string(message_timeout.count())},
                       {"socket.nagle.disable", "true"}},
                      impl.get(), &Impl::DeliveryCb);
  if (!rk.ok()) return rk.status();
  impl->rk.reset(rk.value());
  impl->topic.reset(rd_kafka_topic_new(impl->rk.get(), topic.c_str(), nullptr));
  if (!impl->topic) {  // an invalid name (the config check rejects those) or no memory
    return Status::Error(Reason::kConfig, "probe: cannot use topic \"" + topic +
                                              "\": " + rd_kafka_err2str(rd_kafka_last_error()));
  }
  return std::unique_ptr<ProbeProducer>(new ProbeProducer(std::move(impl)));
}

Status ProbeProducer::Send(int32_t partition, uint64_t seq, const std::string& payload) {
  // rd_kafka_produce rather than producev: the RD_KAFKA_V_* macros use C casts.
  if (rd_kafka_produce(impl_->topic.get(), partition, RD_KAFKA_MSG_F_COPY, const_cast<char*>(payload.data()),
                       payload.size(), nullptr, 0, PackOpaque(partition, seq)) != 0) {
    return KafkaError(rd_kafka_last_error());
  }
  return Status::Ok();
}

void ProbeProducer::Poll(Millis wait) { rd_kafka_poll(impl_->rk.get(), KafkaMs(wait)); }

Result<ProbeTopicLayout> ProbeProducer::Layout(Millis timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(impl_->rk.get(), 0, impl_->topic.get(), &md, KafkaMs(timeout));
  const MetadataPtr md_owner(md);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err);
  if (md == nullptr) return Status::Error(Reason::kKafka, "Metadata: no answer");
  ProbeTopicLayout out;
  for (const BrokerInfo& b : ConvertBrokers(*md)) out.brokers.push_back(b.id);
  const char* name = rd_kafka_topic_name(impl_->topic.get());
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.topic == nullptr || std::string(name) != t.topic) continue;
    TopicMetadata tm = ConvertTopic(t);
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || tm.partitions.empty()) {
      out.topic.reset();
    } else {
      out.topic = std::move(tm);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// ProbeConsumer

struct ProbeConsumer::Impl {
  ConsumerPtr rk;
};

ProbeConsumer::ProbeConsumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProbeConsumer::~ProbeConsumer() = default;

Result<std::unique_ptr<ProbeConsumer>> ProbeConsumer::Create(const KafkaConfig& config) {
  const std::string cid = ProbeClientId(config);
  // assign() needs a group.id in librdkafka; the group is never joined and
  // nothing is committed (librdkafka only looks up its coordinator).
  auto rk = NewHandle(RD_KAFKA_CONSUMER, config,
                      {{"client.id", cid},
                       {"group.id", cid},
                       {"enable.auto.commit", "false"},
                       {"enable.auto.offset.store", "false"},
                       {"enable.partition.eof", "false"},
                       {"auto.offset.reset", "latest"},
                       {"isolation.level", "read_uncommitted"},
                       {"queued.max.messages.kbytes", "1024"},
                       {"socket.nagle.disable", "true"}});
  if (!rk.ok()) return rk.status();
  auto impl = std::make_unique<Impl>();
  impl->rk.reset(rk.value());
  rd_kafka_poll_set_consumer(impl->rk.get());  // errors and logs come through consumer_poll
  return std::unique_ptr<ProbeConsumer>(new ProbeConsumer(std::move(impl)));
}

Result<std::vector<PartitionOffset>> ProbeConsumer::EndOffsets(const std::string& topic,
                                                               const std::vector<int32_t>& partitions,
                                                               Millis timeout) {
  std::vector<PartitionOffset> out;
  if (partitions.empty()) return out;
  PartitionListPtr query(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  if (!query) return Status::Error(Reason::kInternal, "cannot allocate a partition list");
  for (int32_t p : partitions) rd_kafka_topic_partition_list_add(query.get(), topic.c_str(), p)->offset = -1;
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(impl_->rk.get(), query.get(), KafkaMs(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(err);
  out.reserve(query->cnt);
  for (int i = 0; i < query->cnt; ++i) {
    const auto& e = query->elems[i];
    out.push_back({{e.topic ? e.topic : "", e.partition}, e.offset, e.err});
  }
  return out;
}

Status ProbeConsumer::Assign(const std::vector<PartitionOffset>& starts) {
  if (starts.empty()) return Status::Ok();
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(starts.size())));
  if (!list) return Status::Error(Reason::kInternal, "cannot allocate a partition list");
  for (const auto& s : starts) {
    rd_kafka_topic_partition_list_add(list.get(), s.tp.topic.c_str(), s.tp.partition)->offset = s.offset;
  }
  ErrorPtr e(rd_kafka_incremental_assign(impl_->rk.get(), list.get()));
  if (e) return Status::Error(Reason::kKafka, rd_kafka_error_string(e.get()));
  return Status::Ok();
}

Status ProbeConsumer::Unassign(const std::string& topic, const std::vector<int32_t>& partitions) {
  if (partitions.empty()) return Status::Ok();
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  if (!list) return Status::Error(Reason::kInternal, "cannot allocate a partition list");
  for (int32_t p : partitions) rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
  ErrorPtr e(rd_kafka_incremental_unassign(impl_->rk.get(), list.get()));
  if (e) return Status::Error(Reason::kKafka, rd_kafka_error_string(e.get()));
  return Status::Ok();
}

std::optional<ProbeRecord> ProbeConsumer::Poll(Millis wait) {
  MessagePtr m(rd_kafka_consumer_poll(impl_->rk.get(), KafkaMs(wait)));
  if (!m) return std::nullopt;
  ProbeRecord r;
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    r.error = rd_kafka_message_errstr(m.get());
    return r;
  }
  r.partition = m->partition;
  r.offset = m->offset;
  if (m->payload != nullptr) r.payload.assign(static_cast<const char*>(m->payload), m->len);
  return r;
}

}  // namespace dora
