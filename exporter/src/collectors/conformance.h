#pragma once
// Topic conformance: the live cluster against config/topics.yaml. Pure.
// Exports kafka_topic_conformance_drift{topic,check}: 1 where the topic
// differs from its declaration, 0 where it conforms.
#include "collectors/cluster_state.h"
#include "config/topics_spec.h"
#include "metrics/builder.h"

namespace dora {

void RenderConformance(const TopicsSpec& spec, const ClusterView& view, MetricsBuilder& out);

}  // namespace dora
