#pragma once
// The metric catalogue: every family the daemon exports, declared once.
// Collectors declare a family by name through DORA_METRIC("name"), which does
// not compile for a name missing here, so nothing is exported that the
// catalogue lacks. tests/unit/test_catalogue.cpp checks docs/metrics.md
// against this table both ways (name, type, labels, section, source), and the
// golden test (tests/unit/test_collectors_fake.cpp) checks every rendered
// family, its HELP, TYPE and label names against it.
//
// Adding a family: a row here (in its collector's block), a row in its
// docs/metrics.md section, then out.Family(DORA_METRIC("name")) in the
// collector.
#include <cstddef>
#include <iterator>
#include <string_view>
#include <vector>

#include "metrics/family.h"

namespace dora::metrics {

inline constexpr MetricType kGauge = MetricType::kGauge;
inline constexpr MetricType kCounter = MetricType::kCounter;
inline constexpr MetricType kHistogram = MetricType::kHistogram;
inline constexpr MetricType kSummary = MetricType::kSummary;

// In docs/metrics.md's order: name, type, labels, collector, source, HELP.
inline constexpr FamilyDef kCatalogue[] = {
    // Exporter (always)
    {"kafka_exporter_build_info", kGauge, "version, revision, librdkafka_version", "exporter", "build",
     "Build information of dora-kafka-exporter; always 1."},
    {"kafka_exporter_collector_success", kGauge, "collector", "exporter", "runner",
     "1 if the collector's last run succeeded, 0 otherwise."},
    {"kafka_exporter_collector_duration_seconds", kGauge, "collector", "exporter", "runner",
     "Duration of the collector's last run in seconds."},
    {"kafka_exporter_collector_last_success_timestamp_seconds", kGauge, "collector", "exporter", "runner",
     "Unix time of the collector's last successful run (0 if never)."},
    {"kafka_exporter_collector_errors_total", kCounter, "collector, reason", "exporter", "runner",
     "Failed collector runs by cause (timeout, kafka, unavailable, config, http, bind, internal), partial "
     "runs "
     "included."},
    {"kafka_exporter_collector_partial", kGauge, "collector", "exporter", "runner",
     "1 if the collector's last run failed in part and published what it had (its cause is counted in "
     "kafka_exporter_collector_errors_total), 0 otherwise."},
    {"kafka_exporter_shard_info", kGauge, "index, count", "exporter", "config",
     "The shard this daemon is: it exports the consumer groups whose name hashes to index mod count, and "
     "the cluster-wide series only when index is 0; always 1 (index 0, count 1 without sharding)."},
    {"kafka_exporter_config_last_reload_successful", kGauge, "", "exporter", "SIGHUP",
     "1 if the last configuration (re)load succeeded, 0 if the last SIGHUP reload failed."},
    {"kafka_exporter_config_last_reload_success_timestamp_seconds", kGauge, "", "exporter", "SIGHUP",
     "Unix time of the last successful configuration load."},
    {"kafka_exporter_web_config_last_reload_successful", kGauge, "", "exporter", "web config file watch",
     "1 if the web config file loaded at start and its last live change (if any) was applied; 0 if that "
     "change did not load or was refused as a security downgrade."},
    {"kafka_exporter_web_config_last_reload_success_timestamp_seconds", kGauge, "", "exporter",
     "web config file watch", "Unix time the web config in force was loaded."},
    {"kafka_exporter_lag_negative_clamped_total", kCounter, "", "exporter", "consumer_groups",
     "Lag values that came out negative (committed offset ahead of the fetched end offset) and were reported "
     "as 0."},
    // exporter: alerting (alerting/notifier_metrics.cpp)
    {"kafka_exporter_alerts", kGauge, "state", "exporter", "evaluator snapshot",
     "Alerts of the daemon's own evaluation by state (pending, firing, resolved and kept for re-sending)."},
    {"kafka_exporter_notifications_sent_total", kCounter, "alertmanager", "exporter", "POST /api/v2/alerts",
     "Alerts delivered to the Alertmanager (answered 2xx)."},
    {"kafka_exporter_notifications_failed_total", kCounter, "alertmanager", "exporter", "POST /api/v2/alerts",
     "Alerts in sends to the Alertmanager that failed (connection, timeout, TLS, auth or HTTP error); "
     "retried with backoff unless the Alertmanager rejected them."},
    {"kafka_exporter_notifications_dropped_total", kCounter, "alertmanager", "exporter",
     "POST /api/v2/alerts",
     "Alerts dropped without delivery to the Alertmanager: the oldest when its queue was full, or a batch it "
     "rejected as invalid (HTTP 400, 413, 422)."},
    {"kafka_exporter_notifications_queue_length", kGauge, "alertmanager", "exporter", "notifier",
     "Alerts waiting to be sent to the Alertmanager."},
    {"kafka_exporter_notifications_latency_seconds", kHistogram, "alertmanager", "exporter",
     "POST /api/v2/alerts", "Duration of the sends to the Alertmanager that got an HTTP answer."},
    // exporter: incident events (incidents/metrics.cpp)
    {"kafka_exporter_incident_events_total", kCounter, "type", "exporter", "evaluator transitions",
     "Incident events the daemon made, by type (opened, renotified, closed)."},
    {"kafka_exporter_incident_events_spooled_total", kCounter, "type", "exporter", "spool",
     "Incident events accepted: written to the spool and synced to disk."},
    {"kafka_exporter_incident_events_delivered_total", kCounter, "", "exporter", "Produce",
     "Incident events Kafka acknowledged (acks=all); a re-delivery after a restart counts again."},
    {"kafka_exporter_incident_events_failed_total", kCounter, "", "exporter", "Produce",
     "Delivery reports with an error; the event stays in the spool and is produced again."},
    {"kafka_exporter_incident_events_dropped_total", kCounter, "type, reason", "exporter", "spool",
     "Incident events never accepted: the spool was full (re-notifications first) or the hand-off to it "
     "was."},
    {"kafka_exporter_incident_spool_bytes", kGauge, "", "exporter", "spool",
     "Bytes of the spool's segment files."},
    {"kafka_exporter_incident_spool_events", kGauge, "", "exporter", "spool",
     "Incident events in the spool that Kafka has not acknowledged yet."},
    {"kafka_exporter_incident_spool_oldest_age_seconds", kGauge, "", "exporter", "spool",
     "Age of the oldest incident event not acknowledged by Kafka; 0 when none waits."},
    {"kafka_exporter_incident_spool_skipped_total", kCounter, "", "exporter", "spool",
     "Damaged spool ranges (torn write, bad CRC) skipped when reading; each is logged with its file and "
     "offset."},
    // cluster
    {"kafka_brokers", kGauge, "", "cluster", "Metadata", "Number of brokers in the cluster metadata."},
    {"kafka_brokers_expected", kGauge, "", "cluster", "config",
     "Brokers the cluster should have (collectors.cluster.expected_brokers); absent when not set."},
    {"kafka_broker_info", kGauge, "id, address, rack", "cluster",
     "Metadata, DescribeConfigs(broker) for rack", "Broker id, address and rack; always 1."},
    {"kafka_cluster_controller_id", kGauge, "", "cluster", "Metadata",
     "Broker id of the controller in the Metadata answer (-1 if unknown; on KRaft a random live broker)."},
    {"kafka_topic_partitions", kGauge, "topic", "cluster", "Metadata", "Number of partitions of the topic."},
    {"kafka_topic_partition_leader", kGauge, "topic, partition", "cluster", "Metadata",
     "Leader broker id of the partition (-1: none)."},
    {"kafka_topic_partition_replicas", kGauge, "topic, partition", "cluster", "Metadata",
     "Number of replicas of the partition."},
    {"kafka_topic_partition_in_sync_replica", kGauge, "topic, partition", "cluster", "Metadata",
     "Number of in-sync replicas of the partition."},
    {"kafka_topic_partition_leader_is_preferred", kGauge, "topic, partition", "cluster", "Metadata",
     "1 if the partition is led by its preferred (first) replica."},
    {"kafka_topic_partition_under_replicated_partition", kGauge, "topic, partition", "cluster", "Metadata",
     "1 if the partition has fewer in-sync replicas than replicas."},
    {"kafka_topic_partition_offline", kGauge, "topic, partition", "cluster", "Metadata",
     "1 if the partition has no leader."},
    {"kafka_topic_partition_under_replicated_duration_seconds", kGauge, "topic, partition", "cluster",
     "Metadata history",
     "How long the partition has been under-replicated, as seen across polls (0 when fully replicated)."},
    {"kafka_cluster_partition_atminisr", kGauge, "topic, partition", "cluster",
     "Metadata + DescribeConfigs(topic)",
     "1 if the in-sync replica count equals min.insync.replicas (at risk)."},
    {"kafka_cluster_partition_underminisr", kGauge, "topic, partition", "cluster",
     "Metadata + DescribeConfigs(topic)",
     "1 if the in-sync replica count is below min.insync.replicas (acks=all producers fail)."},
    {"kafka_topic_under_replicated_partitions", kGauge, "topic", "cluster", "Metadata",
     "Under-replicated partitions of the topic."},
    {"kafka_topic_offline_partitions", kGauge, "topic", "cluster", "Metadata",
     "Partitions of the topic without a leader."},
    {"kafka_topic_at_min_isr_partitions", kGauge, "topic", "cluster", "Metadata + DescribeConfigs(topic)",
     "Partitions of the topic at min.insync.replicas."},
    {"kafka_topic_under_min_isr_partitions", kGauge, "topic", "cluster", "Metadata + DescribeConfigs(topic)",
     "Partitions of the topic below min.insync.replicas."},
    {"kafka_cluster_under_replicated_partitions", kGauge, "", "cluster", "Metadata",
     "Under-replicated partitions in the cluster."},
    {"kafka_cluster_offline_partitions", kGauge, "", "cluster", "Metadata",
     "Partitions without a leader in the cluster."},
    {"kafka_cluster_at_min_isr_partitions", kGauge, "", "cluster", "Metadata + DescribeConfigs(topic)",
     "Partitions at min.insync.replicas in the cluster."},
    {"kafka_cluster_under_min_isr_partitions", kGauge, "", "cluster", "Metadata + DescribeConfigs(topic)",
     "Partitions below min.insync.replicas in the cluster."},
    {"kafka_broker_leader_partitions", kGauge, "broker", "cluster", "Metadata",
     "Partitions led by the broker."},
    {"kafka_broker_preferred_leader_imbalance", kGauge, "broker", "cluster", "Metadata",
     "Partitions whose preferred leader is this broker but which are led elsewhere."},
    {"kafka_topic_info", kGauge,
     "topic, partitions, replication_factor, cleanup_policy, retention_ms, min_insync_replicas", "cluster",
     "Metadata + DescribeConfigs(topic)",
     "Topic layout and key configs (partitions, replication factor, cleanup.policy, retention.ms, "
     "min.insync.replicas); always 1."},
    {"kafka_cluster_isr_shrinks_total", kCounter, "", "cluster", "Metadata history",
     "In-sync replicas lost across all partitions, as seen between polls."},
    {"kafka_cluster_isr_expands_total", kCounter, "", "cluster", "Metadata history",
     "In-sync replicas regained across all partitions, as seen between polls."},
    // cluster: topic conformance (when `collectors.cluster.expected_topics_file` is set)
    {"kafka_topic_conformance_drift", kGauge, "topic, check", "cluster",
     "Metadata + DescribeConfigs(topic) against config/topics.yaml",
     "1 where the topic differs from its declaration in the topics file (check: missing, partitions, "
     "replication_factor, min_insync_replicas, retention), 0 where it conforms."},
    // offsets
    {"kafka_topic_partition_current_offset", kGauge, "topic, partition", "offsets", "ListOffsets(latest)",
     "High watermark (log end offset, read_uncommitted) of the partition."},
    {"kafka_topic_partition_oldest_offset", kGauge, "topic, partition", "offsets", "ListOffsets(earliest)",
     "Log start offset of the partition."},
    {"kafka_topic_partition_watermarks_stale_seconds", kGauge, "topic, partition", "offsets",
     "ListOffsets (an earlier answer)",
     "Age of the watermarks served for a partition whose leader did not answer this run (down, moving or "
     "absent): they come from its last answer, for at most collectors.offsets.carry_for. Present only for "
     "such partitions."},
    {"kafka_topic_partition_messages_in_per_second", kGauge, "topic, partition", "offsets",
     "ListOffsets history", "Messages appended to the partition per second over the rate window."},
    {"kafka_topic_messages_in_per_second", kGauge, "topic", "offsets", "ListOffsets history",
     "Messages appended to the topic per second over the rate window."},
    {"kafka_cluster_messages_in_per_second", kGauge, "", "offsets", "ListOffsets history",
     "Messages appended to all included topics per second over the rate window, internal topics (names "
     "starting with __) excluded."},
    {"kafka_cluster_internal_messages_in_per_second", kGauge, "", "offsets", "ListOffsets history",
     "Messages appended to internal topics (__consumer_offsets commits, __transaction_state, the probe's "
     "topic) per second over the rate window."},
    {"kafka_topic_partition_write_skew", kGauge, "topic", "offsets", "ListOffsets history",
     "The topic's hottest partition's write rate over the mean of its partitions' (1: even; N: all writes in "
     "one of N partitions)."},
    {"kafka_topic_hottest_partition_write_share", kGauge, "topic", "offsets", "ListOffsets history",
     "Share of the topic's writes that go to its hottest partition."},
    {"kafka_broker_leader_write_share", kGauge, "broker", "offsets", "ListOffsets history, Metadata",
     "Share of the cluster's writes (internal topics aside) to partitions the broker leads."},
    {"kafka_topic_hot_partition_share_threshold", kGauge, "", "offsets", "config",
     "collectors.offsets.hot_partition_share: the hottest-partition share above which KafkaTopicHotPartition "
     "fires."},
    {"kafka_topic_dlq_messages_in_per_second", kGauge, "topic", "offsets", "ListOffsets history",
     "Messages landing in a dead-letter topic per second over the rate window (an incident signal)."},
    // consumer_groups
    {"kafka_consumergroup_current_offset", kGauge, "consumergroup, topic, partition", "consumer_groups",
     "OffsetFetch", "Committed offset of the group on the partition."},
    {"kafka_consumergroup_current_offset_sum", kGauge, "consumergroup, topic", "consumer_groups",
     "OffsetFetch", "Sum of the group's committed offsets on the topic."},
    {"kafka_consumergroup_lag", kGauge, "consumergroup, topic, partition", "consumer_groups",
     "OffsetFetch, then ListOffsets",
     "Messages between the group's committed offset and the high watermark. Absent when the group has no "
     "committed offset on the partition."},
    {"kafka_consumergroup_lag_sum", kGauge, "consumergroup, topic", "consumer_groups",
     "OffsetFetch, ListOffsets", "Sum of the group's lag on the topic."},
    {"kafka_consumergroup_members", kGauge, "consumergroup", "consumer_groups", "DescribeGroups",
     "Members of the consumer group."},
    {"kafka_consumergroup_info", kGauge, "consumergroup, state, type, protocol_type, protocol, coordinator",
     "consumer_groups", "ListGroups, DescribeGroups",
     "Group state, protocol and coordinator broker; always 1."},
    {"kafka_sharegroup_info", kGauge, "group, state", "consumer_groups", "ListGroups",
     "Share group (KIP-932) and its state as ListGroups reports it; always 1. Share groups are in no "
     "consumer-group family."},
    {"kafka_consumergroup_lag_seconds", kGauge, "consumergroup, topic, partition", "consumer_groups",
     "OffsetFetch + ListOffsets history",
     "Estimated age in seconds of the oldest unconsumed message: interpolated from the exporter's own "
     "history of high watermarks (an estimate; absent while that history is too short). Per partition only "
     "with granularity partition; with mixed (the default) and topic, per topic without the partition "
     "label: the topic's largest estimate, absent while a lagging partition has none."},
    {"kafka_consumergroup_max_lag", kGauge, "consumergroup", "consumer_groups", "derived",
     "Largest partition lag of the group."},
    {"kafka_consumergroup_lag_retention_ratio", kGauge, "consumergroup, topic", "consumer_groups",
     "derived, DescribeConfigs(topic) retention.ms",
     "Largest estimated lag in seconds of the group on the topic against the topic's retention.ms: at 1 the "
     "oldest unconsumed message is due for deletion (time-based retention only; not for compacted topics)."},
    {"kafka_consumergroup_retention_time_left_seconds", kGauge, "consumergroup, topic", "consumer_groups",
     "derived, DescribeConfigs(topic) retention.ms",
     "Estimated seconds until retention.ms deletes the oldest message of the topic the group has not "
     "consumed, at the current rates: (retention - lag in seconds) over the lag's growth per second in "
     "the rate window; +Inf while the lag does not grow; 0 once due (docs/consumer-lag.md)."},
    {"kafka_consumergroup_max_lag_seconds", kGauge, "consumergroup", "consumer_groups", "derived",
     "Largest estimated partition lag of the group in seconds (an estimate)."},
    {"kafka_consumergroup_status", kGauge, "consumergroup, status", "consumer_groups",
     "derived (docs/consumer-lag.md)", "Burrow-style group status (OK, WARN, ERR) as a label; always 1."},
    {"kafka_consumergroup_partition_status", kGauge, "consumergroup, topic, partition, status",
     "consumer_groups", "derived",
     "Burrow-style partition status (WARN, STALL, STOP, REWIND) as a label, 1; only partitions that are not "
     "OK. With granularity mixed (the default) and topic, per topic without the partition label: the "
     "number of partitions in that status."},
    {"kafka_consumergroup_stale_partitions", kGauge, "consumergroup", "consumer_groups",
     "OffsetFetch / ListOffsets (earlier answers)",
     "Partitions of the group whose lag is computed from an earlier answer: its coordinator did not answer "
     "this run (its committed offsets are carried), or the partition's leader did not (its watermarks are "
     "carried). Present only when above 0."},
    {"kafka_consumergroup_offsets_topic_caught_up", kGauge, "", "consumer_groups", "Fetch __consumer_offsets",
     "With offsets_source offsets_topic: 1 once the reader of __consumer_offsets has read every partition up "
     "to the end it had at start (until then committed offsets come from OffsetFetch, and /ready waits)."},
    {"kafka_consumergroup_offsets_topic_records_total", kCounter, "kind", "consumer_groups",
     "Fetch __consumer_offsets",
     "With offsets_source offsets_topic: records read from __consumer_offsets since start, by kind "
     "(offset_commit, offset_tombstone, group_metadata, group_tombstone, other_group_record, "
     "unknown_version, malformed; the last two are skipped)."},
    {"kafka_consumergroup_offsets_topic_group_partitions", kGauge, "", "consumer_groups",
     "Fetch __consumer_offsets",
     "With offsets_source offsets_topic: group-partitions whose committed offset the reader holds (every "
     "group in the cluster, before the groups filter and sharding)."},
    {"kafka_consumergroup_uncommitted_partitions", kGauge, "consumergroup", "consumer_groups",
     "DescribeGroups + OffsetFetch",
     "Partitions assigned to the group's members that have no committed offset."},
    {"kafka_consumergroup_expired_messages", kGauge, "consumergroup, topic, partition", "consumer_groups",
     "OffsetFetch + ListOffsets",
     "Messages deleted by retention before the group consumed them (committed offset below the log start "
     "offset): data loss. Present only when above 0. With granularity mixed (the default) and topic, summed "
     "per topic without the partition label."},
    {"kafka_consumergroup_consumed_messages_per_second", kGauge, "consumergroup", "consumer_groups",
     "OffsetFetch history",
     "Messages the group consumed per second (committed-offset advance) over the rate window."},
    {"kafka_consumergroup_group_offset", kGauge,
     "cluster_name, group, topic, partition, member_host, consumer_id, client_id", "consumer_groups",
     "OffsetFetch", "kafka-lag-exporter: committed offset."},
    {"kafka_consumergroup_group_lag", kGauge,
     "cluster_name, group, topic, partition, member_host, consumer_id, client_id", "consumer_groups",
     "OffsetFetch, ListOffsets", "kafka-lag-exporter: lag in messages."},
    {"kafka_consumergroup_group_lag_seconds", kGauge,
     "cluster_name, group, topic, partition, member_host, consumer_id, client_id", "consumer_groups",
     "history", "kafka-lag-exporter: estimated lag in seconds (an estimate)."},
    {"kafka_consumergroup_group_max_lag", kGauge, "cluster_name, group", "consumer_groups", "derived",
     "kafka-lag-exporter: max lag of the group."},
    {"kafka_consumergroup_group_max_lag_seconds", kGauge, "cluster_name, group", "consumer_groups", "derived",
     "kafka-lag-exporter: max estimated lag in seconds of the group."},
    {"kafka_consumergroup_group_sum_lag", kGauge, "cluster_name, group", "consumer_groups", "derived",
     "kafka-lag-exporter: summed lag of the group."},
    {"kafka_consumergroup_group_topic_sum_lag", kGauge, "cluster_name, group, topic", "consumer_groups",
     "derived", "kafka-lag-exporter: summed lag of the group on the topic."},
    {"kafka_consumergroup_group_lag_retention_ratio", kGauge, "cluster_name, group, topic", "consumer_groups",
     "derived, DescribeConfigs(topic) retention.ms",
     "klag-exporter's name, in the kafka-lag-exporter family: kafka_consumergroup_lag_retention_ratio."},
    {"kafka_partition_latest_offset", kGauge, "cluster_name, topic, partition", "consumer_groups",
     "ListOffsets", "kafka-lag-exporter: high watermark."},
    {"kafka_partition_earliest_offset", kGauge, "cluster_name, topic, partition", "consumer_groups",
     "ListOffsets", "kafka-lag-exporter: log start offset."},
    // log_dirs
    {"kafka_log_dir_size_bytes", kGauge, "broker, log_dir", "log_dirs", "statvfs",
     "Size of the file system holding the log dir."},
    {"kafka_log_dir_free_bytes", kGauge, "broker, log_dir", "log_dirs", "statvfs",
     "Bytes still available to the broker on the log dir's file system."},
    {"kafka_log_dir_used_ratio", kGauge, "broker, log_dir", "log_dirs", "statvfs",
     "Used fraction of the log dir's file system, as df computes it (0..1)."},
    {"kafka_log_dir_partition_size_bytes", kGauge, "broker, log_dir, topic, partition", "log_dirs",
     "partition dirs", "Bytes of the partition's segment files in the log dir."},
    {"kafka_broker_log_dir_size_total_bytes", kGauge, "broker", "log_dirs", "partition dirs",
     "Bytes of all partitions' segment files in the broker's log dirs."},
    {"kafka_topic_log_dir_size_total_bytes", kGauge, "broker, topic", "log_dirs", "partition dirs",
     "Bytes of the topic's segment files in the broker's log dirs."},
    // broker_process
    {"kafka_broker_process_cpu_seconds_total", kCounter, "broker", "broker_process", "/proc/PID/stat",
     "CPU time (user + system) the broker process has used, in seconds."},
    {"kafka_broker_process_cpu_limit_cores", kGauge, "broker", "broker_process",
     "/proc/PID/status, cgroup cpu.max",
     "CPUs the broker process may use: its CPU affinity, lowered by its cgroup's CPU quota where readable."},
    {"kafka_broker_process_resident_memory_bytes", kGauge, "broker", "broker_process", "/proc/PID/stat",
     "Resident memory of the broker process in bytes."},
    {"kafka_broker_process_virtual_memory_bytes", kGauge, "broker", "broker_process", "/proc/PID/stat",
     "Virtual memory of the broker process in bytes."},
    {"kafka_broker_process_threads", kGauge, "broker", "broker_process", "/proc/PID/stat",
     "Threads of the broker process."},
    {"kafka_broker_process_open_fds", kGauge, "broker", "broker_process", "/proc/PID/fd",
     "Open file descriptors of the broker process."},
    {"kafka_broker_process_max_fds", kGauge, "broker", "broker_process", "/proc/PID/limits",
     "The broker process's limit on open file descriptors (soft limit)."},
    {"kafka_broker_process_read_bytes_total", kCounter, "broker", "broker_process", "/proc/PID/io",
     "Bytes the broker process made the storage layer read."},
    {"kafka_broker_process_written_bytes_total", kCounter, "broker", "broker_process", "/proc/PID/io",
     "Bytes the broker process made the storage layer write."},
    {"kafka_broker_process_network_receive_bytes_total", kCounter, "broker, device", "broker_process",
     "/proc/PID/net/dev", "Bytes received on the interface of the broker's network namespace (the pod's)."},
    {"kafka_broker_process_network_transmit_bytes_total", kCounter, "broker, device", "broker_process",
     "/proc/PID/net/dev", "Bytes sent on the interface of the broker's network namespace (the pod's)."},
    {"kafka_broker_process_start_time_seconds", kGauge, "broker", "broker_process", "/proc/PID/stat",
     "Unix time the broker process started."},
    {"kafka_broker_process_source_readable", kGauge, "broker, file", "broker_process", "/proc/PID",
     "1 if the optional /proc file (fd, io, limits, net/dev, cgroup) could be read, 0 if its series are left "
     "out."},
    // probe
    {"kafka_probe_produce_latency_seconds", kHistogram, "broker", "probe", "Produce",
     "acks=all acknowledgement latency of probe messages, by the leader broker they went to (includes "
     "waiting for every in-sync follower)."},
    {"kafka_probe_end_to_end_latency_seconds", kHistogram, "partition", "probe", "Produce + Fetch",
     "Probe message latency from produce to consume, by partition."},
    {"kafka_probe_messages_produced_total", kCounter, "broker", "probe", "Produce",
     "Probe messages acknowledged by their leader broker."},
    {"kafka_probe_produce_errors_total", kCounter, "broker", "probe", "Produce",
     "Probe messages whose produce failed, by the leader broker they were sent to."},
    {"kafka_probe_messages_received_total", kCounter, "", "probe", "Fetch",
     "Probe messages read back by the probe consumer."},
    {"kafka_probe_messages_lost_total", kCounter, "", "probe", "Produce + Fetch",
     "Acknowledged probe messages not read back within the SLA (or skipped)."},
    {"kafka_probe_attempts_total", kCounter, "", "probe", "probe",
     "Probe messages whose outcome is known (SLI denominator)."},
    {"kafka_probe_failures_total", kCounter, "", "probe", "probe",
     "Probe messages that failed: produce error, lost, or read back later than the SLA."},
    {"kafka_probe_success_ratio", kGauge, "", "probe", "probe",
     "Successful share of the probe messages resolved in the last 5 minutes."},
    // mirror
    {"kafka_mirror_partition_lag_messages", kGauge, "source, target, topic, partition", "mirror",
     "MM2 offset syncs + ListOffsets",
     "Source high watermark minus one minus the upstream offset of MirrorMaker 2's latest offset sync: "
     "messages not yet known replicated (offset syncs are periodic: see docs/disaster-recovery.md)."},
    {"kafka_mirror_offset_sync_age_seconds", kGauge, "source, target, topic, partition", "mirror",
     "MM2 offset syncs", "Seconds since MirrorMaker 2 wrote the partition's latest offset sync."},
    {"kafka_mirror_topic_offset_sum", kGauge, "source, target, cluster, topic", "mirror", "ListOffsets",
     "Sum of the replicated topic's high watermarks on one cluster of the flow (cluster: the source or the "
     "target alias; topic: the source topic name); its rate on each side compares writes and replication."},
    {"kafka_mirror_checkpoint_age_seconds", kGauge, "source, target, group, topic", "mirror",
     "MM2 checkpoints + OffsetFetch",
     "Seconds since the oldest checkpoint of the group's partitions of the topic that is behind the "
     "group's committed offset on the source; 0 when every checkpoint matches it."},
    {"kafka_mirror_checkpoint_reread_messages", kGauge, "source, target, group, topic", "mirror",
     "MM2 checkpoints + offset syncs + OffsetFetch",
     "Messages the group would read again after a failover now: its committed position on the source, "
     "translated through the offset syncs, minus the checkpoint's downstream offset, summed over "
     "partitions."},
    {"kafka_mirror_records_undecodable_total", kCounter, "source, target", "mirror", "MM2 internal topics",
     "Offset-sync and checkpoint records whose bytes were not MirrorMaker 2's known layout."},
    {"kafka_mirror_latency_seconds", kHistogram, "source, target", "mirror", "Produce + Fetch",
     "End-to-end replication latency: probe message produced on the source until the daemon reads its "
     "mirrored copy on the target."},
    {"kafka_mirror_probe_messages_sent_total", kCounter, "source, target", "mirror", "Produce",
     "Probe messages sent to the flow's probe topic on the source."},
    {"kafka_mirror_probe_produce_errors_total", kCounter, "source, target", "mirror", "Produce",
     "Probe messages whose produce to the source failed."},
    {"kafka_mirror_probe_messages_missing_total", kCounter, "source, target", "mirror", "Produce + Fetch",
     "Probe messages not seen on the target within collectors.mirror.probe_timeout."},
    {"kafka_mirror_probe_oldest_pending_seconds", kGauge, "source, target", "mirror", "Produce + Fetch",
     "Age of the oldest probe message sent and not yet seen on the target (0: none pending): grows while "
     "replication stands still."},
    // broker_stats
    {"kafka_client_broker_rtt_seconds", kSummary, "broker, quantile", "broker_stats",
     "librdkafka statistics `rtt`",
     "Request round-trip time to the broker seen by the exporter's client, by quantile over librdkafka's "
     "last statistics window (NaN: no request in the window)."},
    {"kafka_client_broker_throttle_seconds", kSummary, "broker, quantile", "broker_stats",
     "librdkafka statistics `throttle`",
     "Broker quota throttle time applied to the exporter's client, by quantile over librdkafka's last "
     "statistics window (0: not throttled)."},
    {"kafka_client_broker_request_timeouts_total", kCounter, "broker", "broker_stats",
     "librdkafka statistics `req_timeouts`",
     "Requests from the exporter's client to the broker that timed out."},
    {"kafka_client_broker_connection_state", kGauge, "broker, state", "broker_stats",
     "librdkafka statistics `state`",
     "Connection state of the exporter's client to the broker; 1 for the current state."},
    {"kafka_client_broker_outbuf_requests", kGauge, "broker", "broker_stats",
     "librdkafka statistics `outbuf_cnt`",
     "Requests queued for sending to the broker by the exporter's client."},
    {"kafka_client_broker_waitresp_requests", kGauge, "broker", "broker_stats",
     "librdkafka statistics `waitresp_cnt`", "Requests sent to the broker and awaiting a response."},
    // schema_registry
    {"kafka_schema_registry_up", kGauge, "registry", "schema_registry", "HTTP probe",
     "1 if the schema registry answered GET /subjects, /mode and /config correctly."},
    {"kafka_schema_registry_request_latency_seconds", kGauge, "registry", "schema_registry", "GET /subjects",
     "Latency of the last probe's GET /subjects (connect and TLS included)."},
    {"kafka_schema_registry_subjects", kGauge, "registry", "schema_registry", "GET /subjects",
     "Subjects in the schema registry."},
    {"kafka_schema_registry_schema_versions", kGauge, "registry", "schema_registry",
     "GET /subjects/{subject}/versions", "Schema versions summed over the registry's subjects."},
    {"kafka_schema_registry_info", kGauge, "registry, mode, compatibility", "schema_registry",
     "GET /mode, GET /config", "Global mode and compatibility level of the schema registry; always 1."},
    {"kafka_schema_registry_last_success_timestamp_seconds", kGauge, "registry", "schema_registry",
     "HTTP probe", "Unix time of the last successful probe of the registry (0 if never)."},
    {"kafka_schema_registry_last_error", kGauge, "registry, class", "schema_registry", "HTTP probe",
     "Class of the last probe's error (none after a success); one series per registry, always 1."},
    // connect
    {"kafka_connect_up", kGauge, "connect", "connect", "HTTP probe",
     "1 if the Connect cluster answered GET / and GET /connectors correctly."},
    {"kafka_connect_request_latency_seconds", kGauge, "connect", "connect", "GET /",
     "Latency of the last probe's GET / (connect and TLS included)."},
    {"kafka_connect_info", kGauge, "connect, version, commit, kafka_cluster_id", "connect", "GET /",
     "Version, commit and Kafka cluster id of the Connect worker that answered; always 1."},
    {"kafka_connect_last_success_timestamp_seconds", kGauge, "connect", "connect", "HTTP probe",
     "Unix time of the last successful probe of the Connect cluster (0 if never)."},
    {"kafka_connect_last_error", kGauge, "connect, class", "connect", "HTTP probe",
     "Class of the last probe's error (none after a success); one series per cluster, always 1."},
    {"kafka_connect_connectors", kGauge, "connect", "connect", "GET /connectors",
     "Connectors in the Connect cluster."},
    {"kafka_connect_connector_state", kGauge, "connect, connector, state", "connect",
     "GET /connectors?expand=status", "1 for the connector's current state, 0 for the others."},
    {"kafka_connect_connector_info", kGauge, "connect, connector, type, class, worker", "connect",
     "GET /connectors?expand=status&expand=info",
     "A connector's type, class and the worker running it; always 1."},
    {"kafka_connect_connector_failure_info", kGauge, "connect, connector, trace", "connect",
     "GET /connectors?expand=status",
     "First line of a FAILED connector's trace (bounded, secrets removed); always 1."},
    {"kafka_connect_task_state", kGauge, "connect, connector, task, state", "connect",
     "GET /connectors?expand=status", "1 for the task's current state, 0 for the others."},
    {"kafka_connect_task_info", kGauge, "connect, connector, task, worker", "connect",
     "GET /connectors?expand=status", "The worker a connector task is assigned to; always 1."},
    {"kafka_connect_task_failure_info", kGauge, "connect, connector, task, trace", "connect",
     "GET /connectors?expand=status",
     "First line of a FAILED task's trace (bounded, secrets removed); always 1."},
    {"kafka_connect_worker_tasks", kGauge, "connect, worker", "connect", "GET /connectors?expand=status",
     "Connector tasks assigned to the worker."},
    // alerting (the built-in evaluator, alerting/evaluator.h): Prometheus's
    // names and labels; a sample also has every label of its alert.
    {"ALERTS", kGauge, "alertname, alertstate, severity", "alerting", "built-in evaluation",
     "Alerts the daemon evaluates itself that are pending or firing; always 1."},
    {"ALERTS_FOR_STATE", kGauge, "alertname, severity", "alerting", "built-in evaluation",
     "Unix time an alert the daemon evaluates itself became active (pending or firing)."},
};

inline constexpr size_t kCatalogueSize = std::size(kCatalogue);

// Index of the family called `name`, kCatalogueSize if there is none.
constexpr size_t IndexOf(std::string_view name) {
  for (size_t i = 0; i < kCatalogueSize; ++i) {
    if (kCatalogue[i].name == name) return i;
  }
  return kCatalogueSize;
}

template <size_t I>
constexpr const FamilyDef& At() {
  static_assert(I < kCatalogueSize, "metric family not in the catalogue (metrics/catalogue.h)");
  return kCatalogue[I];
}

// The family called `name` (a string literal), resolved at compile time.
#define DORA_METRIC(name) (::dora::metrics::At<::dora::metrics::IndexOf(name)>())

// The label names of `def`, split at ", " (empty for none).
std::vector<std::string_view> LabelNames(const FamilyDef& def);

}  // namespace dora::metrics
