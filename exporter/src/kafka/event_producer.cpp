#include "kafka/event_producer.h"

#include <librdkafka/rdkafka.h>

#include "kafka/conf.h"
#include "kafka/handle.h"
#include "kafka/log_callbacks.h"
#include "kafka/types.h"

namespace dora {
namespace {

inline constexpr char kIncidentsLogger[] = "librdkafka.incidents";

using ProducerPtr = Handle<rd_kafka_t, rd_kafka_destroy>;

class RdEventProducer : public EventProducer {
 public:
  ~RdEventProducer() override {
    if (!rk_) return;
    // Outstanding messages fail now instead of holding up destroy; they are
    // still in the spool.
    rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk_.get(), 0);
  }

  static Result<std::unique_ptr<EventProducer>> Create(const KafkaConfig& config, const std::string& topic,
                                                       const std::string& compression) {
    auto self = std::unique_ptr<RdEventProducer>(new RdEventProducer());
    auto conf = BuildKafkaConf(config, {{"client.id", config.client_id + "-incidents"},
                                        {"enable.idempotence", "true"},
                                        {"acks", "all"},
                                        {"enable.gapless.guarantee", "true"},
                                        {"message.timeout.ms", "0"},
                                        {"compression.codec", compression},
                                        {"allow.auto.create.topics", "false"},
                                        {"linger.ms", "5"}});
    if (!conf.ok()) return conf.status();
    rd_kafka_conf_t* c = conf.value().get();
    SetLogCallbacks<kIncidentsLogger>(c);
    rd_kafka_conf_set_opaque(c, self.get());
    rd_kafka_conf_set_dr_msg_cb(c, &RdEventProducer::DeliveryCb);
    char errstr[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof errstr);
    if (rk == nullptr)
      return Status::Error(Reason::kConfig,
                           std::string("incident events: cannot create the producer: ") + errstr);
    conf.value().release();  // rd_kafka_new took it
    self->rk_.reset(rk);
    self->topic_.reset(rd_kafka_topic_new(rk, topic.c_str(), nullptr));
    if (!self->topic_) {
      return Status::Error(Reason::kConfig, "incident events: cannot use topic \"" + topic +
                                                "\": " + rd_kafka_err2str(rd_kafka_last_error()));
    }
    return std::unique_ptr<EventProducer>(std::move(self));
  }

  Status Produce(uint64_t id, const std::string& key, const std::string& payload) override {
    // rd_kafka_produce rather than producev: the RD_KAFKA_V_* macros use C casts.
    if (rd_kafka_produce(topic_.get(), RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                         const_cast<char*>(payload.data()), payload.size(), key.data(), key.size(),
                         reinterpret_cast<void*>(static_cast<uintptr_t>(id))) != 0) {
      return Status::Error(Reason::kKafka, rd_kafka_err2str(rd_kafka_last_error()));
    }
    return Status::Ok();
  }

  std::vector<EventDelivery> Poll(Millis wait) override {
    rd_kafka_poll(rk_.get(), KafkaMs(wait));
    std::vector<EventDelivery> out;
    out.swap(reports_);
    return out;
  }

  std::string FatalError() override {
    char errstr[512];
    if (rd_kafka_fatal_error(rk_.get(), errstr, sizeof errstr) == RD_KAFKA_RESP_ERR_NO_ERROR) return "";
    return errstr;
  }

  int Outstanding() override { return rd_kafka_outq_len(rk_.get()); }

 private:
  RdEventProducer() = default;

  // On the thread in rd_kafka_poll (the publisher's) or in the destructor's.
  static void DeliveryCb(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
    try {
      auto* self = static_cast<RdEventProducer*>(opaque);
      EventDelivery d;
      d.id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(m->_private));
      d.ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
      d.partition = m->partition;
      d.offset = m->offset;
      if (!d.ok) d.error = rd_kafka_err2str(m->err);
      self->reports_.push_back(std::move(d));
    } catch (...) {
    }
  }

  // Declared before the handles, so destroyed after them: the destructor's
  // purge still reports into it.
  std::vector<EventDelivery> reports_;
  ProducerPtr rk_;
  TopicPtr topic_;
};

}  // namespace

Result<std::unique_ptr<EventProducer>> CreateEventProducer(const KafkaConfig& config,
                                                           const std::string& topic,
                                                           const std::string& compression) {
  return RdEventProducer::Create(config, topic, compression);
}

}  // namespace dora
