#pragma once
// connect: health of Kafka Connect clusters, from their REST API.
//
// Exports kafka_connect_{up, request_latency_seconds, info,
// last_success_timestamp_seconds, last_error, connectors, connector_state,
// connector_info, connector_failure_info, task_state, task_info,
// task_failure_info, worker_tasks}, each with label `connect` (the configured
// name, or the URL without credentials). docs/connect.md has the decisions.
//
// Requests per run and Connect cluster (HTTP(S) to any worker of it, none to
// Kafka): GET / (version, commit, Kafka cluster id) and
// GET /connectors?expand=status&expand=info (every connector's type, class,
// state, worker, and its tasks' states and workers; Connect 2.3+, KIP-465).
// Connect permissions: read access to those two endpoints.
//
// Clusters are probed concurrently (RunBoundedProbes, the schema registry's
// HTTP client), each within its own timeout and the collector's deadline. A
// Connect cluster being down is not a collector failure: Collect() succeeds
// and reports up 0 for it, without connector or task series.
//
// Never in a label or the log: the connectors' configurations (only
// connector.class is read), response bodies, credentials. A failed
// connector's or task's trace is reduced to its first line, bounded, and any
// configured secret value, URL credentials or key=value secret in it replaced.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "collectors/http_client.h"

namespace dora {

// The connector and task states of the Connect REST API, in this order the
// `state` label values of kafka_connect_{connector,task}_state.
extern const char* const kConnectStates[6];

struct ConnectTask {
  int id = 0;
  std::string state;  // one of kConnectStates, or another string a newer Connect reports
  std::string worker;
  std::string trace;  // reduced first line (ReduceTrace), FAILED only
};

struct ConnectConnector {
  std::string name;
  std::string type;  // source|sink|unknown
  std::string connector_class;
  std::string state;
  std::string worker;
  std::string trace;  // reduced first line, FAILED only
  std::vector<ConnectTask> tasks;
};

// The outcome of probing one Connect cluster once: plain data, rendered by RenderConnectProbe.
struct ConnectProbe {
  bool up = false;
  HttpErrorClass error = HttpErrorClass::kNone;
  std::string message;         // detail for the log; never a credential, a body or a config value
  double latency_seconds = 0;  // GET /, connect and TLS handshake included
  std::string version = "unknown";
  std::string commit = "unknown";
  std::string kafka_cluster_id = "unknown";
  uint64_t connectors_total = 0;             // every connector, also those beyond max_connectors
  std::vector<ConnectConnector> connectors;  // sorted by name, at most max_connectors
};

// The first line of a Java stack trace, at most `max_length` characters of
// printable ASCII, with secrets replaced by "[redacted]": the values of the
// connector's config keys that look secret (password, secret, token,
// credential, key, jaas, ...; at least 4 characters), user:password@ in URLs,
// and the values of password=/secret=/token=-like pairs.
std::string ReduceTrace(const std::string& trace, const std::vector<std::string>& secret_values,
                        size_t max_length);

// Parses the answer of GET /connectors?expand=status&expand=info into
// probe->connectors (sorted by name, at most max_connectors) and
// probe->connectors_total. False with *error set when it is not that shape.
bool ParseConnectors(const nlohmann::json& body, size_t max_connectors, size_t max_trace_length,
                     ConnectProbe* probe, std::string* error);

// Renders the series of one Connect cluster. `last_success_unix` is 0 when it never succeeded.
void RenderConnectProbe(const std::string& label, const ConnectProbe& probe, double last_success_unix,
                        MetricsBuilder& out);

class ConnectCollector : public Collector {
 public:
  // Connect clusters probed at the same time; more wait for a free slot.
  static constexpr int kMaxParallelProbes = 16;

  explicit ConnectCollector(ConnectCollectorConfig config);
  ~ConnectCollector() override;
  std::string name() const override { return "connect"; }
  Millis interval() const override { return config_.interval; }
  Millis timeout() const override { return config_.timeout; }
  Status Collect(const CollectContext& ctx, MetricsBuilder& out) override;

  struct ClusterState;  // per Connect cluster, kept across runs (defined in the .cpp)

 private:
  ConnectCollectorConfig config_;
  std::vector<std::unique_ptr<ClusterState>> states_;
};

}  // namespace dora
