// Builds the benchmark's Kafka layout with librdkafka alone (no consumers run):
//
//   cluster_setup create --bootstrap B --topics T --partitions P --groups G --topics-per-group M
//   cluster_setup touch  --bootstrap B [--prefix bench-topic-]   one message to every partition
//   cluster_setup layout --topics T --groups G --topics-per-group M   print group -> topics
//
// Layout: topics bench-topic-NNNNN with P partitions each (RF 1); partition p of
// topic t gets 5 + (t*31 + p*17) % 16 messages; group bench-group-NNNNN commits
// on M topics, (g*M + j) % T for j < M, every partition, at an offset that
// leaves a lag of (g*7 + p) % (messages + 1) (some lags are 0). Committed
// offsets are written with AlterConsumerGroupOffsets, one group per call (the
// librdkafka 2.0.2 limit) with up to 64 calls in flight. Every wait is bounded.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/kafka_handle.h"

namespace {

using dora::test::NewHandle;

using Clock = std::chrono::steady_clock;

struct Args {
  std::string cmd, bootstrap, prefix = "bench-topic-";
  int topics = 0, partitions = 0, groups = 0, per_group = 0;
};

std::string TopicName(int t) {
  char b[64];
  std::snprintf(b, sizeof b, "bench-topic-%05d", t);
  return b;
}
std::string GroupName(int g) {
  char b[64];
  std::snprintf(b, sizeof b, "bench-group-%05d", g);
  return b;
}
int Messages(int t, int p) { return 5 + (t * 31 + p * 17) % 16; }
int64_t Committed(int g, int t, int p) {
  int n = Messages(t, p);
  return n - (g * 7 + p) % (n + 1);
}

// Partition count per topic with the given prefix, and whether every partition has a leader.
std::map<std::string, int> Topics(rd_kafka_t* rk, const std::string& prefix, bool* all_led) {
  const rd_kafka_metadata_t* md = nullptr;
  std::map<std::string, int> out;
  *all_led = false;
  if (rd_kafka_metadata(rk, 1, nullptr, &md, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  bool led = true;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (std::strncmp(t.topic, prefix.c_str(), prefix.size()) != 0 || t.err) continue;
    out[t.topic] = t.partition_cnt;
    for (int p = 0; p < t.partition_cnt; ++p) led &= t.partitions[p].leader >= 0;
  }
  rd_kafka_metadata_destroy(md);
  *all_led = led;
  return out;
}

void CreateTopics(rd_kafka_t* rk, int topics, int partitions) {
  const int kBatch = 50;
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  char err[512];
  int created = 0, existed = 0;
  for (int base = 0; base < topics; base += kBatch) {
    std::vector<rd_kafka_NewTopic_t*> nts;
    for (int t = base; t < std::min(topics, base + kBatch); ++t) {
      rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(TopicName(t).c_str(), partitions, 1, err, sizeof err);
      if (nt == nullptr) throw std::runtime_error(err);
      nts.push_back(nt);
    }
    rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, 120000, err, sizeof err);
    rd_kafka_AdminOptions_set_request_timeout(opts, 150000, err, sizeof err);
    rd_kafka_CreateTopics(rk, nts.data(), nts.size(), opts, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 160000);
    if (ev == nullptr) throw std::runtime_error("CreateTopics: no answer");
    if (rd_kafka_event_error(ev))
      throw std::runtime_error(std::string("CreateTopics: ") + rd_kafka_event_error_string(ev));
    size_t n = 0;
    const rd_kafka_topic_result_t** res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
      if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        ++existed;
      else if (e)
        throw std::runtime_error(std::string("CreateTopics ") + rd_kafka_topic_result_name(res[i]) + ": " +
                                 rd_kafka_err2str(e));
      else
        ++created;
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    for (auto* nt : nts) rd_kafka_NewTopic_destroy(nt);
  }
  rd_kafka_queue_destroy(q);
  std::printf("topics: %d created, %d existed\n", created, existed);
}

void WaitLeaders(rd_kafka_t* rk, int topics, int partitions) {
  auto end = Clock::now() + std::chrono::minutes(10);
  for (int i = 0; Clock::now() < end; ++i) {
    bool led = false;
    auto t = Topics(rk, "bench-topic-", &led);
    long total = 0;
    for (const auto& [name, n] : t) total += n;
    if (led && static_cast<int>(t.size()) >= topics && total >= static_cast<long>(topics) * partitions)
      return;
    if (i % 10 == 0) std::printf("waiting for leaders: %zu topics, %ld partitions\n", t.size(), total);
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  throw std::runtime_error("partitions without leaders after 10 minutes");
}

void DeliveryCb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* c = static_cast<std::pair<long, long>*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
    ++c->first;
  else
    ++c->second;
}

// Produces `count(t, p)` messages to every partition of `topics` (name -> partitions).
void Produce(const std::string& bootstrap, const std::map<std::string, int>& topics,
             const std::function<int(const std::string&, int, int)>& count) {
  std::pair<long, long> acked{0, 0};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  const std::map<std::string, std::string> props = {{"bootstrap.servers", bootstrap},
                                                    {"acks", "all"},
                                                    {"linger.ms", "20"},
                                                    {"queue.buffering.max.messages", "1000000"},
                                                    {"sticky.partitioning.linger.ms", "0"}};
  for (const auto& [k, v] : props) rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err);
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  rd_kafka_conf_set_dr_msg_cb(conf, DeliveryCb);
  rd_kafka_conf_set_opaque(conf, &acked);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) throw std::runtime_error(err);
  std::string payload(40, 'x');
  long sent = 0;
  int ti = 0;
  for (const auto& [name, parts] : topics) {
    int t = std::atoi(name.c_str() + std::strlen("bench-topic-"));
    for (int p = 0; p < parts; ++p) {
      int n = count(name, t, p);
      for (int i = 0; i < n; ++i) {
        for (int attempt = 0; attempt < 10000; ++attempt) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"  // librdkafka's RD_KAFKA_V_* macros
          rd_kafka_resp_err_t e =
              rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(name.c_str()), RD_KAFKA_V_PARTITION(p),
                                RD_KAFKA_V_VALUE(payload.data(), payload.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
#pragma GCC diagnostic pop
          if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            ++sent;
            break;
          }
          if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) throw std::runtime_error(rd_kafka_err2str(e));
          rd_kafka_poll(rk, 10);
        }
      }
      rd_kafka_poll(rk, 0);
    }
    ++ti;
  }
  rd_kafka_flush(rk, 300000);
  rd_kafka_destroy(rk);
  std::printf("produced %ld messages: %ld acked, %ld failed\n", sent, acked.first, acked.second);
  if (acked.first != sent) throw std::runtime_error("not every message was acknowledged");
}

// librdkafka 2.0.2 can abort (rd_kafka_enq_once_del_source_return assertion)
// when an admin call's coordinator lookup is retried because the offsets topic
// does not exist yet. So: create it with a plain consumer's OffsetFetch first,
// and wait until each of its partitions has a leader.
void WarmCoordinator(const std::string& bootstrap) {
  rd_kafka_t* c =
      NewHandle(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap}, {"group.id", "bench-warmup"}}, true);
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
  for (int i = 0; i < 60 && err != RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, TopicName(0).c_str(), 0);
    err = rd_kafka_committed(c, l, 5000);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  for (int i = 0; i < 120; ++i) {
    bool led = false;
    auto t = Topics(c, "__consumer_offsets", &led);
    if (led && !t.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  if (err) throw std::runtime_error(std::string("group coordinator not available: ") + rd_kafka_err2str(err));
}

void CommitOffsets(rd_kafka_t* rk, int topics, int partitions, int groups, int per_group) {
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  char err[512];
  const int kInFlight = 64;
  int done = 0, in_flight = 0, failed = 0;
  // Groups to (re)send; a group whose coordinator is not ready yet (the
  // offsets topic is created by the first FindCoordinator) is retried.
  std::vector<int> todo;
  for (int g = groups - 1; g >= 0; --g) todo.push_back(g);
  std::map<int, int> attempts;
  auto end = Clock::now() + std::chrono::minutes(10);
  while (done < groups && Clock::now() < end) {
    while (in_flight < kInFlight && !todo.empty()) {
      int next = todo.back();
      todo.pop_back();
      ++attempts[next];
      rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(per_group * partitions);
      for (int j = 0; j < per_group; ++j) {
        int t = (next * per_group + j) % topics;
        for (int p = 0; p < partitions; ++p)
          rd_kafka_topic_partition_list_add(parts, TopicName(t).c_str(), p)->offset = Committed(next, t, p);
      }
      rd_kafka_AlterConsumerGroupOffsets_t* a =
          rd_kafka_AlterConsumerGroupOffsets_new(GroupName(next).c_str(), parts);
      rd_kafka_topic_partition_list_destroy(parts);
      rd_kafka_AdminOptions_t* opts =
          rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
      rd_kafka_AdminOptions_set_request_timeout(opts, 30000, err, sizeof err);
      rd_kafka_AdminOptions_set_opaque(opts, reinterpret_cast<void*>(static_cast<intptr_t>(next)));
      rd_kafka_AlterConsumerGroupOffsets(rk, &a, 1, opts, q);
      rd_kafka_AlterConsumerGroupOffsets_destroy(a);
      rd_kafka_AdminOptions_destroy(opts);
      ++in_flight;
    }
    if (in_flight == 0) break;
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 40000);
    if (ev == nullptr) break;
    --in_flight;
    int g = static_cast<int>(reinterpret_cast<intptr_t>(rd_kafka_event_opaque(ev)));
    std::string why;
    if (rd_kafka_event_error(ev)) {
      why = rd_kafka_event_error_string(ev);
    } else {
      size_t n = 0;
      const rd_kafka_group_result_t** gr = rd_kafka_AlterConsumerGroupOffsets_result_groups(
          rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
      for (size_t i = 0; i < n && why.empty(); ++i) {
        if (const rd_kafka_error_t* e = rd_kafka_group_result_error(gr[i])) why = rd_kafka_error_string(e);
        const rd_kafka_topic_partition_list_t* pl = rd_kafka_group_result_partitions(gr[i]);
        for (int k = 0; pl && k < pl->cnt && why.empty(); ++k)
          if (pl->elems[k].err) why = rd_kafka_err2str(pl->elems[k].err);
      }
    }
    rd_kafka_event_destroy(ev);
    if (why.empty()) {
      ++done;
    } else if (attempts[g] < 20) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      todo.push_back(g);
    } else {
      std::fprintf(stderr, "AlterConsumerGroupOffsets %s: %s\n", GroupName(g).c_str(), why.c_str());
      ++failed;
      ++done;
    }
  }
  rd_kafka_queue_destroy(q);
  std::printf("committed offsets for %d groups (%d failed)\n", done - failed, failed);
  if (done != groups || failed) throw std::runtime_error("committing offsets failed");
}

int Run(const Args& a) {
  if (a.cmd == "layout") {
    for (int g = 0; g < a.groups; ++g) {
      std::printf("%s", GroupName(g).c_str());
      for (int j = 0; j < a.per_group; ++j)
        std::printf(" %s", TopicName((g * a.per_group + j) % a.topics).c_str());
      std::printf("\n");
    }
    return 0;
  }
  rd_kafka_t* admin = NewHandle(RD_KAFKA_PRODUCER, {{"bootstrap.servers", a.bootstrap}}, true);
  auto start = Clock::now();
  auto secs = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  if (a.cmd == "create") {
    CreateTopics(admin, a.topics, a.partitions);
    WaitLeaders(admin, a.topics, a.partitions);
    std::printf("[%.1fs] %d x %d partitions led\n", secs(), a.topics, a.partitions);
    bool led = false;
    auto topics = Topics(admin, "bench-topic-", &led);
    Produce(a.bootstrap, topics, [](const std::string&, int t, int p) { return Messages(t, p); });
    std::printf("[%.1fs] produced\n", secs());
    WarmCoordinator(a.bootstrap);
    CommitOffsets(admin, a.topics, a.partitions, a.groups, a.per_group);
    std::printf("[%.1fs] committed\n", secs());
  } else if (a.cmd == "touch") {
    bool led = false;
    auto topics = Topics(admin, a.prefix, &led);
    Produce(a.bootstrap, topics, [](const std::string&, int, int) { return 1; });
    std::printf("[%.1fs] touched %zu topics\n", secs(), topics.size());
  } else {
    std::fprintf(stderr, "unknown command %s\n", a.cmd.c_str());
    rd_kafka_destroy(admin);
    return 2;
  }
  rd_kafka_destroy(admin);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: cluster_setup create|touch|layout --bootstrap B --topics T --partitions P "
                 "--groups G --topics-per-group M [--prefix P]\n");
    return 2;
  }
  Args a;
  a.cmd = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--bootstrap")
      a.bootstrap = v;
    else if (k == "--prefix")
      a.prefix = v;
    else if (k == "--topics")
      a.topics = std::atoi(v.c_str());
    else if (k == "--partitions")
      a.partitions = std::atoi(v.c_str());
    else if (k == "--groups")
      a.groups = std::atoi(v.c_str());
    else if (k == "--topics-per-group")
      a.per_group = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  try {
    return Run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cluster_setup: %s\n", e.what());
    return 1;
  }
}
