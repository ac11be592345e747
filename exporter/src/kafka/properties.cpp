#include "kafka/properties.h"

#include <librdkafka/rdkafka.h>

#include "kafka/conf.h"
#include "util/secret.h"

namespace dora {
namespace {

std::string JoinServers(const std::vector<std::string>& servers) {
  std::string out;
  for (const auto& s : servers) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

Result<std::map<std::string, std::string>> ResolveKafkaProperties(
    const KafkaConfig& config, const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> props;
  props["client.id"] = config.client_id;
  if (!config.bootstrap_servers.empty()) props["bootstrap.servers"] = JoinServers(config.bootstrap_servers);
  // Keep a broken cluster from filling the log: the collectors report failures themselves.
  props["log.connection.close"] = "false";
  props["topic.metadata.refresh.interval.ms"] = "60000";
  // librdkafka 2.0.2 re-looks-up a group coordinator that is down only when
  // that broker's connection state changes: with the default 10 s reconnect
  // backoff, OffsetFetch for the groups of a stopped broker timed out run after
  // run. One attempt a second notices the move within a collection.
  props["reconnect.backoff.max.ms"] = "1000";
  for (const auto& [k, v] : config.properties) props[k] = v;
  for (const auto& [k, file] : config.property_files) {
    auto value = ReadSecretFile("kafka.property_files." + k, file);
    if (!value.ok()) return value.status();
    props[k] = std::move(value.value());
  }
  for (const auto& [k, var] : config.property_env) {
    auto value = ReadSecretEnv("kafka.property_env." + k, var);
    if (!value.ok()) return value.status();
    props[k] = std::move(value.value());
  }
  for (const auto& [k, v] : extra) props[k] = v;
  return props;
}

Result<ConfPtr> BuildKafkaConf(const KafkaConfig& config, const std::map<std::string, std::string>& extra) {
  auto props = ResolveKafkaProperties(config, extra);
  if (!props.ok()) return props.status();
  ConfPtr conf(rd_kafka_conf_new());
  char errstr[512];
  for (const auto& [k, v] : props.value()) {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      // librdkafka echoes the value in some messages; never for a secret.
      std::string detail = IsSecretKey(k) ? "invalid value (not shown: secret)" : errstr;
      return Status::Error(Reason::kConfig, "kafka property \"" + k + "\": " + detail);
    }
  }
  return conf;
}

std::vector<std::string> CheckKafkaProperties(const KafkaConfig& config, const std::string& section) {
  std::vector<std::string> errors;
  ConfPtr conf(rd_kafka_conf_new());
  char errstr[512];
  for (const auto& [k, v] : config.properties) {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      std::string detail = IsSecretKey(k) ? "invalid value (not shown: secret)" : errstr;
      errors.push_back(section + ".properties." + k + ": " + detail);
    }
  }
  for (const auto& src : {&config.property_files, &config.property_env}) {
    for (const auto& kv : *src) {
      // Unknown names fail regardless of value; a placeholder avoids reading secrets here.
      if (rd_kafka_conf_set(conf.get(), kv.first.c_str(), "x", errstr, sizeof errstr) ==
          RD_KAFKA_CONF_UNKNOWN) {
        errors.push_back(section + (src == &config.property_files ? ".property_files." : ".property_env.") +
                         kv.first + ": " + errstr);
      }
    }
  }
  return errors;
}

}  // namespace dora
