#include "support/fake_kafka.h"

#include <algorithm>
#include <thread>

#include <algorithm>

namespace dora::test {

void FakeKafka::AddBroker(int32_t id, const std::string& host, int port) {
  std::lock_guard<std::mutex> lock(mu_);
  metadata_.brokers.push_back({id, host, port});
  if (metadata_.controller_id < 0) metadata_.controller_id = id;
  metadata_.cluster_id = "fake-cluster";
}

void FakeKafka::AddTopic(const std::string& topic, const std::vector<std::vector<int32_t>>& replicas,
                         const ConfigValues& configs) {
  std::lock_guard<std::mutex> lock(mu_);
  TopicMetadata t;
  t.name = topic;
  for (size_t p = 0; p < replicas.size(); ++p) {
    PartitionMetadata pm;
    pm.id = static_cast<int32_t>(p);
    pm.leader = replicas[p].empty() ? -1 : replicas[p].front();
    pm.replicas = replicas[p];
    pm.isr = replicas[p];
    t.partitions.push_back(pm);
    offsets_[{topic, pm.id}] = {0, 0};
  }
  metadata_.topics.push_back(std::move(t));
  std::sort(metadata_.topics.begin(), metadata_.topics.end(),
            [](const TopicMetadata& a, const TopicMetadata& b) { return a.name < b.name; });
  topic_configs_[topic] = configs;
}

void FakeKafka::SetIsr(const std::string& topic, int32_t partition, std::vector<int32_t> isr) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& t : metadata_.topics)
    if (t.name == topic) t.partitions.at(static_cast<size_t>(partition)).isr = std::move(isr);
}

void FakeKafka::SetLeader(const std::string& topic, int32_t partition, int32_t leader) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& t : metadata_.topics)
    if (t.name == topic) t.partitions.at(static_cast<size_t>(partition)).leader = leader;
}

void FakeKafka::SetOffsets(const std::string& topic, int32_t partition, int64_t low, int64_t high) {
  std::lock_guard<std::mutex> lock(mu_);
  offsets_[{topic, partition}] = {low, high};
}

void FakeKafka::SetGroup(GroupDescription group, std::map<TopicPartition, int64_t> committed) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string name = group.name;
  groups_[name] = {std::move(group), std::move(committed)};
}

void FakeKafka::SetBrokerDown(int32_t id, bool down) {
  std::lock_guard<std::mutex> lock(mu_);
  if (down)
    down_.insert(id);
  else
    down_.erase(id);
}

int FakeKafka::calls(const std::string& method) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}

int32_t FakeKafka::LeaderOf(const TopicPartition& tp) const {
  for (const auto& t : metadata_.topics) {
    if (t.name != tp.topic) continue;
    for (const auto& p : t.partitions)
      if (p.id == tp.partition) return p.leader;
  }
  return -1;
}

Result<ClusterMetadata> FakeKafka::Metadata(Millis) {
  std::lock_guard<std::mutex> lock(mu_);
  Count("Metadata");
  ClusterMetadata md = metadata_;
  if (!down_listed_)
    md.brokers.erase(std::remove_if(md.brokers.begin(), md.brokers.end(),
                                    [this](const BrokerInfo& b) { return down_.count(b.id) > 0; }),
                     md.brokers.end());
  if (md.brokers.empty()) return Status::Error(Reason::kTimeout, "Metadata: all brokers are down");
  return md;
}

Result<std::map<std::string, ConfigValues>> FakeKafka::DescribeTopicConfigs(
    const std::vector<std::string>& topics, Millis) {
  std::lock_guard<std::mutex> lock(mu_);
  Count("DescribeTopicConfigs");
  std::map<std::string, ConfigValues> out;
  for (const auto& t : topics)
    if (auto it = topic_configs_.find(t); it != topic_configs_.end()) out[t] = it->second;
  return out;
}

void FakeKafka::SetDownBrokersListed(bool listed) {
  std::lock_guard<std::mutex> lock(mu_);
  down_listed_ = listed;
}

Millis FakeKafka::longest_broker_config_timeout() const {
  std::lock_guard<std::mutex> lock(mu_);
  return longest_broker_config_timeout_;
}

Result<ConfigValues> FakeKafka::DescribeBrokerConfig(int32_t broker_id, Millis timeout) {
  bool wait = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Count("DescribeBrokerConfig");
    longest_broker_config_timeout_ = std::max(longest_broker_config_timeout_, timeout);
    if (!down_.count(broker_id)) return ConfigValues{};
    wait = down_listed_;
  }
  if (wait) std::this_thread::sleep_for(timeout);
  return Status::Error(Reason::kTimeout, "DescribeConfigs: broker down");
}

Result<std::vector<PartitionOffset>> FakeKafka::ListOffsets(const std::vector<TopicPartition>& partitions,
                                                            int64_t timestamp, Millis) {
  std::lock_guard<std::mutex> lock(mu_);
  Count("ListOffsets");
  std::vector<PartitionOffset> out;
  for (const auto& tp : partitions) {
    const int32_t leader = LeaderOf(tp);
    if (leader < 0 || down_.count(leader))
      return Status::Error(Reason::kTimeout, "ListOffsets: Local: Timed out");
    auto it = offsets_.find(tp);
    PartitionOffset po;
    po.tp = tp;
    if (it == offsets_.end()) {
      po.error = 3;  // UNKNOWN_TOPIC_OR_PARTITION
    } else {
      po.offset = timestamp == -2 ? it->second.first : it->second.second;
    }
    out.push_back(po);
  }
  return out;
}

Result<GroupListing> FakeKafka::ListGroups(int, Millis) {
  std::lock_guard<std::mutex> lock(mu_);
  Count("ListGroups");
  GroupListing out;
  for (const auto& [name, g] : groups_) {
    if (down_.count(g.description.coordinator)) {
      out.partial = true;
      out.partial_cause = Reason::kTimeout;
      out.partial_reason =
          "ListGroups: broker " + std::to_string(g.description.coordinator) + " did not answer";
      continue;
    }
    out.groups.push_back(g.description);
  }
  return out;
}

std::vector<std::string> FakeKafka::offsets_asked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return offsets_asked_;
}

std::vector<GroupOffsets> FakeKafka::FetchCommittedOffsets(const std::vector<std::string>& groups, int,
                                                           Millis) {
  std::lock_guard<std::mutex> lock(mu_);
  Count("FetchCommittedOffsets");
  offsets_asked_.insert(offsets_asked_.end(), groups.begin(), groups.end());
  std::vector<GroupOffsets> out;
  for (const auto& name : groups) {
    GroupOffsets go;
    go.group = name;
    auto it = groups_.find(name);
    if (it == groups_.end() || down_.count(it->second.description.coordinator)) {
      go.error = KafkaTimedOutError();
    } else {
      for (const auto& [tp, offset] : it->second.committed) {  // sorted by (topic, partition)
        if (go.topics.empty() || go.topics.back() != tp.topic) go.topics.push_back(tp.topic);
        go.committed.push_back({static_cast<uint32_t>(go.topics.size() - 1), tp.partition, offset});
      }
    }
    out.push_back(std::move(go));
  }
  return out;
}

Status FakeKafka::CreateTopic(const std::string& topic, const std::vector<std::vector<int32_t>>& assignment,
                              const std::map<std::string, std::string>& configs, Millis) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Count("CreateTopic");
  }
  AddTopic(topic, assignment, ConfigValues(configs.begin(), configs.end()));
  return Status::Ok();
}

Status FakeKafka::CreatePartitions(const std::string& topic, int total_count,
                                   const std::vector<std::vector<int32_t>>& new_assignment, Millis) {
  std::lock_guard<std::mutex> lock(mu_);
  Count("CreatePartitions");
  for (auto& t : metadata_.topics) {
    if (t.name != topic) continue;
    for (int p = static_cast<int>(t.partitions.size()); p < total_count; ++p) {
      PartitionMetadata pm;
      pm.id = p;
      size_t j = static_cast<size_t>(p) - (static_cast<size_t>(total_count) - new_assignment.size());
      pm.replicas =
          j < new_assignment.size() ? new_assignment[j] : std::vector<int32_t>{metadata_.brokers[0].id};
      pm.leader = pm.replicas.front();
      pm.isr = pm.replicas;
      t.partitions.push_back(pm);
      offsets_[{topic, p}] = {0, 0};
    }
    return Status::Ok();
  }
  return Status::Error(Reason::kKafka, "CreatePartitions: UNKNOWN_TOPIC_OR_PARTITION");
}

}  // namespace dora::test
