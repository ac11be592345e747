#pragma once
// The librdkafka objects the exporter creates, each owned by a Handle
// (util/handle.h: a unique_ptr that calls the object's destroy function).
#include <librdkafka/rdkafka.h>

#include "util/handle.h"

namespace dora {

using ConfPtr = Handle<rd_kafka_conf_t, rd_kafka_conf_destroy>;
using QueuePtr = Handle<rd_kafka_queue_t, rd_kafka_queue_destroy>;
using EventPtr = Handle<rd_kafka_event_t, rd_kafka_event_destroy>;
using OptionsPtr = Handle<rd_kafka_AdminOptions_t, rd_kafka_AdminOptions_destroy>;
using PartitionListPtr = Handle<rd_kafka_topic_partition_list_t, rd_kafka_topic_partition_list_destroy>;
using MetadataPtr = Handle<const rd_kafka_metadata_t, rd_kafka_metadata_destroy>;
using GroupListPtr = Handle<const rd_kafka_group_list, rd_kafka_group_list_destroy>;
using TopicPtr = Handle<rd_kafka_topic_t, rd_kafka_topic_destroy>;
using ConfigResourcePtr = Handle<rd_kafka_ConfigResource_t, rd_kafka_ConfigResource_destroy>;
using OffsetsRequestPtr =
    Handle<rd_kafka_ListConsumerGroupOffsets_t, rd_kafka_ListConsumerGroupOffsets_destroy>;
using MessagePtr = Handle<rd_kafka_message_t, rd_kafka_message_destroy>;
using ErrorPtr = Handle<rd_kafka_error_t, rd_kafka_error_destroy>;

}  // namespace dora
