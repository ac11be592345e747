#!/usr/bin/env python3
"""Generates the Grafana dashboards in this directory (dashboards/*.json).

The JSON files are committed so Grafana provisioning can load them as they
are; this script is their source. Edit it, then run

    python3 dashboards/build.py          # rewrite the JSON files
    python3 dashboards/build.py --check  # exit 1 if a JSON file differs

tests/rules/check.sh runs --check, so the files cannot drift from the script.

Conventions (checked by tests/rules/validate.py):
- every panel and query uses the `${datasource}` variable;
- every selector carries job=~"$job" and cluster=~"$cluster" (the cluster
  label is optional: "All" is `.*`, which also matches an empty label);
- only metric names from docs/metrics.md, plus `up`;
- the DORA Kafka design thresholds are drawn on the panels they apply to.
"""

import json
import os
import sys

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job", cluster=~"$cluster"'

# Design thresholds (the DORA Kafka design document).
LAG_MESSAGES = 10000
DISK_USED = 0.8
REPLICATION_SECONDS = 5
P95_SECONDS = 0.01
AVAILABILITY = 0.9999
ERROR_BUDGET = 1 - AVAILABILITY
WRITES_PER_SECOND = 100000
READS_PER_SECOND = 500000

GREEN, YELLOW, ORANGE, RED, BLUE = "green", "yellow", "orange", "red", "blue"


# --- templating ---------------------------------------------------------------

def datasource_var():
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
    }


def query_var(name, label, query):
    """A multi-value variable with "All" = `.*`, used as name=~"$name"."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": query,
        "current": {},
        "hide": 0,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "options": [],
        "refresh": 2,
        "regex": "",
        "skipUrlSync": False,
        "sort": 3,
    }


def base_vars():
    return [
        datasource_var(),
        query_var("job", "Job", "label_values(kafka_exporter_build_info, job)"),
        query_var("cluster", "Cluster",
                  'label_values(kafka_exporter_build_info{job=~"$job"}, cluster)'),
    ]


# --- panels -----------------------------------------------------------------

def target(expr, legend="", ref="A", instant=False, fmt=None):
    t = {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref}
    if instant:
        t["instant"] = True
        t["range"] = False
    if fmt:
        t["format"] = fmt
    return t


def targets_of(queries, instant=False, fmt=None):
    """queries: an expr, or a list of (expr, legend) pairs."""
    if isinstance(queries, str):
        queries = [(queries, "")]
    return [target(e, l, chr(ord("A") + i), instant, fmt) for i, (e, l) in enumerate(queries)]


def steps(*pairs):
    """steps(GREEN, (RED, 1)) -> absolute thresholds, base colour first."""
    base, rest = pairs[0], pairs[1:]
    return {"mode": "absolute",
            "steps": [{"color": base, "value": None}] +
                     [{"color": c, "value": v} for c, v in rest]}


def timeseries(title, queries, unit="short", thresholds=None, description="",
               w=12, h=8, stack=False, min_=None, max_=None, axis_label="",
               draw="line"):
    custom = {
        "drawStyle": draw,
        "lineWidth": 1,
        "fillOpacity": 10,
        "showPoints": "never",
        "spanNulls": False,
        "axisLabel": axis_label,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "thresholdsStyle": {"mode": "line" if thresholds else "off"},
    }
    defaults = {
        "unit": unit,
        "color": {"mode": "palette-classic"},
        "custom": custom,
        "thresholds": thresholds or steps(GREEN),
    }
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets_of(queries),
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                       "calcs": ["lastNotNull", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "_size": (w, h),
    }


def stat(title, expr, unit="short", thresholds=None, description="", w=4, h=4,
         decimals=None, graph=False):
    defaults = {
        "unit": unit,
        "color": {"mode": "thresholds"},
        "thresholds": thresholds or steps(BLUE),
        "mappings": [],
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets_of(expr, instant=not graph),
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "area" if graph else "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        },
        "_size": (w, h),
    }


def bargauge(title, expr, legend, unit, thresholds, description="", w=12, h=8,
             min_=None, max_=None):
    defaults = {"unit": unit, "color": {"mode": "thresholds"}, "thresholds": thresholds}
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    return {
        "type": "bargauge",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, legend, instant=True)],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "displayMode": "gradient",
            "orientation": "horizontal",
            "showUnfilled": True,
        },
        "_size": (w, h),
    }


def table(title, queries, columns, description="", w=12, h=8, hide=(), units=None,
          hide_labels=("job", "instance")):
    """queries: list of (expr, column name for its value); instant, merged on labels."""
    rename = {}
    if len(queries) == 1:
        rename["Value"] = queries[0][1]
    else:
        for i, (_, name) in enumerate(queries):
            rename["Value #" + chr(ord("A") + i)] = name
    original = {shown: name for name, shown in rename.items()}  # organize works on original names
    exclude = {c: True for c in ("Time", "__name__") + tuple(hide_labels)}
    exclude.update({original.get(c, c): True for c in hide})
    order = {c: i for i, c in enumerate(list(columns) + list(rename))}
    overrides = [
        {"matcher": {"id": "byName", "options": name},
         "properties": [{"id": "unit", "value": unit}]}
        for name, unit in (units or {}).items()
    ]
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets_of([(e, "") for e, _ in queries], instant=True, fmt="table"),
        "transformations": [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": exclude,
                                           "indexByName": order,
                                           "renameByName": rename}},
        ],
        "fieldConfig": {"defaults": {"custom": {"align": "auto", "filterable": True}},
                        "overrides": overrides},
        "options": {"showHeader": True, "cellHeight": "sm",
                    "footer": {"show": False, "reducer": ["sum"], "fields": ""}},
        "_size": (w, h),
    }


def state_timeline(title, expr, legend, description="", w=24, h=6):
    return {
        "type": "state-timeline",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, legend)],
        "fieldConfig": {
            "defaults": {
                "color": {"mode": "thresholds"},
                "thresholds": steps(RED, (GREEN, 1)),
                "mappings": [{"type": "value", "options": {
                    "0": {"text": "DOWN", "color": RED, "index": 0},
                    "1": {"text": "UP", "color": GREEN, "index": 1}}}],
                "custom": {"fillOpacity": 80, "lineWidth": 0},
            },
            "overrides": [],
        },
        "options": {"mergeValues": True, "showValue": "auto", "rowHeight": 0.9,
                    "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
                    "tooltip": {"mode": "single", "sort": "none"}},
        "_size": (w, h),
    }


def heatmap(title, expr, description="", w=12, h=8):
    return {
        "type": "heatmap",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [dict(target(expr, "{{le}}"), format="heatmap")],
        "fieldConfig": {"defaults": {"custom": {"scaleDistribution": {"type": "linear"}}},
                        "overrides": []},
        "options": {
            "calculate": False,
            "yAxis": {"unit": "s", "axisPlacement": "left"},
            "color": {"mode": "scheme", "scheme": "Spectral", "scale": "exponential",
                      "exponent": 0.5, "steps": 64, "reverse": False, "fill": "dark-orange"},
            "cellGap": 1,
            "rowsFrame": {"layout": "auto"},
            "legend": {"show": True},
            "tooltip": {"show": True, "yHistogram": False},
            "yAxisLabels": "auto",
            "exemplars": {"color": "rgba(255,0,255,0.7)"},
        },
        "_size": (w, h),
    }


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "datasource": DS,
            "panels": [], "_size": (24, 1)}


def layout(items):
    """Places panels left to right, wrapping at 24 columns; rows start a line."""
    panels, x, y, line_h = [], 0, 0, 0
    for pid, p in enumerate(items, start=1):
        w, h = p.pop("_size")
        if p["type"] == "row" or x + w > 24:
            x, y, line_h = 0, y + line_h, 0
        p["id"] = pid
        p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        panels.append(p)
        x, line_h = x + w, max(line_h, h)
        if p["type"] == "row":
            x, y, line_h = 0, y + h, 0
    return panels


def dashboard(uid, title, description, extra_vars, items):
    return {
        "annotations": {"list": []},
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [{"type": "dashboards", "title": "DORA Kafka", "tags": ["dora-kafka"],
                   "asDropdown": True, "includeVars": True, "keepTime": True,
                   "icon": "external link", "targetBlank": False, "tooltip": "", "url": ""}],
        "liveNow": False,
        "panels": layout(items),
        "refresh": "1m",
        "schemaVersion": 39,
        "tags": ["dora-kafka", "kafka"],
        "templating": {"list": base_vars() + extra_vars},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": "DORA Kafka / " + title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


# --- shared queries -----------------------------------------------------------

def availability(window, by=""):
    grouping = f" by ({by})" if by else ""
    return (f"1 - sum{grouping}(increase(kafka_probe_failures_total{{{SEL}}}[{window}]))"
            f" / sum{grouping}(increase(kafka_probe_attempts_total{{{SEL}}}[{window}]))")


def quantile(q, metric, by, selector=SEL):
    return (f"histogram_quantile({q}, sum by ({by}, le) "
            f"(rate({metric}_bucket{{{selector}}}[$__rate_interval])))")


def count_or_zero(expr):
    return f"count({expr}) or vector(0)"


ALERT_STEPS = steps(GREEN, (RED, 1))
WARN_STEPS = steps(GREEN, (ORANGE, 1))
LAG_STEPS = steps(GREEN, (RED, LAG_MESSAGES))
DISK_STEPS = steps(GREEN, (RED, DISK_USED))
REPLICATION_STEPS = steps(GREEN, (RED, REPLICATION_SECONDS))
P95_STEPS = steps(GREEN, (RED, P95_SECONDS))
AVAILABILITY_STEPS = steps(RED, (GREEN, AVAILABILITY))
WRITES_STEPS = steps(GREEN, (ORANGE, WRITES_PER_SECOND))
READS_STEPS = steps(GREEN, (ORANGE, READS_PER_SECOND))
# The broker process alerts (rules/dora-kafka.rules.yml, broker_process collector).
BROKER_FDS_USED = 0.8
BROKER_CPU_SATURATED = 0.9
BROKER_RESTARTED_SECONDS = 600
FDS_STEPS = steps(GREEN, (RED, BROKER_FDS_USED))
CPU_STEPS = steps(GREEN, (RED, BROKER_CPU_SATURATED))
RETENTION_RATIO = 0.8  # KafkaConsumerGroupLagNearRetention
RETENTION_STEPS = steps(GREEN, (RED, RETENTION_RATIO))
TIME_LEFT_STEPS = steps(RED, (ORANGE, 3600), (GREEN, 86400))  # seconds left: < 1 h red, < 1 day orange
HOT_PARTITION_SHARE = 0.5  # collectors.offsets.hot_partition_share's default (KafkaTopicHotPartition)
HOT_STEPS = steps(GREEN, (ORANGE, HOT_PARTITION_SHARE))
UPTIME_STEPS = steps(ORANGE, (GREEN, BROKER_RESTARTED_SECONDS))

WRITES = f"sum by (cluster) (kafka_cluster_messages_in_per_second{{{SEL}}})"
READS = f"sum by (cluster) (kafka_consumergroup_consumed_messages_per_second{{{SEL}}})"


def writes_panel(w=12):
    return timeseries(
        "Writes vs 100k msg/s target", [(WRITES, "writes {{cluster}}")],
        thresholds=WRITES_STEPS, axis_label="messages/s", w=w,
        description="Messages produced per second to the whole cluster. The line is the "
                    "design target of 100,000 msg/s (alerts KafkaClusterWriteThroughput*).")


def reads_panel(w=12):
    return timeseries(
        "Reads vs 500k msg/s target", [(READS, "reads {{cluster}}")],
        thresholds=READS_STEPS, axis_label="messages/s", w=w,
        description="Messages consumed per second by all consumer groups. The line is the "
                    "design target of 500,000 msg/s (alerts KafkaClusterReadThroughput*).")


def replication_panel(selector=SEL, w=12):
    return timeseries(
        "Replication latency: acks=all p99 per broker",
        [(quantile(0.99, "kafka_probe_produce_latency_seconds", "cluster, broker", selector),
          "p99 broker {{broker}} {{cluster}}"),
         (quantile(0.5, "kafka_probe_produce_latency_seconds", "cluster, broker", selector),
          "p50 broker {{broker}} {{cluster}}")],
        unit="s", thresholds=REPLICATION_STEPS, w=w,
        description="Time until every in-sync follower has the probe's acks=all message, "
                    "per leader broker. Line: 5 s replication lag "
                    "(alert KafkaReplicationLatencyHigh on the p99).")


def e2e_panel(w=12):
    m = "kafka_probe_end_to_end_latency_seconds"
    return timeseries(
        "Produce-to-consume latency",
        [(quantile(0.5, m, "cluster"), "p50 {{cluster}}"),
         (quantile(0.95, m, "cluster"), "p95 {{cluster}}"),
         (quantile(0.99, m, "cluster"), "p99 {{cluster}}")],
        unit="s", thresholds=P95_STEPS, w=w,
        description="Latency of probe messages from produce to consume. Line: the p95 "
                    "target of 10 ms (alert KafkaProbeEndToEndLatencyHigh).")


def lag_by_group_panel(selector, w=12):
    return timeseries(
        "Consumer lag per group",
        [(f"sum by (cluster, consumergroup) (kafka_consumergroup_lag_sum{{{selector}}})",
          "{{consumergroup}} {{cluster}}")],
        thresholds=LAG_STEPS, axis_label="messages", w=w,
        description="Messages behind the high watermark, summed over the group's topics. "
                    "Line: 10,000 messages (alert KafkaConsumerGroupLagHigh).")


def disk_used(selector=SEL):
    """Used fraction per broker disk from whichever source exists: the sidecar's
    log dirs, else (pods without sidecar series) the kubelet's PVC stats recorded
    by rules/dora-kafka-kubelet-disk.rules.yml, as the alert picks them. The
    kubelet series come from the kubelet's job, so only cluster/broker filter them."""
    kubelet = selector.replace('job=~"$job", ', "")
    return (f"kafka_log_dir_used_ratio{{{selector}}} or "
            f"(broker_pvc:kubelet_volume_stats_used:ratio{{{kubelet}}} "
            f"unless on (namespace, pod) kafka_log_dir_used_ratio{{{selector}}})")


DISK_SOURCES = ("Sidecar log dirs where they exist, else the kubelet's volume stats per PVC "
                "(rules/dora-kafka-kubelet-disk.rules.yml loaded; legend shows the PVC).")


def disk_panel(selector=SEL, w=12):
    return timeseries(
        "Log dir usage",
        [(disk_used(selector), "broker {{broker}} {{log_dir}}{{persistentvolumeclaim}} {{cluster}}")],
        unit="percentunit", thresholds=DISK_STEPS, min_=0, max_=1, w=w,
        description="Used fraction of each broker log dir's filesystem. Line: 80 % "
                    "(alert KafkaBrokerDiskUsageHigh). " + DISK_SOURCES)


# --- dashboards ----------------------------------------------------------------

def cluster_overview():
    items = [
        row("Health"),
        stat("Brokers", f"sum(kafka_brokers{{{SEL}}})",
             description="Brokers in the cluster metadata (alert KafkaBrokersMissing when "
                         "fewer than the maximum of the last day)."),
        stat("Offline partitions", f"sum(kafka_cluster_offline_partitions{{{SEL}}})",
             thresholds=ALERT_STEPS, description="Partitions without a leader."),
        stat("Under min ISR", f"sum(kafka_cluster_under_min_isr_partitions{{{SEL}}})",
             thresholds=ALERT_STEPS,
             description="Partitions where acks=all producers fail (ISR < min.insync.replicas)."),
        stat("At min ISR", f"sum(kafka_cluster_at_min_isr_partitions{{{SEL}}})",
             thresholds=steps(GREEN, (YELLOW, 1)),
             description="Partitions one replica away from rejecting acks=all writes."),
        stat("Under-replicated", f"sum(kafka_cluster_under_replicated_partitions{{{SEL}}})",
             thresholds=WARN_STEPS, description="Partitions with ISR < replicas."),
        stat("Availability (24h)", availability("1d"), unit="percentunit", decimals=3,
             thresholds=AVAILABILITY_STEPS,
             description="Share of successful probes over the last 24 hours; target 99.99 %."),
        stat("Exporters down", count_or_zero(f"up{{{SEL}}} == 0"), thresholds=ALERT_STEPS,
             description="Exporter targets Prometheus cannot scrape (alert KafkaExporterDown)."),
        stat("Collectors failing",
             count_or_zero(f"kafka_exporter_collector_success{{{SEL}}} == 0"),
             thresholds=WARN_STEPS,
             description="Exporter collectors whose last run failed "
                         "(alert KafkaExporterCollectorFailing)."),
        stat("Groups over 10k lag",
             count_or_zero(f"sum by (cluster, job, instance, consumergroup) "
                           f"(kafka_consumergroup_lag_sum{{{SEL}}}) > {LAG_MESSAGES}"),
             thresholds=WARN_STEPS,
             description="Consumer groups more than 10,000 messages behind."),
        stat("Groups in ERR",
             count_or_zero(f'kafka_consumergroup_status{{{SEL}, status="ERR"}} == 1'),
             thresholds=WARN_STEPS,
             description="Groups with a partition in STOP, STALL or REWIND (Burrow rules)."),
        stat("Schema registries down",
             count_or_zero(f"kafka_schema_registry_up{{{SEL}}} == 0"), thresholds=ALERT_STEPS,
             description="Registries failing the exporter's check (alert KafkaSchemaRegistryDown)."),
        stat("Dead letters (msg/s)",
             f"sum(kafka_topic_dlq_messages_in_per_second{{{SEL}}}) or vector(0)",
             thresholds=steps(GREEN, (ORANGE, 0.0001)), decimals=2,
             description="Messages arriving in dlq-* topics (alert KafkaDeadLetterMessages)."),
        row("Traffic and latency"),
        writes_panel(),
        reads_panel(),
        lag_by_group_panel(SEL),
        e2e_panel(),
        row("Brokers"),
        disk_panel(),
        replication_panel(),
        row("Exporter"),
        table("Collectors",
              [(f"kafka_exporter_collector_success{{{SEL}}}", "Success"),
               (f"kafka_exporter_collector_duration_seconds{{{SEL}}}", "Duration"),
               (f"time() - (kafka_exporter_collector_last_success_timestamp_seconds{{{SEL}}} > 0)",
                "Since last success")],
              ["cluster", "instance", "collector"],
              units={"Duration": "s", "Since last success": "s"}, hide_labels=("job",),
              description="State of each collector of each exporter (the main exporter and "
                          "any log_dirs sidecars)."),
        table("Exporter build",
              [(f"kafka_exporter_build_info{{{SEL}}}", "Info")],
              ["cluster", "instance", "version", "revision", "librdkafka_version"],
              hide=("Info",), hide_labels=("job",),
              description="Exporter and librdkafka versions per target."),
    ]
    return dashboard("dora-kafka-cluster-overview", "Cluster overview",
                     "Health of the DORA Kafka cluster at a glance: partitions, brokers, "
                     "consumer lag, throughput against the design targets, probe SLO.",
                     [], items)


def consumer_lag():
    g = SEL + ', consumergroup=~"$consumergroup"'
    gt = g + ', topic=~"$topic"'
    items = [
        row("Groups"),
        stat("Consumer groups", f"count(kafka_consumergroup_members{{{g}}})"),
        stat("Total lag", f"sum(kafka_consumergroup_lag_sum{{{gt}}})", thresholds=LAG_STEPS,
             description="Messages behind, summed over the selected groups and topics."),
        stat("Max lag (time)", f"max(kafka_consumergroup_max_lag_seconds{{{g}}})", unit="s",
             description="Estimated age of the oldest unconsumed message of the worst group."),
        stat("Groups in ERR",
             count_or_zero(f'kafka_consumergroup_status{{{g}, status="ERR"}} == 1'),
             thresholds=WARN_STEPS),
        stat("Partitions STOP/STALL",
             f'sum(kafka_consumergroup_partition_status{{{gt}, status=~"STOP|STALL"}}) or vector(0)',
             thresholds=WARN_STEPS, description="Alert KafkaConsumerGroupStalled."),
        stat("Expired messages",
             f"sum(kafka_consumergroup_expired_messages{{{gt}}}) or vector(0)",
             thresholds=ALERT_STEPS,
             description="Messages deleted by retention before the group read them: data loss "
                         "(alert KafkaConsumerGroupDataLoss)."),
        lag_by_group_panel(gt, w=24),
        timeseries(
            "Lag per group and topic",
            [(f"sum by (cluster, consumergroup, topic) (kafka_consumergroup_lag_sum{{{gt}}})",
              "{{consumergroup}} / {{topic}} {{cluster}}")],
            thresholds=LAG_STEPS, axis_label="messages",
            description="Which topic a group's lag sits on."),
        timeseries(
            "Lag in seconds per group",
            [(f"kafka_consumergroup_max_lag_seconds{{{g}}}", "{{consumergroup}} {{cluster}}")],
            unit="s",
            description="Age of the oldest unconsumed message (estimate from offset history; "
                        "absent while the history is too short)."),
        timeseries(
            "Lag against retention per group and topic",
            [(f"kafka_consumergroup_lag_retention_ratio{{{gt}}}", "{{consumergroup}} / {{topic}} {{cluster}}")],
            unit="percentunit", thresholds=RETENTION_STEPS, min_=0,
            description="Age of the oldest unconsumed message against the topic's retention.ms: at "
                        "100 % retention deletes it. Line: 80 % (alert "
                        "KafkaConsumerGroupLagNearRetention). Topics deleted by time only; compacted "
                        "topics have none."),
        timeseries(
            "Time left until retention deletes unconsumed messages",
            [(f"kafka_consumergroup_retention_time_left_seconds{{{gt}}} < +Inf",
              "{{consumergroup}} / {{topic}} {{cluster}}")],
            unit="s", thresholds=TIME_LEFT_STEPS, min_=0,
            description="Estimated seconds until retention.ms deletes the oldest message the group "
                        "has not consumed, at the current rates (the lag's growth over the rate "
                        "window; docs/consumer-lag.md). Groups that keep pace (+Inf) are left out. "
                        "Orange below 1 day, red below 1 hour. Topics deleted by time only."),
        timeseries(
            "Consumed messages/s per group",
            [(f"kafka_consumergroup_consumed_messages_per_second{{{g}}}",
              "{{consumergroup}} {{cluster}}")],
            axis_label="messages/s", stack=True),
        timeseries(
            "Members per group",
            [(f"kafka_consumergroup_members{{{g}}}", "{{consumergroup}} {{cluster}}")],
            description="A group with lag and 0 members has no running consumer."),
        row("Partitions"),
        table("Partitions not OK",
              [(f'kafka_consumergroup_partition_status{{{gt}, status!="OK"}}', "Partitions")],
              ["cluster", "consumergroup", "topic", "partition", "status"],
              description="Burrow status per partition: WARN (falling behind), STALL "
                          "(commits without progress), STOP (no commits), REWIND. Only partitions "
                          "that are not OK are exported; with granularity topic a row is a topic and "
                          "Partitions counts them."),
        table("Largest partition lags",
              [(f"topk(20, kafka_consumergroup_lag{{{gt}}})", "Lag"),
               # granularity partition: the partition's own estimate; mixed
               # (the default): lag in seconds is per topic (no partition
               # label), its largest, shown on each of the topic's rows.
               (f"kafka_consumergroup_lag_seconds{{{gt}}} and topk(20, kafka_consumergroup_lag{{{gt}}}) "
                f'or kafka_consumergroup_lag_seconds{{{gt}, partition=""}} + ignoring (partition) group_right '
                f"0 * topk(20, kafka_consumergroup_lag{{{gt}}})",
                "Lag (s)")],
              ["cluster", "consumergroup", "topic", "partition"], units={"Lag (s)": "s"},
              description="The 20 largest partition lags. Lag (s) is the partition's estimated lag in "
                          "seconds with granularity partition; with mixed (the default) the largest "
                          "of its topic."),
        table("Group state",
              [(f"kafka_consumergroup_info{{{g}}}", "Info"),
               (f"kafka_consumergroup_members{{{g}}}", "Members"),
               (f"kafka_consumergroup_uncommitted_partitions{{{g}}}", "Uncommitted partitions")],
              ["cluster", "consumergroup", "state", "protocol_type", "protocol", "coordinator"],
              hide=("Info",), w=24),
    ]
    extra = [
        query_var("consumergroup", "Consumer group",
                  f"label_values(kafka_consumergroup_members{{{SEL}}}, consumergroup)"),
        query_var("topic", "Topic",
                  f'label_values(kafka_consumergroup_lag_sum{{{SEL}, consumergroup=~"$consumergroup"}}, topic)'),
    ]
    return dashboard("dora-kafka-consumer-lag", "Consumer lag",
                     "Consumer group lag in messages and time, Burrow-style status, members "
                     "and data loss.", extra, items)


def topics_throughput():
    t = SEL + ', topic=~"$topic"'
    items = [
        row("Cluster"),
        stat("Topics", f"count(kafka_topic_partitions{{{SEL}}})"),
        stat("Partitions", f"sum(kafka_topic_partitions{{{SEL}}})"),
        stat("Writes (msg/s)", f"sum(kafka_cluster_messages_in_per_second{{{SEL}}})",
             thresholds=WRITES_STEPS, description="Design target: 100,000 msg/s."),
        stat("Reads (msg/s)", f"sum(kafka_consumergroup_consumed_messages_per_second{{{SEL}}})",
             thresholds=READS_STEPS, description="Design target: 500,000 msg/s."),
        stat("Dead letters (msg/s)",
             f"sum(kafka_topic_dlq_messages_in_per_second{{{SEL}}}) or vector(0)",
             thresholds=steps(GREEN, (ORANGE, 0.0001)), decimals=2),
        stat("Conformance drifts",
             count_or_zero(f"kafka_topic_conformance_drift{{{SEL}}} == 1"),
             thresholds=WARN_STEPS, description="Alert KafkaTopicConformanceDrift."),
        writes_panel(),
        reads_panel(),
        row("Topics"),
        timeseries(
            "Messages in per topic",
            [(f"kafka_topic_messages_in_per_second{{{t}}}", "{{topic}} {{cluster}}")],
            axis_label="messages/s", stack=True),
        timeseries(
            "Busiest partitions",
            [(f"topk(10, kafka_topic_partition_messages_in_per_second{{{t}}})",
              "{{topic}}/{{partition}} {{cluster}}")],
            axis_label="messages/s",
            description="Skewed keys show up as a few partitions taking most of a topic."),
        timeseries(
            "Hottest partition share per topic",
            [(f"kafka_topic_hottest_partition_write_share{{{t}}}", "{{topic}} {{cluster}}"),
             (f"max by (cluster) (kafka_topic_hot_partition_share_threshold{{{SEL}}})",
              "configured share {{cluster}}")],
            unit="percentunit", thresholds=HOT_STEPS, min_=0, max_=1,
            description="Share of each topic's writes going to its hottest partition (topics with two "
                        "or more partitions and writes). Line: 50 %, the default of "
                        "collectors.offsets.hot_partition_share; the configured share is drawn too "
                        "(alert KafkaTopicHotPartition after 15 minutes above it)."),
        timeseries(
            "Write skew per topic",
            [(f"kafka_topic_partition_write_skew{{{t}}}", "{{topic}} {{cluster}}")],
            description="Hottest partition's write rate over the mean of the topic's partitions: 1 is "
                        "even, N means every write goes to one of N partitions."),
        timeseries(
            "Share of the writes each broker leads",
            [(f"kafka_broker_leader_write_share{{{SEL}}}", "broker {{broker}} {{cluster}}")],
            unit="percentunit", min_=0, max_=1, stack=True,
            description="Writes to the partitions a broker leads, as a share of the cluster's "
                        "(internal topics aside): a broker far above 1/N carries the hot partitions."),
        timeseries(
            "Dead letters per dlq topic",
            [(f"kafka_topic_dlq_messages_in_per_second{{{SEL}}}", "{{topic}} {{cluster}}")],
            axis_label="messages/s", draw="bars",
            description="Messages written to dlq-* topics (alert KafkaDeadLetterMessages)."),
        timeseries(
            "Messages retained per topic",
            [(f"sum by (cluster, topic) (kafka_topic_partition_current_offset{{{t}}} "
              f"- kafka_topic_partition_oldest_offset{{{t}}})", "{{topic}} {{cluster}}")],
            axis_label="messages",
            description="High watermark minus log start offset, summed over partitions."),
        timeseries(
            "Size on disk per topic (all replicas)",
            [(f"sum by (cluster, topic) (kafka_topic_log_dir_size_total_bytes{{{t}}})",
              "{{topic}} {{cluster}}")],
            unit="bytes", w=24),
        table("Topic configuration and partition health",
              [(f"kafka_topic_info{{{t}}}", "Info"),
               (f"kafka_topic_under_replicated_partitions{{{t}}}", "Under-replicated"),
               (f"kafka_topic_under_min_isr_partitions{{{t}}}", "Under min ISR"),
               (f"kafka_topic_offline_partitions{{{t}}}", "Offline")],
              ["cluster", "topic", "partitions", "replication_factor", "min_insync_replicas",
               "cleanup_policy", "retention_ms"], hide=("Info",), w=24, h=10),
        table("Conformance drift",
              [(f"kafka_topic_conformance_drift{{{t}}} == 1", "Drift")],
              ["cluster", "topic", "check"], hide=("Drift",), w=24, h=6,
              description="Checks the declared topic configuration fails: missing, partitions, "
                          "replication_factor, min_insync_replicas, retention."),
    ]
    extra = [query_var("topic", "Topic", f"label_values(kafka_topic_partitions{{{SEL}}}, topic)")]
    return dashboard("dora-kafka-topics-throughput", "Topics and throughput",
                     "Write and read throughput against the design targets, per-topic traffic, "
                     "dead letters, retention and topic configuration.", extra, items)


def brokers_disk_replication():
    b = SEL + ', broker=~"$broker"'
    items = [
        row("Replication"),
        stat("Brokers", f"sum(kafka_brokers{{{SEL}}})"),
        stat("Offline partitions", f"sum(kafka_cluster_offline_partitions{{{SEL}}})",
             thresholds=ALERT_STEPS),
        stat("Under min ISR", f"sum(kafka_cluster_under_min_isr_partitions{{{SEL}}})",
             thresholds=ALERT_STEPS),
        stat("Under-replicated", f"sum(kafka_cluster_under_replicated_partitions{{{SEL}}})",
             thresholds=WARN_STEPS),
        stat("ISR shrinks (1h)", f"sum(increase(kafka_cluster_isr_shrinks_total{{{SEL}}}[1h]))",
             thresholds=WARN_STEPS, decimals=0),
        stat("Fullest log dir", f"max({disk_used(b)})", unit="percentunit",
             thresholds=DISK_STEPS, decimals=1),
        replication_panel(b),
        timeseries(
            "Probe produce errors per broker",
            [(f"sum by (cluster, broker) (rate(kafka_probe_produce_errors_total{{{b}}}[$__rate_interval]))",
              "broker {{broker}} {{cluster}}")],
            axis_label="errors/s",
            description="acks=all probe messages the leader could not acknowledge "
                        "(alert KafkaProbeProduceErrors)."),
        timeseries(
            "ISR shrinks and expands",
            [(f"sum by (cluster) (rate(kafka_cluster_isr_shrinks_total{{{SEL}}}[$__rate_interval]))",
              "shrinks {{cluster}}"),
             (f"sum by (cluster) (rate(kafka_cluster_isr_expands_total{{{SEL}}}[$__rate_interval]))",
              "expands {{cluster}}")],
            axis_label="per second",
            description="Followers leaving and rejoining the ISR; a steady flap means a "
                        "broker cannot keep up."),
        timeseries(
            "Leaders per broker",
            [(f"kafka_broker_leader_partitions{{{b}}}", "leaders broker {{broker}} {{cluster}}"),
             (f"kafka_broker_preferred_leader_imbalance{{{b}}}",
              "not preferred broker {{broker}} {{cluster}}")],
            description="Partitions led per broker, and partitions whose preferred leader is "
                        "this broker but which are led elsewhere."),
        row("Disk"),
        disk_panel(b),
        bargauge("Log dir usage now", disk_used(b),
                 "broker {{broker}} {{log_dir}}{{persistentvolumeclaim}}", "percentunit", DISK_STEPS,
                 min_=0, max_=1,
                 description="Threshold 80 % (alert KafkaBrokerDiskUsageHigh). " + DISK_SOURCES),
        timeseries(
            "Free space per log dir",
            [(f"kafka_log_dir_free_bytes{{{b}}}", "broker {{broker}} {{log_dir}} {{cluster}}")],
            unit="bytes"),
        timeseries(
            "Data per broker",
            [(f"kafka_broker_log_dir_size_total_bytes{{{b}}}", "broker {{broker}} {{cluster}}")],
            unit="bytes"),
        row("Broker process (sidecar, /proc)"),
        timeseries(
            "Broker CPU (share of allowed CPUs)",
            [(f"rate(kafka_broker_process_cpu_seconds_total{{{b}}}[$__rate_interval]) / "
              f"kafka_broker_process_cpu_limit_cores{{{b}}}", "broker {{broker}} {{cluster}}")],
            unit="percentunit", thresholds=CPU_STEPS, min_=0, w=8,
            description="CPU time used against the CPUs the broker may use (affinity, lowered by its "
                        "container's CPU quota where readable). Line: 90 % (alert "
                        "KafkaBrokerCpuSaturated after 10 minutes)."),
        timeseries(
            "Broker open file descriptors (share of limit)",
            [(f"kafka_broker_process_open_fds{{{b}}} / kafka_broker_process_max_fds{{{b}}}",
              "broker {{broker}} {{cluster}}")],
            unit="percentunit", thresholds=FDS_STEPS, min_=0, max_=1, w=8,
            description="Open file descriptors against the process's limit. Line: 80 % (alert "
                        "KafkaBrokerFileDescriptorsHigh). Absent where the sidecar cannot read "
                        "/proc/PID/fd (another uid): see the readable table."),
        timeseries(
            "Broker process uptime",
            [(f"time() - kafka_broker_process_start_time_seconds{{{b}}}", "broker {{broker}} {{cluster}}")],
            unit="s", thresholds=UPTIME_STEPS, min_=0, w=8,
            description="Time since the broker process started; a drop is a restart. Line: 10 minutes "
                        "(alert KafkaBrokerRestarted below it)."),
        timeseries(
            "Broker resident memory",
            [(f"kafka_broker_process_resident_memory_bytes{{{b}}}", "broker {{broker}} {{cluster}}")],
            unit="bytes", w=8,
            description="Resident memory of the broker JVM (heap in use, metaspace, direct buffers, "
                        "thread stacks); page cache is not counted."),
        timeseries(
            "Broker threads and open files",
            [(f"kafka_broker_process_threads{{{b}}}", "threads broker {{broker}} {{cluster}}"),
             (f"kafka_broker_process_open_fds{{{b}}}", "open fds broker {{broker}} {{cluster}}")],
            w=8),
        timeseries(
            "Broker disk I/O",
            [(f"rate(kafka_broker_process_read_bytes_total{{{b}}}[$__rate_interval])",
              "read broker {{broker}} {{cluster}}"),
             (f"rate(kafka_broker_process_written_bytes_total{{{b}}}[$__rate_interval])",
              "written broker {{broker}} {{cluster}}")],
            unit="Bps", w=8,
            description="Bytes the broker made the storage layer read and write; reads served from "
                        "the page cache are not counted."),
        timeseries(
            "Broker pod network",
            [(f"rate(kafka_broker_process_network_receive_bytes_total{{{b}, device!=\"lo\"}}[$__rate_interval])",
              "in {{device}} broker {{broker}} {{cluster}}"),
             (f"rate(kafka_broker_process_network_transmit_bytes_total{{{b}, device!=\"lo\"}}[$__rate_interval])",
              "out {{device}} broker {{broker}} {{cluster}}")],
            unit="Bps", w=12,
            description="Bytes through the interfaces of the broker's network namespace (the pod's), "
                        "loopback left out."),
        table("Broker /proc files not readable",
              [(f"kafka_broker_process_source_readable{{{b}}} == 0", "Readable")],
              ["cluster", "broker", "file"], hide=("Readable",), w=12,
              description="Files the sidecar could not read, whose series are missing: fd and io need "
                          "the broker's uid (docs/broker-process.md)."),
        row("Client view of brokers (librdkafka)"),
        timeseries(
            "Request round trip p99",
            [(f'kafka_client_broker_rtt_seconds{{{b}, quantile="0.99"}}',
              "broker {{broker}} {{cluster}}")], unit="s"),
        timeseries(
            "Request timeouts and throttling",
            [(f"rate(kafka_client_broker_request_timeouts_total{{{b}}}[$__rate_interval])",
              "timeouts/s broker {{broker}} {{cluster}}"),
             (f'kafka_client_broker_throttle_seconds{{{b}, quantile="0.99"}}',
              "throttle p99 (s) broker {{broker}} {{cluster}}")]),
        row("Partitions"),
        table("Under-replicated partitions",
              [(f"kafka_topic_partition_leader{{{SEL}}} and "
                f"kafka_topic_partition_under_replicated_partition{{{SEL}}} == 1", "Leader"),
               (f"kafka_topic_partition_in_sync_replica{{{SEL}}} and "
                f"kafka_topic_partition_under_replicated_partition{{{SEL}}} == 1", "ISR"),
               (f"kafka_topic_partition_replicas{{{SEL}}} and "
                f"kafka_topic_partition_under_replicated_partition{{{SEL}}} == 1", "Replicas"),
               (f"kafka_topic_partition_under_replicated_duration_seconds{{{SEL}}} and "
                f"kafka_topic_partition_under_replicated_partition{{{SEL}}} == 1", "For")],
              ["cluster", "topic", "partition"], units={"For": "s"},
              description="Alert KafkaTopicUnderReplicatedPartitions (per topic)."),
        table("Offline and under-min-ISR partitions",
              [(f"kafka_topic_partition_offline{{{SEL}}} == 1", "Offline"),
               (f"kafka_cluster_partition_underminisr{{{SEL}}} == 1", "Under min ISR")],
              ["cluster", "topic", "partition"],
              description="Alerts KafkaTopicPartitionOffline and KafkaTopicPartitionUnderMinISR."),
        table("Brokers",
              [(f"kafka_broker_info{{{SEL}}}", "Info")], ["cluster", "id", "address", "rack"],
              hide=("Info",)),
        table("Client connection state",
              [(f"kafka_client_broker_connection_state{{{b}}} == 1", "State")],
              ["cluster", "broker", "state"], hide=("State",)),
    ]
    extra = [query_var("broker", "Broker",
                       f"label_values(kafka_broker_leader_partitions{{{SEL}}}, broker)")]
    return dashboard("dora-kafka-brokers-disk-replication", "Brokers, disk and replication",
                     "Per-broker replication latency (acks=all probe), ISR changes, leaders, "
                     "log dir usage and partitions at risk.", extra, items)


def schema_registry():
    r = SEL + ', registry=~"$registry"'
    items = [
        row("Availability"),
        stat("Registries down", count_or_zero(f"kafka_schema_registry_up{{{r}}} == 0"),
             thresholds=ALERT_STEPS, description="Alert KafkaSchemaRegistryDown."),
        stat("Registries up", f"sum(kafka_schema_registry_up{{{r}}})"),
        stat("Since last success",
             f"time() - min(kafka_schema_registry_last_success_timestamp_seconds{{{r}}} > 0)",
             unit="s", thresholds=steps(GREEN, (ORANGE, 120)),
             description="Age of the oldest last successful check among the selected "
                         "registries (registries never reached are left out: see Registry up)."),
        stat("Request latency", f"max(kafka_schema_registry_request_latency_seconds{{{r}}})",
             unit="s"),
        stat("Subjects", f"sum(kafka_schema_registry_subjects{{{r}}})"),
        stat("Schema versions", f"sum(kafka_schema_registry_schema_versions{{{r}}})"),
        state_timeline("Registry up", f"kafka_schema_registry_up{{{r}}}",
                       "{{registry}} {{cluster}}",
                       description="Result of the exporter's check of each registry; "
                                   "DOWN = schema registry unavailable."),
        timeseries(
            "Request latency",
            [(f"kafka_schema_registry_request_latency_seconds{{{r}}}", "{{registry}} {{cluster}}")],
            unit="s"),
        timeseries(
            "Time since last successful check",
            [(f"time() - (kafka_schema_registry_last_success_timestamp_seconds{{{r}}} > 0)",
              "{{registry}} {{cluster}}")],
            unit="s"),
        row("Content"),
        timeseries(
            "Subjects and schema versions",
            [(f"kafka_schema_registry_subjects{{{r}}}", "subjects {{registry}} {{cluster}}"),
             (f"kafka_schema_registry_schema_versions{{{r}}}", "versions {{registry}} {{cluster}}")],
            w=24),
        table("Registry mode and compatibility",
              [(f"kafka_schema_registry_info{{{r}}}", "Info")],
              ["cluster", "registry", "mode", "compatibility"], hide=("Info",)),
        table("Last error",
              [(f'kafka_schema_registry_last_error{{{r}, class!="none"}} == 1', "Error")],
              ["cluster", "registry", "class"], hide=("Error",),
              description="Class of the last failed check: timeout, connection, tls, auth, "
                          "http_5xx, http_4xx, bad_response."),
    ]
    extra = [query_var("registry", "Registry",
                       f"label_values(kafka_schema_registry_up{{{SEL}}}, registry)")]
    return dashboard("dora-kafka-schema-registry", "Schema registry",
                     "Availability, latency and content of the Confluent schema registry as "
                     "seen by the exporter.", extra, items)


def slo_probe():
    b = SEL + ', broker=~"$broker"'

    def burn(window):
        return (f"(sum by (cluster) (rate(kafka_probe_failures_total{{{SEL}}}[{window}]))"
                f" / sum by (cluster) (rate(kafka_probe_attempts_total{{{SEL}}}[{window}])))"
                f" / {ERROR_BUDGET:.4f}")

    items = [
        row("Availability SLO: 99.99 %"),
        stat("Availability (range)", availability("$__range"), unit="percentunit", decimals=3,
             thresholds=AVAILABILITY_STEPS, description="Over the dashboard's time range."),
        stat("Availability (1h)", availability("1h"), unit="percentunit", decimals=3,
             thresholds=AVAILABILITY_STEPS),
        stat("Availability (30d)", availability("30d"), unit="percentunit", decimals=3,
             thresholds=AVAILABILITY_STEPS),
        stat("Error budget left (30d)",
             f"1 - (sum(increase(kafka_probe_failures_total{{{SEL}}}[30d])) / "
             f"sum(increase(kafka_probe_attempts_total{{{SEL}}}[30d]))) / {ERROR_BUDGET:.4f}",
             unit="percentunit", decimals=1, thresholds=steps(RED, (ORANGE, 0), (GREEN, 0.25)),
             description="Share of the 30-day error budget (0.01 % of probes) not yet used."),
        stat("Probe success (exporter window)", f"min(kafka_probe_success_ratio{{{SEL}}})",
             unit="percentunit", decimals=3, thresholds=AVAILABILITY_STEPS),
        stat("Messages lost (24h)",
             f"sum(increase(kafka_probe_messages_lost_total{{{SEL}}}[1d]))",
             thresholds=ALERT_STEPS, decimals=0),
        timeseries(
            "Availability (rolling 1h)",
            [(availability("1h", "cluster"), "availability {{cluster}}")],
            unit="percentunit", thresholds=AVAILABILITY_STEPS, max_=1,
            description="Line: the 99.99 % target."),
        timeseries(
            "Error budget burn rate",
            [(burn("5m"), "5m {{cluster}}"), (burn("1h"), "1h {{cluster}}"),
             (burn("6h"), "6h {{cluster}}"), (burn("1d"), "1d {{cluster}}")],
            thresholds=steps(GREEN, (YELLOW, 1), (ORANGE, 6), (RED, 14.4)),
            axis_label="x budget",
            description="Failure ratio divided by the 0.01 % budget. Lines: 14.4x and 6x page "
                        "(KafkaProbeErrorBudgetBurnFast), 1x over 3 days opens a ticket "
                        "(KafkaProbeErrorBudgetBurnSlow)."),
        row("Latency"),
        e2e_panel(),
        heatmap("Produce-to-consume latency distribution",
                f"sum by (le) (increase(kafka_probe_end_to_end_latency_seconds_bucket{{{SEL}}}"
                f"[$__rate_interval]))"),
        replication_panel(b, w=24),
        row("Probe traffic"),
        timeseries(
            "Probe messages",
            [(f"sum by (cluster) (rate(kafka_probe_attempts_total{{{SEL}}}[$__rate_interval]))",
              "attempts {{cluster}}"),
             (f"sum by (cluster) (rate(kafka_probe_messages_received_total{{{SEL}}}[$__rate_interval]))",
              "received {{cluster}}"),
             (f"sum by (cluster) (rate(kafka_probe_failures_total{{{SEL}}}[$__rate_interval]))",
              "failures {{cluster}}"),
             (f"sum by (cluster) (rate(kafka_probe_messages_lost_total{{{SEL}}}[$__rate_interval]))",
              "lost {{cluster}}")],
            axis_label="per second"),
        timeseries(
            "Probe produce per broker",
            [(f"sum by (cluster, broker) (rate(kafka_probe_messages_produced_total{{{b}}}[$__rate_interval]))",
              "produced broker {{broker}} {{cluster}}"),
             (f"sum by (cluster, broker) (rate(kafka_probe_produce_errors_total{{{b}}}[$__rate_interval]))",
              "errors broker {{broker}} {{cluster}}")],
            axis_label="per second"),
    ]
    extra = [query_var("broker", "Broker",
                       f"label_values(kafka_probe_messages_produced_total{{{SEL}}}, broker)")]
    return dashboard("dora-kafka-slo-probe", "SLO and probe",
                     "The end-to-end probe: 99.99 % availability SLO with burn rates, "
                     "produce-to-consume latency against the 10 ms p95 target, acks=all "
                     "latency per broker.", extra, items)


CONNECT_STATES = ["UNASSIGNED", "RUNNING", "PAUSED", "STOPPED", "FAILED", "RESTARTING"]
CONNECT_STATE_COLORS = {"UNASSIGNED": ORANGE, "RUNNING": GREEN, "PAUSED": BLUE,
                        "STOPPED": "purple", "FAILED": RED, "RESTARTING": YELLOW}


def connect_state_code(metric, sel):
    """One value per connector (or task): the index of its state in CONNECT_STATES."""
    return " + ".join(f'{i} * max without (state) ({metric}{{{sel}, state="{st}"}})'
                      for i, st in enumerate(CONNECT_STATES))


def connect_state_timeline(title, expr, legend, description="", w=24, h=8):
    mappings = {str(i): {"text": st, "color": CONNECT_STATE_COLORS[st], "index": i}
                for i, st in enumerate(CONNECT_STATES)}
    return {
        "type": "state-timeline",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, legend)],
        "fieldConfig": {
            "defaults": {
                "color": {"mode": "thresholds"},
                "thresholds": steps(BLUE),
                "mappings": [{"type": "value", "options": mappings}],
                "custom": {"fillOpacity": 80, "lineWidth": 0},
            },
            "overrides": [],
        },
        "options": {"mergeValues": True, "showValue": "auto", "rowHeight": 0.9,
                    "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
                    "tooltip": {"mode": "single", "sort": "none"}},
        "_size": (w, h),
    }


def connect_overview():
    c = SEL + ', connect=~"$connect"'
    k = c + ', connector=~"$connector"'
    # A sink connector's consumer group is connect-<connector name> (Connect's
    # default; consumer.override.group.id changes it, docs/connect.md).
    sink_lag = (
        f'sum by (cluster, connector) ('
        f'label_replace(kafka_consumergroup_lag_sum{{{SEL}, consumergroup=~"connect-.+"}}, '
        f'"connector", "$1", "consumergroup", "connect-(.+)")'
        f' * on (job, instance, cluster, connector) group_left () '
        f'max by (job, instance, cluster, connector) (kafka_connect_connector_info{{{k}, type="sink"}}))')
    lag_panel = timeseries(
        "Sink lag by connector", [(sink_lag, "{{connector}} {{cluster}}")],
        thresholds=LAG_STEPS, w=24,
        description="Lag of each sink connector's consumer group connect-<connector> (the "
                    "consumer_groups collector's kafka_consumergroup_lag_sum), in messages. "
                    "Click a series for the group on the Consumer lag dashboard.")
    lag_panel["fieldConfig"]["defaults"]["links"] = [{
        "title": "Consumer lag of connect-${__field.labels.connector}",
        "url": "/d/dora-kafka-consumer-lag/?var-consumergroup=connect-${__field.labels.connector}"
               "&${job:queryparam}&${cluster:queryparam}&${__url_time_range}",
        "targetBlank": False,
    }]
    items = [
        row("Connect clusters"),
        stat("Connect clusters down", count_or_zero(f"kafka_connect_up{{{c}}} == 0"),
             thresholds=ALERT_STEPS, description="Alert KafkaConnectDown."),
        stat("Connectors", f"sum(kafka_connect_connectors{{{c}}})"),
        stat("Connectors FAILED",
             count_or_zero(f'kafka_connect_connector_state{{{k}, state="FAILED"}} == 1'),
             thresholds=ALERT_STEPS, description="Alert KafkaConnectConnectorFailed."),
        stat("Tasks FAILED", count_or_zero(f'kafka_connect_task_state{{{k}, state="FAILED"}} == 1'),
             thresholds=ALERT_STEPS, description="Alert KafkaConnectTaskFailed."),
        stat("Tasks RUNNING", f'sum(kafka_connect_task_state{{{k}, state="RUNNING"}})'),
        stat("REST latency", f"max(kafka_connect_request_latency_seconds{{{c}}})", unit="s"),
        state_timeline("Connect REST up", f"kafka_connect_up{{{c}}}", "{{connect}} {{cluster}}",
                       description="The exporter's GET / and GET /connectors of each Connect "
                                   "cluster; DOWN = REST unreachable or answering wrongly."),
        row("States over time"),
        connect_state_timeline("Connector states",
                               connect_state_code("kafka_connect_connector_state", k),
                               "{{connector}} ({{connect}})"),
        connect_state_timeline("Task states",
                               connect_state_code("kafka_connect_task_state", k),
                               "{{connector}}/{{task}} ({{connect}})"),
        timeseries("Tasks by state",
                   [(f"sum by (cluster, connect, state) (kafka_connect_task_state{{{k}}})",
                     "{{state}} {{connect}}")],
                   stack=True),
        timeseries("Tasks per worker",
                   [(f"kafka_connect_worker_tasks{{{c}}}", "{{worker}} {{connect}}")],
                   description="Tasks assigned to each worker: an uneven spread or a worker "
                               "with none shows a rebalance problem."),
        row("Failures"),
        table("Failed tasks with their first trace line",
              [(f"kafka_connect_task_failure_info{{{k}}}", "Failed")],
              ["cluster", "connect", "connector", "task", "trace"], hide=("Failed",), w=24,
              description="First line of each FAILED task's trace, bounded, secrets removed "
                          "(GET /connectors/<name>/status has the whole trace)."),
        table("Failed connectors",
              [(f"kafka_connect_connector_failure_info{{{k}}}", "Failed")],
              ["cluster", "connect", "connector", "trace"], hide=("Failed",), w=24),
        table("Connectors",
              [(f"kafka_connect_connector_info{{{k}}}", "Info")],
              ["cluster", "connect", "connector", "type", "class", "worker"], hide=("Info",), w=24),
        row("Sink lag"),
        lag_panel,
    ]
    extra = [query_var("connect", "Connect cluster",
                       f"label_values(kafka_connect_up{{{SEL}}}, connect)"),
             query_var("connector", "Connector",
                       f'label_values(kafka_connect_connector_info{{{SEL}, connect=~"$connect"}}, connector)')]
    return dashboard("dora-kafka-connect", "Kafka Connect",
                     "Kafka Connect clusters as seen by the exporter's REST checks: connector "
                     "and task states over time, failed tasks with their first trace line, "
                     "tasks per worker, and the lag of sink connectors.", extra, items)


def disaster_recovery():
    f = SEL + ', source=~"$source", target=~"$target"'
    items = [
        row("Replication latency (end to end, the daemon's probe through MirrorMaker 2)"),
        stat("p99 latency (5m)",
             f"histogram_quantile(0.99, sum by (le) (rate(kafka_mirror_latency_seconds_bucket{{{f}}}[5m])))",
             unit="s", thresholds=steps(GREEN, (ORANGE, 30), (RED, 60)),
             description="Probe message produced on the source until seen on the target."),
        stat("Oldest pending probe message",
             f"max(kafka_mirror_probe_oldest_pending_seconds{{{f}}})", unit="s",
             thresholds=steps(GREEN, (ORANGE, 30), (RED, 60)),
             description="Grows while replication stands still."),
        stat("Probe messages missing (1h)",
             f"sum(increase(kafka_mirror_probe_messages_missing_total{{{f}}}[1h]))",
             thresholds=steps(GREEN, (RED, 1)),
             description="Not seen on the target within collectors.mirror.probe_timeout."),
        stat("Mirror collector up",
             f'min(kafka_exporter_collector_success{{{SEL}, collector="mirror"}})',
             thresholds=steps(RED, (GREEN, 1)),
             description="0 while either cluster of a flow cannot be read."),
        timeseries("Replication latency quantiles",
                   [(f"histogram_quantile(0.5, sum by (source, target, le) "
                     f"(rate(kafka_mirror_latency_seconds_bucket{{{f}}}[5m])))", "p50 {{source}}->{{target}}"),
                    (f"histogram_quantile(0.99, sum by (source, target, le) "
                     f"(rate(kafka_mirror_latency_seconds_bucket{{{f}}}[5m])))", "p99 {{source}}->{{target}}"),
                    (f"kafka_mirror_probe_oldest_pending_seconds{{{f}}}", "oldest pending {{source}}->{{target}}")],
                   unit="s", thresholds=steps(GREEN, (RED, 60))),
        timeseries("Source vs target writes",
                   [(f"sum by (cluster, topic) (rate(kafka_mirror_topic_offset_sum{{{f}}}[5m]))",
                     "{{cluster}} {{topic}}")],
                   unit="short",
                   description="Messages per second written to each replicated topic on the source "
                               "and arriving in its copy on the target."),
        row("Offset syncs (periodic: see docs/disaster-recovery.md)"),
        timeseries("Replication lag per topic (messages)",
                   [(f"sum by (source, target, topic) (kafka_mirror_partition_lag_messages{{{f}}})",
                     "{{source}}->{{target}} {{topic}}")],
                   description="Source high watermark minus MM2's latest synced upstream offset; reads "
                               "high by up to MM2's offset.lag.max between syncs."),
        timeseries("Offset sync age (max per topic)",
                   [(f"max by (source, target, topic) (kafka_mirror_offset_sync_age_seconds{{{f}}})",
                     "{{source}}->{{target}} {{topic}}")],
                   unit="s", description="Grows on idle partitions too: read it with the lag."),
        row("Failover readiness (checkpoints)"),
        timeseries("Checkpoint age per group",
                   [(f"max by (source, target, group) (kafka_mirror_checkpoint_age_seconds{{{f}}})",
                     "{{group}} {{source}}->{{target}}")],
                   unit="s", description="0 while every checkpoint matches the group's committed offset."),
        timeseries("Messages re-read after a failover now",
                   [(f"sum by (source, target, group) (kafka_mirror_checkpoint_reread_messages{{{f}}})",
                     "{{group}} {{source}}->{{target}}")]),
    ]
    extra = [query_var("source", "Source", f"label_values(kafka_mirror_probe_messages_sent_total{{{SEL}}}, source)"),
             query_var("target", "Target", f"label_values(kafka_mirror_probe_messages_sent_total{{{SEL}}}, target)")]
    return dashboard("dora-kafka-disaster-recovery", "Disaster recovery",
                     "MirrorMaker 2 replication watched end to end: probe latency source -> target, "
                     "source vs target write rates, offset-sync lag per topic and checkpoint age per "
                     "group (docs/disaster-recovery.md).", extra, items)


DASHBOARDS = {
    "cluster-overview.json": cluster_overview,
    "consumer-lag.json": consumer_lag,
    "topics-throughput.json": topics_throughput,
    "brokers-disk-replication.json": brokers_disk_replication,
    "schema-registry.json": schema_registry,
    "slo-probe.json": slo_probe,
    "kafka-connect.json": connect_overview,
    "disaster-recovery.json": disaster_recovery,
}


def render(build):
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


def main(argv):
    check = "--check" in argv
    here = os.path.dirname(os.path.abspath(__file__))
    stale = []
    for name, build in DASHBOARDS.items():
        path = os.path.join(here, name)
        text = render(build)
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    current = f.read()
            except FileNotFoundError:
                current = None
            if current != text:
                stale.append(name)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if stale:
        print("out of date (run python3 dashboards/build.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
