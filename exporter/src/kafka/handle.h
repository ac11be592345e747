#pragma once
// One RAII idiom for librdkafka's C objects: Handle<T, Destroy> is a
// unique_ptr that calls Destroy(p) once for a non-null p. Move-only, like the
// object it owns. The aliases name the objects the exporter creates.
#include <librdkafka/rdkafka.h>

#include <memory>

namespace dora {

template <auto Destroy>
struct CallDestroy {
  template <typename T>
  void operator()(T* p) const noexcept {
    Destroy(p);
  }
};

template <typename T, auto Destroy>
using Handle = std::unique_ptr<T, CallDestroy<Destroy>>;

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
