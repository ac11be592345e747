#pragma once
// schema_registry: health of Confluent-compatible schema registries (Confluent
// Schema Registry, Karapace, Apicurio's ccompat API).
//
// Exports kafka_schema_registry_{up, request_latency_seconds, subjects,
// schema_versions, info, last_success_timestamp_seconds, last_error}, each with
// label `registry` (the configured name, or the URL without credentials).
//
// Requests per run and registry (HTTP(S) to the registry, none to Kafka):
// GET /subjects, GET /mode, GET /config, then GET /subjects/<s>/versions for at
// most kMaxVersionRequestsPerRun subjects (round robin, counts cached across runs).
// Kafka ACLs: none. Registry permissions: read subjects, mode and global config.
//
// Registries are probed concurrently (RunBoundedProbes, collectors/http_client.h),
// each within its own timeout and the collector's deadline, so one slow or dead registry never delays the
// others. A registry being down is not a collector failure: Collect() succeeds and reports up 0 for it
// (docs/schema-registry.md).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "collectors/http_client.h"

namespace dora {

// The `class` label of kafka_schema_registry_last_error (collectors/http_client.h).
using RegistryErrorClass = HttpErrorClass;
inline const char* RegistryErrorClassName(RegistryErrorClass c) { return HttpErrorClassName(c); }

// The outcome of probing one registry once: plain data, rendered by RenderRegistryProbe.
struct RegistryProbe {
  bool up = false;
  RegistryErrorClass error = RegistryErrorClass::kNone;
  std::string message;                      // detail for the log; never holds a credential or a response body
  double latency_seconds = 0;               // GET /subjects, connect and TLS handshake included
  uint64_t subjects = 0;                    // meaningful when up
  std::optional<uint64_t> schema_versions;  // absent until every current subject has been counted
  std::string mode = "unknown";             // GET /mode
  std::string compatibility = "unknown";    // GET /config compatibilityLevel
};

// scheme://host:port plus the path prefix the API lives under ("" or "/apis/ccompat/v7").
using RegistryUrl = HttpUrl;
inline std::optional<RegistryUrl> ParseRegistryUrl(const std::string& url) { return ParseHttpUrl(url); }

// The `registry` label: the name, or the URL; any user:password@ part is removed.
inline std::string RegistryLabel(const SchemaRegistryEndpoint& endpoint) { return EndpointLabel(endpoint); }

// Renders the series of one registry. `last_success_unix` is 0 when it never succeeded.
void RenderRegistryProbe(const std::string& label, const RegistryProbe& probe, double last_success_unix,
                         MetricsBuilder& out);

// Not thread-safe: Collect() runs on the runner's one thread for this collector;
// it starts and joins its own probe threads within each call.
class SchemaRegistryCollector : public Collector {
 public:
  // Version-count requests per registry and run; beyond that counts refresh round robin.
  static constexpr int kMaxVersionRequestsPerRun = 200;
  // Registries probed at the same time; more wait for a free slot.
  static constexpr int kMaxParallelProbes = 16;

  explicit SchemaRegistryCollector(SchemaRegistryCollectorConfig config);
  ~SchemaRegistryCollector() override;
  std::string name() const override { return "schema_registry"; }
  Millis interval() const override { return config_.interval; }
  Millis timeout() const override { return config_.timeout; }
  Status Collect(const CollectContext& ctx, MetricsBuilder& out) override;

  struct RegistryState;  // per registry, kept across runs (defined in the .cpp)

 private:
  SchemaRegistryCollectorConfig config_;
  std::vector<std::unique_ptr<RegistryState>> states_;
};

}  // namespace dora
