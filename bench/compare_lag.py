#!/usr/bin/env python3
"""compare_lag.py METRICS DESCRIBE: the exporter's kafka_consumergroup_lag against
kafka-consumer-groups --describe for the groups DESCRIBE covers. Prints JSON;
exit 1 on any difference."""
import json
import re
import sys

LINE = re.compile(r'^kafka_consumergroup_lag\{consumergroup="([^"]*)",topic="([^"]*)",partition="([^"]*)"\} (\S+)$')


def main(metrics_path, describe_path):
    tool = {}
    groups = set()
    for line in open(describe_path):
        f = line.split()
        if len(f) < 6 or f[0] == "GROUP" or not f[2].isdigit():
            continue
        groups.add(f[0])
        if f[5] != "-":
            tool[(f[0], f[1], int(f[2]))] = int(f[5])
    exporter = {}
    with open(metrics_path) as m:
        for line in m:
            if not line.startswith("kafka_consumergroup_lag{"):
                continue
            r = LINE.match(line.rstrip("\n"))
            if r and r.group(1) in groups:
                exporter[(r.group(1), r.group(2), int(r.group(3)))] = float(r.group(4))
    mismatches = [(k, tool[k], exporter.get(k)) for k in tool if exporter.get(k) != tool[k]]
    extra = [k for k in exporter if k not in tool]
    out = {"groups": sorted(groups), "partitions_compared": len(tool), "exporter_series": len(exporter),
           "mismatches": len(mismatches), "extra_in_exporter": len(extra),
           "examples": [list(k) + [t, e] for k, t, e in mismatches[:5]],
           "ok": bool(tool) and not mismatches and not extra}
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
