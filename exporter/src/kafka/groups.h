#pragma once
// Consumer-group requests: ListGroups + DescribeGroups (rd_kafka_list_groups,
// one of each per broker) and OffsetFetch (rd_kafka_ListConsumerGroupOffsets,
// one group per call on librdkafka 2.0.2, so many calls are kept in flight on
// one queue). Thread-safe like KafkaClient.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kafka/client.h"
#include "kafka/group_types.h"

namespace dora {

class GroupRequests;

// Lists and describes every group in the cluster. Tries rd_kafka_list_groups
// first (one ListGroups and one DescribeGroups per broker); that call fails as
// a whole when any broker it once knew is down, so it then falls back to the
// admin API: ListConsumerGroups on every broker (skipping brokers that left
// the metadata, with per-broker errors) and one DescribeConsumerGroups per
// group through `requests` (up to max_in_flight at once). A group whose
// description did not come has error set, state "Unknown", and makes the
// listing partial.
// try_cheap false skips rd_kafka_list_groups (the caller saw it fail lately:
// with a broker down it can take half the budget before the fallback).
// *cheap_failed, when given, is set when rd_kafka_list_groups failed.
Result<GroupListing> ListGroups(KafkaClient& client, GroupRequests& requests, int max_in_flight,
                                Millis timeout, bool try_cheap = true, bool* cheap_failed = nullptr);

// The admin-API path alone (exposed for tests).
Result<GroupListing> ListGroupsAdmin(KafkaClient& client, GroupRequests& requests, int max_in_flight,
                                     Millis timeout);

// One group of a DescribeConsumerGroups answer.
GroupDescription DescribedGroup(const rd_kafka_ConsumerGroupDescription_t* g);

// Fetches committed offsets of `groups`, keeping up to `max_in_flight` calls
// outstanding, through a GroupRequests of its own that ends with the call
// (requests still out are then answered into a closed queue). Groups whose
// call failed or did not answer in time come back with error set. For one-off
// use (tests, benchmarks); the collector keeps one GroupRequests across runs.
std::vector<GroupOffsets> FetchCommittedOffsets(KafkaClient& client, const std::vector<std::string>& groups,
                                                int max_in_flight, Millis timeout);

}  // namespace dora
