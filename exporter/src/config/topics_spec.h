#pragma once
// Topic conformance declarations (config/topics.yaml): the documented topic
// layout, checked continuously against the live cluster.
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "config/loader.h"

namespace dora {

struct TopicExpectation {
  std::string name;     // exact topic name, or
  std::string pattern;  // a regex: every existing matching topic is checked (never "missing")
  int partitions = -1;  // -1: not checked
  int replication_factor = -1;
  int min_insync_replicas = -1;
  int64_t retention_ms = -2;  // -2: not checked (-1 is Kafka's "forever")
};

struct TopicsSpec {
  std::vector<TopicExpectation> topics;
};

// Loads and validates a topics file; errors name file:line:column and key.
TopicsSpec LoadTopicsSpec(const std::string& path, ConfigErrors* errors);
TopicsSpec ParseTopicsSpec(const std::string& yaml, const std::string& source, ConfigErrors* errors);

}  // namespace dora
