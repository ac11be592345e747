#pragma once
// Kafka Connect REST answers for the fake HTTP server (FakeRegistry::SetJson):
// GET / and GET /connectors?expand=status&expand=info, shaped like a real
// worker's, for the connect collector's tests. The fake's failures (500, hang,
// malformed JSON, ...) apply to these routes as to the registry's.
#include <string>
#include <vector>

#include "support/fake_registry.h"

namespace dora::test {

struct FakeTask {
  int id = 0;
  std::string state = "RUNNING";
  std::string worker = "10.0.0.1:8083";
  std::string trace;  // FAILED only
};

struct FakeConnector {
  std::string name;
  std::string type = "sink";
  std::string connector_class = "org.apache.kafka.connect.file.FileStreamSinkConnector";
  std::string state = "RUNNING";
  std::string worker = "10.0.0.1:8083";
  std::string trace;
  std::vector<FakeTask> tasks;
  std::vector<std::pair<std::string, std::string>> extra_config;  // beside connector.class
};

// The body of GET /.
std::string ConnectRootJson(const std::string& version = "3.9.1",
                            const std::string& kafka_cluster_id = "Uq6zV3DyQ5mBOzJtY0E1nA");
// The body of GET /connectors?expand=status&expand=info.
std::string ConnectorsJson(const std::vector<FakeConnector>& connectors);
// A cluster with one of each: a healthy sink (two tasks on two workers), a
// FAILED source connector, a sink with a FAILED task, a PAUSED connector.
std::vector<FakeConnector> FailingConnectCluster();
// Serves both on `fake`.
void ServeConnect(FakeRegistry& fake, const std::vector<FakeConnector>& connectors);

}  // namespace dora::test
