#include "support/fake_connect.h"

#include <nlohmann/json.hpp>

namespace dora::test {

std::string ConnectRootJson(const std::string& version, const std::string& kafka_cluster_id) {
  return nlohmann::json{
      {"version", version}, {"commit", "f745dfdcee2b9851"}, {"kafka_cluster_id", kafka_cluster_id}}
      .dump();
}

std::string ConnectorsJson(const std::vector<FakeConnector>& connectors) {
  nlohmann::json all = nlohmann::json::object();
  for (const auto& c : connectors) {
    nlohmann::json config = {{"connector.class", c.connector_class}, {"name", c.name}, {"tasks.max", "1"}};
    for (const auto& [k, v] : c.extra_config) config[k] = v;
    nlohmann::json tasks = nlohmann::json::array(), task_ids = nlohmann::json::array();
    for (const auto& t : c.tasks) {
      nlohmann::json task = {{"id", t.id}, {"state", t.state}, {"worker_id", t.worker}};
      if (!t.trace.empty()) task["trace"] = t.trace;
      tasks.push_back(task);
      task_ids.push_back({{"connector", c.name}, {"task", t.id}});
    }
    nlohmann::json connector = {{"state", c.state}, {"worker_id", c.worker}};
    if (!c.trace.empty()) connector["trace"] = c.trace;
    all[c.name] = {
        {"status", {{"name", c.name}, {"connector", connector}, {"tasks", tasks}, {"type", c.type}}},
        {"info", {{"name", c.name}, {"config", config}, {"tasks", task_ids}, {"type", c.type}}},
    };
  }
  return all.dump();
}

std::vector<FakeConnector> FailingConnectCluster() {
  FakeConnector ok;
  ok.name = "orders-sink";
  ok.tasks = {{0, "RUNNING", "10.0.0.1:8083", ""}, {1, "RUNNING", "10.0.0.2:8083", ""}};
  FakeConnector failed;
  failed.name = "jdbc-source";
  failed.type = "source";
  failed.connector_class = "io.confluent.connect.jdbc.JdbcSourceConnector";
  failed.state = "FAILED";
  failed.trace =
      "java.lang.NoClassDefFoundError: org/postgresql/Driver\n\tat java.base/java.lang.Class.forName0";
  FakeConnector bad_task;
  bad_task.name = "files-sink";
  bad_task.tasks = {
      {0, "FAILED", "10.0.0.2:8083",
       "org.apache.kafka.connect.errors.ConnectException: Couldn't find or create file "
       "'/data/out.txt' for FileStreamSinkTask\n\tat org.apache.kafka.connect.file.FileStreamSinkTask"}};
  FakeConnector paused;
  paused.name = "audit-source";
  paused.type = "source";
  paused.state = "PAUSED";
  paused.tasks = {{0, "PAUSED", "10.0.0.1:8083", ""}};
  return {ok, failed, bad_task, paused};
}

void ServeConnect(FakeRegistry& fake, const std::vector<FakeConnector>& connectors) {
  fake.SetJson("/", ConnectRootJson());
  fake.SetJson("/connectors", ConnectorsJson(connectors));
}

}  // namespace dora::test
