#pragma once
// KafkaCluster: a real Apache Kafka (KRaft) cluster on 127.0.0.1 for integration
// tests, driven through tests/kafka/kafkactl.py (which resolves the Kafka jars
// with Maven into ~/.cache/dora-kafka-exporter on first use).
//
// Every node is a combined broker+controller JVM in its own session, under a
// fresh temp directory. The cluster is started with --watch-pid <this process>,
// so a detached watchdog stops it if the test process dies without running the
// destructor (crash, SIGKILL, ctrl-C). The destructor stops everything (SIGKILL:
// the data is thrown away) and removes the directory.
//
// Requires the compile definition DORA_SOURCE_DIR="<repo root>". Environment:
//   DORA_KAFKA_VERSION  default Kafka version (3.9.1)
//   DORA_KAFKA_CACHE    jar cache (default ~/.cache/dora-kafka-exporter)
//   DORA_PYTHON         python interpreter (default: python3 on PATH)
//   DORA_KAFKA_KEEP=1   keep the cluster directory (logs) after the test
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace dora::test {

// Result of one kafkactl.py run.
struct CtlRun {
  int exit_code = -1;  // 128+N when killed by signal N, -1 on timeout
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs `python3 kafkactl.py args...` with fork/exec (no shell), stdout/stderr
// captured, killed (with its process group) after `timeout`. `dir` (if not empty)
// is passed as DORA_KAFKA_DIR, the default --dir of every subcommand.
CtlRun RunKafkactl(const std::vector<std::string>& args, std::chrono::seconds timeout,
                   const std::string& dir = "");

// Absolute path of tests/kafka/kafkactl.py (DORA_SOURCE_DIR based).
std::string KafkactlPath();

class KafkaCluster {
 public:
  // Starts a cluster of `nodes` nodes (1..5) in a fresh temp dir, with --watch-pid getpid().
  // `broker_configs` ("key=value") override the test defaults of every node.
  // Throws std::runtime_error with the script's output on failure.
  static std::unique_ptr<KafkaCluster> Start(int nodes, const std::string& version = DefaultVersion(),
                                             const std::vector<std::string>& broker_configs = {});
  static std::string DefaultVersion();  // env DORA_KAFKA_VERSION or "3.9.1"

  ~KafkaCluster();  // stops everything, removes the temp dir
  KafkaCluster(const KafkaCluster&) = delete;
  KafkaCluster& operator=(const KafkaCluster&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }
  int node_count() const { return nodes_; }
  const std::string& version() const { return version_; }
  std::string dir() const { return dir_; }

  // Graceful (SIGTERM, controlled shutdown) or SIGKILL.
  void StopNode(int id, bool kill = false);
  // Restarts a stopped node with the same config/ports; returns once it is
  // registered and unfenced.
  void StartNode(int id);
  void FreezeNode(int id);  // SIGSTOP
  void ThawNode(int id);    // SIGCONT

  // Returns once every running broker sees a leader for every partition.
  void CreateTopic(const std::string& name, int partitions, int rf,
                   const std::vector<std::string>& configs = {});
  // Returns once no running broker knows the topic any more.
  void DeleteTopic(const std::string& name);
  // The 16 DORA seed topics, 12 partitions, rf min(3,N), min.insync.replicas min(2,N).
  void SeedTopics();
  // ProducerPerformance, acks=all, 100-byte records; rate < 0: unthrottled.
  void Produce(const std::string& topic, long n, long rate = -1);
  // MirrorMaker 2 (dedicated mode, tests/kafka/kafkactl.py mm2-start) from
  // this cluster (alias `source_alias`) to `target` (alias `target_alias`),
  // replicating the topics matching `topics`, with the test intervals of
  // kafkactl.py (checkpoints and group offset syncs every second, an offset
  // sync per record); `configs` ("key=value") override mm2.properties. Returns
  // once MM2 has started its connectors. Stopped with this cluster.
  void StartMirrorMaker(const KafkaCluster& target, const std::string& topics = ".*",
                        const std::string& source_alias = "primary", const std::string& target_alias = "dr",
                        const std::vector<std::string>& configs = {});
  void StopMirrorMaker(bool kill = false);
  // ConsumerGroupCommand with --bootstrap-server filled in; returns stdout.
  std::string Groups(const std::vector<std::string>& args);

  // Runs kafkactl.py with args (--dir defaults to this cluster), returns stdout,
  // throws on non-zero exit (message includes stderr).
  std::string Ctl(const std::vector<std::string>& args,
                  std::chrono::seconds timeout = std::chrono::seconds(300)) const;

  // Last lines of a node's server log (for INFO() on failures).
  std::string NodeLogTail(int id, int lines = 40) const;
  // The first node's log.dirs (its data directory), from cluster.json.
  std::string DataDir() const;

 private:
  KafkaCluster(std::string dir, std::string version, int nodes);
  std::string dir_;
  std::string version_;
  int nodes_;
  std::string bootstrap_;
};

// Thaws a frozen node even when an assertion ends the test early.
struct ThawGuard {
  KafkaCluster* kafka;
  int id;
  bool armed = true;
  ~ThawGuard() {
    if (!armed) return;
    try {
      kafka->ThawNode(id);
    } catch (...) {
    }
  }
};

}  // namespace dora::test
