#pragma once
// Consumer groups as plain structs (what the group requests of kafka/groups.h
// and kafka/group_requests.h return), and the pure functions on them.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "util/status.h"

#include "kafka/types.h"

namespace dora {

struct GroupMember {
  std::string member_id;
  std::string client_id;
  std::string client_host;
  std::vector<TopicPartition> assignment;  // decoded ConsumerProtocol assignment
};

struct GroupDescription {
  std::string name;
  std::string state;          // Stable, Empty, PreparingRebalance, CompletingRebalance, Dead
  std::string protocol_type;  // "consumer" for Kafka consumers, "" for commit-only groups
  std::string protocol;
  int32_t coordinator = -1;
  std::vector<GroupMember> members;
  int error = 0;
  // "classic", or "consumer" for a new-protocol (KIP-848) group: one that
  // DescribeGroups (the only describe librdkafka 2.0.2 has) answers as Dead
  // while ListGroups lists it with a live state. Its state is then ListGroups'
  // and its members are unknown (members_known false, `members` empty).
  std::string type = "classic";
  bool members_known = true;
  std::string described_state;  // what DescribeGroups said, when it was overruled
  // An earlier run's description, served while the group's coordinator does
  // not answer (ConsumerGroupsCollector, carry_for).
  bool carried = false;
};

// A share group (KIP-932): not a consumer group; only its listing is known.
struct ShareGroup {
  std::string name;
  std::string state;  // "Unknown": librdkafka 2.0.2 has no request that returns it
};

// One entry of ListGroups v4 (rd_kafka_ListConsumerGroups).
struct ListedGroup {
  std::string name;
  std::string state;    // Kafka's name: Stable, Empty, ...; "Unknown" when not given
  bool simple = false;  // empty protocol type
};

struct GroupListing {
  std::vector<GroupDescription> groups;   // one entry per group name
  std::vector<ShareGroup> share_groups;   // kept out of `groups`
  bool partial = false;                   // some broker or coordinator did not answer
  Reason partial_cause = Reason::kKafka;  // why, when partial
  std::string partial_reason;
};

// Corrects `listing` (DescribeGroups' view) with `listed` (ListGroups v4's):
// a group described as Dead (or without a state) but listed with a live state
// is a new-protocol group (see GroupDescription::type). A group described as
// Dead and absent from a complete v4 listing is not a consumer group at all:
// on Kafka 4.1, ListGroups v0 (rd_kafka_list_groups) lists share groups but
// v4 does not; such a group moves to share_groups with state "Unknown" (no
// librdkafka 2.0.2 request can tell its state). Pure (for tests).
void ReconcileWithListing(GroupListing* listing, const std::vector<ListedGroup>& listed,
                          bool listed_complete);

struct GroupOffsets {
  struct Committed {
    uint32_t topic = 0;  // index into `topics`
    int32_t partition = 0;
    int64_t offset = 0;
  };
  std::string group;
  // The topics `committed` names, each a string once per group: at 2,000
  // groups of 100 partitions a string (a heap block past 15 characters) per
  // partition cost 200,000 allocations per run.
  std::vector<std::string> topics;
  // Only partitions with a committed offset, sorted by (topic name,
  // partition), each once.
  std::vector<Committed> committed;
  int error = 0;
  const std::string& topic(const Committed& c) const { return topics[c.topic]; }
  bool HasCommitted(const TopicPartition& tp) const;
};

// Decodes a ConsumerProtocol MemberAssignment (version, [topic [partition]],
// user data). Returns false on malformed input.
bool DecodeAssignment(const void* data, size_t size, std::vector<TopicPartition>* out);

}  // namespace dora
