#include "support/kafka_clients.h"

#include <librdkafka/rdkafka.h>

#include <map>
#include <stdexcept>
#include <vector>

#include "support/kafka_handle.h"

namespace dora::test {
namespace {

void DeliveryCb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) ++*static_cast<std::atomic<int64_t>*>(opaque);
}

rd_kafka_t* NewProducer(const std::string& bootstrap, std::atomic<int64_t>* acked) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "acks", "all", err, sizeof err);
  rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err);
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  rd_kafka_conf_set_dr_msg_cb(conf, DeliveryCb);
  rd_kafka_conf_set_opaque(conf, acked);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) throw std::runtime_error(std::string("producer: ") + err);
  return rk;
}

bool ProduceOne(rd_kafka_t* rk, const std::string& topic, int32_t partition, const std::string& payload) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    rd_kafka_resp_err_t e =
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return true;
    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) return false;
    rd_kafka_poll(rk, 10);
  }
  return false;
}

}  // namespace

int64_t ProduceMessages(const std::string& bootstrap, const std::string& topic, int64_t n, double rate,
                        int32_t partition, size_t size) {
  std::atomic<int64_t> acked{0};
  rd_kafka_t* rk = NewProducer(bootstrap, &acked);
  std::string payload(size, 'x');
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; ++i) {
    if (rate > 0) {
      auto due = start + std::chrono::microseconds(static_cast<int64_t>(1e6 * static_cast<double>(i) / rate));
      while (std::chrono::steady_clock::now() < due) rd_kafka_poll(rk, 1);
    }
    if (!ProduceOne(rk, topic, partition, payload)) break;
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 30000);
  rd_kafka_destroy(rk);
  return acked.load();
}

int64_t ProduceRecords(const std::string& bootstrap, const std::string& topic,
                       const std::vector<std::pair<std::string, std::string>>& records, int32_t partition) {
  std::atomic<int64_t> acked{0};
  rd_kafka_t* rk = NewProducer(bootstrap, &acked);
  for (const auto& [key, value] : records) {
    rd_kafka_resp_err_t e =
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) break;
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 30000);
  rd_kafka_destroy(rk);
  return acked.load();
}

void DeleteRecordsBefore(const std::string& bootstrap, const std::string& topic, int32_t partition,
                         int64_t before) {
  rd_kafka_t* rk = NewHandle(RD_KAFKA_PRODUCER, {{"bootstrap.servers", bootstrap}});
  rd_kafka_topic_partition_list_t* offs = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(offs, topic.c_str(), partition)->offset = before;
  rd_kafka_DeleteRecords_t* del = rd_kafka_DeleteRecords_new(offs);
  rd_kafka_topic_partition_list_destroy(offs);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_DeleteRecords(rk, &del, 1, nullptr, q);
  rd_kafka_DeleteRecords_destroy(del);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  std::string error;
  if (ev == nullptr)
    error = "DeleteRecords: no answer";
  else if (rd_kafka_event_error(ev))
    error = std::string("DeleteRecords: ") + rd_kafka_event_error_string(ev);
  else if (const auto* res = rd_kafka_event_DeleteRecords_result(ev)) {
    const rd_kafka_topic_partition_list_t* out = rd_kafka_DeleteRecords_result_offsets(res);
    if (out == nullptr || out->cnt != 1 || out->elems[0].err) error = "DeleteRecords: partition error";
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  if (!error.empty()) throw std::runtime_error(error);
}

SteadyProducer::SteadyProducer(const std::string& bootstrap, const std::string& topic, double rate,
                               int32_t partition) {
  started_ = std::chrono::steady_clock::now();
  thread_ = std::thread([this, bootstrap, topic, rate, partition] {
    rd_kafka_t* rk = NewProducer(bootstrap, &acked_);
    std::string payload(100, 'x');
    // Bounded: at most one hour of messages at the given rate.
    int64_t limit = static_cast<int64_t>(rate * 3600);
    for (int64_t i = 0; i < limit && !stop_.load(); ++i) {
      auto due =
          started_ + std::chrono::microseconds(static_cast<int64_t>(1e6 * static_cast<double>(i) / rate));
      while (std::chrono::steady_clock::now() < due && !stop_.load()) rd_kafka_poll(rk, 1);
      if (!ProduceOne(rk, topic, partition, payload)) break;
      rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 30000);
    rd_kafka_destroy(rk);
  });
}

SteadyProducer::~SteadyProducer() { Stop(); }

void SteadyProducer::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

int64_t ConsumeAndCommit(const std::string& bootstrap, const std::string& topic, const std::string& group,
                         int64_t n, std::chrono::seconds timeout) {
  rd_kafka_t* rk = NewHandle(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap},
                                                 {"group.id", group},
                                                 {"enable.auto.commit", "false"},
                                                 {"auto.offset.reset", "earliest"}});
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1) {
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    throw std::runtime_error("metadata for " + topic);
  }
  int parts = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  // assign(), never subscribe(): works on every broker version.
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(parts);
  for (int p = 0; p < parts; ++p)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_STORED;
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  std::map<int32_t, int64_t> next;
  int64_t got = 0;
  auto end = std::chrono::steady_clock::now() + timeout;
  while (got < n && std::chrono::steady_clock::now() < end) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      next[m->partition] = m->offset + 1;
      ++got;
    }
    rd_kafka_message_destroy(m);
  }
  if (!next.empty()) {
    rd_kafka_topic_partition_list_t* offs = rd_kafka_topic_partition_list_new(static_cast<int>(next.size()));
    for (const auto& [p, o] : next) rd_kafka_topic_partition_list_add(offs, topic.c_str(), p)->offset = o;
    rd_kafka_resp_err_t e = rd_kafka_commit(rk, offs, 0);
    rd_kafka_topic_partition_list_destroy(offs);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_consumer_close(rk);
      rd_kafka_destroy(rk);
      throw std::runtime_error(std::string("commit: ") + rd_kafka_err2str(e));
    }
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return got;
}

std::vector<TopicRecord> ReadTopic(const std::string& bootstrap, const std::string& topic, size_t min_records,
                                   std::chrono::seconds timeout, std::chrono::milliseconds settle) {
  rd_kafka_t* rk =
      NewHandle(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap},
                                    {"group.id", "dora-test-reader"},  // assign() needs one; never joined
                                    {"enable.auto.commit", "false"},
                                    {"enable.partition.eof", "false"}});
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1) {
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    throw std::runtime_error("metadata for " + topic);
  }
  const int parts = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(parts);
  for (int p = 0; p < parts; ++p)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<TopicRecord> out;
  const auto end = std::chrono::steady_clock::now() + timeout;
  auto last = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < end) {
    if (out.size() >= min_records && std::chrono::steady_clock::now() - last >= settle) break;
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      TopicRecord r;
      r.partition = m->partition;
      r.offset = m->offset;
      if (m->key != nullptr) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
      r.null_value = m->payload == nullptr;
      out.push_back(std::move(r));
      last = std::chrono::steady_clock::now();
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  return out;
}

void CommitOffsetInTransaction(const std::string& bootstrap, const std::string& group,
                               const std::string& topic, int32_t partition, int64_t offset, bool commit) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  const std::string txn_id = "dora-test-txn-" + group;
  for (auto [k, v] : std::map<std::string, std::string>{{"bootstrap.servers", bootstrap},
                                                        {"transactional.id", txn_id},
                                                        {"transaction.timeout.ms", "30000"}}) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      throw std::runtime_error(std::string("transactional producer: ") + err);
  }
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) throw std::runtime_error(std::string("transactional producer: ") + err);
  std::string failure;
  auto check = [&](rd_kafka_error_t* e, const char* what) {
    if (e == nullptr) return true;
    failure = std::string(what) + ": " + rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
    return false;
  };
  constexpr int kMs = 30000;
  if (check(rd_kafka_init_transactions(rk, kMs), "init_transactions") &&
      check(rd_kafka_begin_transaction(rk), "begin_transaction")) {
    rd_kafka_topic_partition_list_t* offs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offs, topic.c_str(), partition)->offset = offset;
    rd_kafka_consumer_group_metadata_t* cgmd = rd_kafka_consumer_group_metadata_new(group.c_str());
    bool sent =
        check(rd_kafka_send_offsets_to_transaction(rk, offs, cgmd, kMs), "send_offsets_to_transaction");
    rd_kafka_consumer_group_metadata_destroy(cgmd);
    rd_kafka_topic_partition_list_destroy(offs);
    if (sent) {
      if (commit)
        check(rd_kafka_commit_transaction(rk, kMs), "commit_transaction");
      else
        check(rd_kafka_abort_transaction(rk, kMs), "abort_transaction");
    }
  }
  rd_kafka_destroy(rk);
  if (!failure.empty()) throw std::runtime_error(failure);
}

GroupMember::GroupMember(const std::string& bootstrap, const std::string& topic, const std::string& group,
                         Mode mode)
    : mode_(mode) {
  thread_ = std::thread([this, bootstrap, topic, group] {
    rd_kafka_t* rk = NewHandle(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap},
                                                   {"group.id", group},
                                                   {"enable.auto.commit", "false"},
                                                   {"auto.offset.reset", "earliest"},
                                                   {"session.timeout.ms", "10000"},
                                                   {"heartbeat.interval.ms", "1000"}});
    rd_kafka_poll_set_consumer(rk);
    {
      char cid[256] = "";
      size_t cid_size = sizeof cid;
      rd_kafka_conf_get(rd_kafka_conf(rk), "client.id", cid, &cid_size);
      std::lock_guard<std::mutex> lock(mu_);
      client_id_ = cid;
    }
    rd_kafka_topic_partition_list_t* sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    auto last_commit = std::chrono::steady_clock::now();
    bool paused = false;
    // Bounded: at most one hour.
    auto end = std::chrono::steady_clock::now() + std::chrono::hours(1);
    while (!stop_.load() && std::chrono::steady_clock::now() < end) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
      if (m != nullptr) {
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          ++consumed_;
        }
        rd_kafka_message_destroy(m);
      }
      rd_kafka_topic_partition_list_t* assignment = nullptr;
      if (rd_kafka_assignment(rk, &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        assigned_.store(assignment->cnt > 0);
        if (assignment->cnt > 0) {
          if (char* id = rd_kafka_memberid(rk)) {
            std::lock_guard<std::mutex> lock(mu_);
            member_id_ = id;
            rd_kafka_mem_free(rk, id);
          }
        }
        bool stall = mode_.load() == Mode::kStall;
        if (stall != paused && assignment->cnt > 0) {
          if (stall)
            rd_kafka_pause_partitions(rk, assignment);
          else
            rd_kafka_resume_partitions(rk, assignment);
          paused = stall;
        }
        rd_kafka_topic_partition_list_destroy(assignment);
      }
      if (std::chrono::steady_clock::now() - last_commit > std::chrono::milliseconds(500)) {
        // Commits the current positions: in stall mode they do not move.
        rd_kafka_topic_partition_list_t* pos = nullptr;
        if (rd_kafka_assignment(rk, &pos) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          rd_kafka_position(rk, pos);
          bool any = false;
          for (int i = 0; i < pos->cnt; ++i) any |= pos->elems[i].offset >= 0;
          if (any) rd_kafka_commit(rk, pos, 0);
          rd_kafka_topic_partition_list_destroy(pos);
        }
        last_commit = std::chrono::steady_clock::now();
      }
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  });
}

std::string GroupMember::member_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return member_id_;
}

std::string GroupMember::client_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return client_id_;
}

GroupMember::~GroupMember() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

}  // namespace dora::test
