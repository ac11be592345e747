#include "kafka/client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "kafka/conf.h"
#include "kafka/handle.h"
#include "kafka/log_callbacks.h"
#include "kafka/metadata_convert.h"
#include "kafka/properties.h"
#include "util/log.h"

namespace dora {

// No consumer close: the handle never joins its group, and a close could wait
// on a coordinator that is down.
void KafkaHandleDeleter::operator()(rd_kafka_t* rk) const {
  rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

namespace {

Status FromKafkaError(rd_kafka_resp_err_t err, const std::string& what) {
  return Status::Error(IsTimeoutError(err) ? Reason::kTimeout : Reason::kKafka,
                       what + ": " + rd_kafka_err2str(err));
}

OptionsPtr AdminOptions(rd_kafka_t* rk, rd_kafka_admin_op_t op, Millis timeout) {
  OptionsPtr opts(rd_kafka_AdminOptions_new(rk, op));
  if (!opts) return opts;
  char errstr[256];
  rd_kafka_AdminOptions_set_request_timeout(opts.get(), KafkaMs(timeout), errstr, sizeof errstr);
  return opts;
}

// Waits for the admin result event; a queue poll that returns nothing is a timeout.
Result<EventPtr> WaitEvent(rd_kafka_queue_t* q, Millis timeout, const std::string& what) {
  // A little slack over the request timeout so librdkafka's own timeout error wins.
  EventPtr ev(rd_kafka_queue_poll(q, KafkaMs(timeout, 500)));
  if (!ev) return Status::Error(Reason::kTimeout, what + ": no response within " + FormatDuration(timeout));
  if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return FromKafkaError(rd_kafka_event_error(ev.get()), what);
  }
  return ev;
}

ConfigValues ReadEntries(const rd_kafka_ConfigResource_t* res) {
  ConfigValues out;
  size_t n = 0;
  const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(res, &n);
  for (size_t i = 0; i < n; ++i) {
    const char* name = rd_kafka_ConfigEntry_name(entries[i]);
    const char* value = rd_kafka_ConfigEntry_value(entries[i]);
    if (name != nullptr && !rd_kafka_ConfigEntry_is_sensitive(entries[i])) out[name] = value ? value : "";
  }
  return out;
}

}  // namespace

int StatsTrampoline(rd_kafka_t* /*rk*/, char* json, size_t len, void* opaque) {
  try {
    auto* self = static_cast<KafkaClient*>(opaque);
    if (self != nullptr && self->stats_cb_) self->stats_cb_(std::string(json, len));
  } catch (...) {
  }
  return 0;  // librdkafka frees json
}

std::string AdminGroupId(const KafkaConfig& config) { return config.client_id + "-admin"; }

std::map<std::string, std::string> GroupClientProperties(const KafkaConfig& config) {
  std::map<std::string, std::string> props;
  if (config.properties.count("group.id") == 0) props["group.id"] = AdminGroupId(config);
  // rd_kafka_coord_cache_expire runs every second and drops the entries unused
  // for longer than this: each run looks its groups' coordinators up afresh
  // (FindCoordinator per group, which librdkafka's 11-entry cache made the
  // rule above 11 groups anyway).
  props["metadata.max.age.ms"] = "100";
  return props;
}

std::string KafkaErrorString(int err) { return rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err)); }

int KafkaTimedOutError() { return RD_KAFKA_RESP_ERR__TIMED_OUT; }

bool IsTimeoutError(int err) {
  return err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT ||
         err == RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
         err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;
}

Result<std::unique_ptr<KafkaClient>> KafkaClient::Create(const KafkaConfig& config,
                                                         const std::map<std::string, std::string>& extra,
                                                         std::function<void(const std::string&)> stats_cb) {
  std::map<std::string, std::string> props = {
      // Watermarks are the log end, not the last stable offset (kafka_exporter parity).
      {"isolation.level", "read_uncommitted"},
      {"enable.auto.commit", "false"},
  };
  for (const auto& [k, v] : extra) props[k] = v;
  auto conf = BuildKafkaConf(config, props);
  if (!conf.ok()) return conf.status();
  std::unique_ptr<KafkaClient> client(new KafkaClient());
  client->stats_cb_ = std::move(stats_cb);
  rd_kafka_conf_t* c = conf.value().release();
  SetLogCallbacks<kClientLogger>(c);
  rd_kafka_conf_set_opaque(c, client.get());
  if (client->stats_cb_) rd_kafka_conf_set_stats_cb(c, StatsTrampoline);
  char group_id[256] = "";
  size_t group_id_size = sizeof group_id;
  bool grouped =
      rd_kafka_conf_get(c, "group.id", group_id, &group_id_size) == RD_KAFKA_CONF_OK && group_id[0] != '\0';
  char errstr[512];
  // A consumer-type handle: metadata, admin and ListOffsets work, and
  // isolation.level applies (it is a consumer property).
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof errstr);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(c);
    return Status::Error(Reason::kConfig, std::string("cannot create Kafka client: ") + errstr);
  }
  client->rk_.reset(rk);
  // With a group.id the handle has a consumer group (never joined): its queue
  // gets the main queue's events too, and is served by consumer polls.
  client->grouped_ = grouped;
  if (client->grouped_) rd_kafka_poll_set_consumer(rk);
  KafkaClient* self = client.get();
  client->poller_ = std::thread([self] {
    while (!self->stop_poller_.load()) self->Serve(200);
  });
  return client;
}

KafkaClient::~KafkaClient() {
  stop_poller_.store(true);
  if (poller_.joinable()) poller_.join();
}

Result<ClusterMetadata> KafkaClient::Metadata(Millis timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  auto start = std::chrono::steady_clock::now();
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 1, nullptr, &md, KafkaMs(timeout));
  const MetadataPtr md_owner(md);  // released however this returns (a bad_alloc below included)
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return FromKafkaError(err, "Metadata");
  if (md == nullptr) return Status::Error(Reason::kKafka, "Metadata: no answer");
  ClusterMetadata out;
  out.brokers = ConvertBrokers(*md);
  out.topics.reserve(md->topic_cnt);
  for (int i = 0; i < md->topic_cnt; ++i) out.topics.push_back(ConvertTopic(md->topics[i]));
  // Brokers answer topics in no fixed order: sorted, equal metadata compares
  // equal (and the exposition keeps one order).
  std::sort(out.topics.begin(), out.topics.end(),
            [](const TopicMetadata& a, const TopicMetadata& b) { return a.name < b.name; });
  // The metadata response just carried the controller and cluster id, so these
  // answer from librdkafka's cache; the short bound covers a race with a refresh.
  auto left = timeout - std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start);
  int wait_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1000));
  out.controller_id = rd_kafka_controllerid(rk_.get(), wait_ms);
  if (char* id = rd_kafka_clusterid(rk_.get(), wait_ms)) {
    out.cluster_id = id;
    rd_kafka_mem_free(rk_.get(), id);
  }
  return out;
}

Result<std::map<std::string, ConfigValues>> KafkaClient::DescribeTopicConfigs(
    const std::vector<std::string>& topics, Millis timeout) {
  std::map<std::string, ConfigValues> out;
  if (topics.empty()) return out;
  std::vector<ConfigResourcePtr> owned;
  std::vector<rd_kafka_ConfigResource_t*> resources;
  owned.reserve(topics.size());
  resources.reserve(topics.size());
  for (const auto& t : topics) {
    owned.emplace_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, t.c_str()));
    if (!owned.back())
      return Status::Error(Reason::kKafka, "DescribeConfigs(topics): cannot describe topic " + t);
    resources.push_back(owned.back().get());
  }
  QueuePtr q(rd_kafka_queue_new(rk_.get()));
  auto opts = AdminOptions(rk_.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout);
  if (!q || !opts) return Status::Error(Reason::kKafka, "DescribeConfigs(topics): cannot create the request");
  // DescribeConfigs copies the resources; `owned` releases them.
  rd_kafka_DescribeConfigs(rk_.get(), resources.data(), resources.size(), opts.get(), q.get());
  auto ev = WaitEvent(q.get(), timeout, "DescribeConfigs(topics)");
  if (!ev.ok()) return ev.status();
  const rd_kafka_DescribeConfigs_result_t* res = rd_kafka_event_DescribeConfigs_result(ev.value().get());
  if (res == nullptr) return Status::Error(Reason::kKafka, "DescribeConfigs(topics): unexpected event");
  size_t n = 0;
  const rd_kafka_ConfigResource_t** rs = rd_kafka_DescribeConfigs_result_resources(res, &n);
  for (size_t i = 0; i < n; ++i) {
    if (rd_kafka_ConfigResource_error(rs[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    out[rd_kafka_ConfigResource_name(rs[i])] = ReadEntries(rs[i]);
  }
  return out;
}

Result<ConfigValues> KafkaClient::DescribeBrokerConfig(int32_t broker_id, Millis timeout) {
  std::string id = std::to_string(broker_id);
  ConfigResourcePtr resource(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, id.c_str()));
  QueuePtr q(rd_kafka_queue_new(rk_.get()));
  auto opts = AdminOptions(rk_.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout);
  if (!resource || !q || !opts)
    return Status::Error(Reason::kKafka, "DescribeConfigs(broker " + id + "): cannot create the request");
  rd_kafka_ConfigResource_t* r = resource.get();
  rd_kafka_DescribeConfigs(rk_.get(), &r, 1, opts.get(), q.get());
  auto ev = WaitEvent(q.get(), timeout, "DescribeConfigs(broker " + id + ")");
  if (!ev.ok()) return ev.status();
  const rd_kafka_DescribeConfigs_result_t* res = rd_kafka_event_DescribeConfigs_result(ev.value().get());
  size_t n = 0;
  const rd_kafka_ConfigResource_t** rs = res ? rd_kafka_DescribeConfigs_result_resources(res, &n) : nullptr;
  if (n != 1)
    return Status::Error(Reason::kKafka, "DescribeConfigs(broker " + id + "): no resource in response");
  if (auto err = rd_kafka_ConfigResource_error(rs[0]); err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return FromKafkaError(err, "DescribeConfigs(broker " + id + ")");
  return ReadEntries(rs[0]);
}

Result<std::vector<PartitionOffset>> KafkaClient::ListOffsets(const std::vector<TopicPartition>& partitions,
                                                              int64_t timestamp, Millis timeout) {
  std::vector<PartitionOffset> out;
  if (partitions.empty()) return out;
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  if (!list) return Status::Error(Reason::kKafka, "ListOffsets: cannot create the partition list");
  for (const auto& tp : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = timestamp;
  }
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk_.get(), list.get(), KafkaMs(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return FromKafkaError(err, "ListOffsets");
  out.reserve(list->cnt);
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    out.push_back({{e.topic, e.partition}, e.offset, e.err});
  }
  return out;
}

namespace {

// The per-topic error of a CreateTopics/CreatePartitions result.
Status TopicResultStatus(const rd_kafka_topic_result_t** results, size_t n, const std::string& what) {
  if (n != 1) return Status::Error(Reason::kKafka, what + ": no topic in response");
  rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[0]);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
  const char* msg = rd_kafka_topic_result_error_string(results[0]);
  return Status::Error(IsTimeoutError(err) ? Reason::kTimeout : Reason::kKafka,
                       what + ": " + rd_kafka_err2name(err) + ": " + (msg ? msg : rd_kafka_err2str(err)));
}

}  // namespace

Status KafkaClient::CreateTopic(const std::string& topic, const std::vector<std::vector<int32_t>>& assignment,
                                const std::map<std::string, std::string>& configs, Millis timeout) {
  const std::string what = "CreateTopics(" + topic + ")";
  if (assignment.empty()) return Status::Error(Reason::kConfig, what + ": no partitions");
  char errstr[512];
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(topic.c_str(), static_cast<int>(assignment.size()), -1, errstr, sizeof errstr);
  if (nt == nullptr) return Status::Error(Reason::kConfig, what + ": " + errstr);
  const Handle<rd_kafka_NewTopic_t, rd_kafka_NewTopic_destroy> guard(nt);
  for (size_t p = 0; p < assignment.size(); ++p) {
    std::vector<int32_t> replicas = assignment[p];
    if (rd_kafka_NewTopic_set_replica_assignment(nt, static_cast<int32_t>(p), replicas.data(),
                                                 replicas.size(), errstr,
                                                 sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR)
      return Status::Error(Reason::kConfig, what + ": " + errstr);
  }
  for (const auto& [k, v] : configs) {
    if (rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str()) != RD_KAFKA_RESP_ERR_NO_ERROR)
      return Status::Error(Reason::kConfig, what + ": bad config " + k);
  }
  QueuePtr q(rd_kafka_queue_new(rk_.get()));
  auto opts = AdminOptions(rk_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout);
  if (!q || !opts) return Status::Error(Reason::kKafka, what + ": cannot create the request");
  rd_kafka_AdminOptions_set_operation_timeout(opts.get(), KafkaMs(timeout), errstr, sizeof errstr);
  rd_kafka_CreateTopics(rk_.get(), &nt, 1, opts.get(), q.get());
  auto ev = WaitEvent(q.get(), timeout, what);
  if (!ev.ok()) return ev.status();
  const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev.value().get());
  if (res == nullptr) return Status::Error(Reason::kKafka, what + ": unexpected event");
  size_t n = 0;
  const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(res, &n);
  return TopicResultStatus(topics, n, what);
}

Status KafkaClient::CreatePartitions(const std::string& topic, int total_count,
                                     const std::vector<std::vector<int32_t>>& new_assignment,
                                     Millis timeout) {
  const std::string what = "CreatePartitions(" + topic + ")";
  char errstr[512];
  rd_kafka_NewPartitions_t* np =
      rd_kafka_NewPartitions_new(topic.c_str(), static_cast<size_t>(total_count), errstr, sizeof errstr);
  if (np == nullptr) return Status::Error(Reason::kConfig, what + ": " + errstr);
  const Handle<rd_kafka_NewPartitions_t, rd_kafka_NewPartitions_destroy> guard(np);
  for (size_t j = 0; j < new_assignment.size(); ++j) {
    std::vector<int32_t> replicas = new_assignment[j];
    if (rd_kafka_NewPartitions_set_replica_assignment(np, static_cast<int32_t>(j), replicas.data(),
                                                      replicas.size(), errstr,
                                                      sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR)
      return Status::Error(Reason::kConfig, what + ": " + errstr);
  }
  QueuePtr q(rd_kafka_queue_new(rk_.get()));
  auto opts = AdminOptions(rk_.get(), RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, timeout);
  if (!q || !opts) return Status::Error(Reason::kKafka, what + ": cannot create the request");
  rd_kafka_AdminOptions_set_operation_timeout(opts.get(), KafkaMs(timeout), errstr, sizeof errstr);
  rd_kafka_CreatePartitions(rk_.get(), &np, 1, opts.get(), q.get());
  auto ev = WaitEvent(q.get(), timeout, what);
  if (!ev.ok()) return ev.status();
  const rd_kafka_CreatePartitions_result_t* res = rd_kafka_event_CreatePartitions_result(ev.value().get());
  if (res == nullptr) return Status::Error(Reason::kKafka, what + ": unexpected event");
  size_t n = 0;
  const rd_kafka_topic_result_t** topics = rd_kafka_CreatePartitions_result_topics(res, &n);
  return TopicResultStatus(topics, n, what);
}

int KafkaClient::Serve(int timeout_ms) {
  if (!grouped_) return rd_kafka_poll(rk_.get(), timeout_ms);
  // Serves the callbacks; what the group itself reports (it never joins, so
  // only coordinator errors such as GROUP_AUTHORIZATION_FAILED) is logged.
  rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), timeout_ms);
  if (m == nullptr) return 0;
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    try {
      GetLogger("librdkafka")->debug("admin group: {}", rd_kafka_message_errstr(m));
    } catch (...) {
    }
  }
  rd_kafka_message_destroy(m);
  return 1;
}

int KafkaClient::ServeCallbacks() { return Serve(0); }

}  // namespace dora
