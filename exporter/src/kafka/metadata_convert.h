#pragma once
// librdkafka's metadata answer as the plain structs of kafka/types.h: brokers
// sorted by id, each topic's partitions sorted by id, with replicas and ISR.
// One conversion for every handle that asks for metadata (KafkaClient::Metadata
// and the probe's producer).
#include <librdkafka/rdkafka.h>

#include <vector>

#include "kafka/types.h"

namespace dora {

std::vector<BrokerInfo> ConvertBrokers(const rd_kafka_metadata_t& md);
TopicMetadata ConvertTopic(const rd_kafka_metadata_topic_t& topic);

}  // namespace dora
