#!/usr/bin/env bash
# bench/run.sh [S|M|L|all|render|report|compare REV [SIZES]|eval [REV]|granularity] — the
# scale benchmark (a benchmark, not a test); `compare` is the no-regression
# check of this tree against REV (run_compare below); `eval` is the alert
# evaluator's cost per publish at L, without a broker, this tree and REV
# interleaved (run_eval below).
#
# For each size it builds what it needs (build-bench/, RelWithDebInfo), starts
# its own 3-node KRaft cluster (tests/kafka/kafkactl.py, watchdog on this
# script), lays out topics, messages and committed offsets (cluster_setup),
# measures collection cycles in-process (cycle_bench), then the real daemon
# under concurrent scrapes (scrape_load), checks lag against
# kafka-consumer-groups --describe for a sample of groups, stops the cluster,
# and regenerates docs/benchmarks.md from bench/results/*.json.
#
#   S: 100 partitions,    10 groups,     1,000 lag series
#   M: 2,000 partitions,  100 groups,   20,000 lag series
#   L: 20,000 partitions, 2,000 groups, 200,000 lag series
#
# Environment: BENCH_NODES (3), BENCH_CYCLES (6), BENCH_SCRAPE_SECONDS (8),
# BENCH_WORK (/tmp/dora-bench-run), BENCH_SKIP_BUILD=1.
# Why 3 nodes: one broker would hold 20,000 open log segments at L, above this
# machine's hard limit of open files (20,000), and cannot raise it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
WORK=${BENCH_WORK:-/tmp/dora-bench-run}
RESULTS=$ROOT/bench/results
NODES=${BENCH_NODES:-3}
CYCLES=${BENCH_CYCLES:-6}
SCRAPE_SECONDS=${BENCH_SCRAPE_SECONDS:-8}
KAFKACTL="python3 $ROOT/tests/kafka/kafkactl.py"
mkdir -p "$WORK" "$RESULTS"

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

build() {
  [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]] && return 0
  log "building in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  # shellcheck disable=SC2086
  ninja -C "$BUILD" -j2 ${BENCH_TARGETS:-dora-kafka-exporter cycle_bench render_bench http_bench cluster_setup \
    scrape_load eval_bench} >/dev/null
}

# size -> topics partitions-per-topic groups topics-per-group
layout() {
  case "$1" in
    S) echo "5 20 10 5" ;;
    M) echo "100 20 100 10" ;;
    L) echo "1000 20 2000 5" ;;
    *) echo "unknown size $1" >&2; return 1 ;;
  esac
}

CLUSTER_DIR=""
DAEMON_PID=""
HTTP_PID=""
stop_daemon() {
  if [[ -n "$DAEMON_PID" ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill "$DAEMON_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$DAEMON_PID" 2>/dev/null || true
  fi
  DAEMON_PID=""
}
cleanup() {
  if [[ -n "$HTTP_PID" ]]; then kill "$HTTP_PID" 2>/dev/null || true; fi
  HTTP_PID=""
  stop_daemon
  if [[ -n "$CLUSTER_DIR" ]]; then
    $KAFKACTL stop --dir "$CLUSTER_DIR" --kill >/dev/null 2>&1 || true
  fi
  CLUSTER_DIR=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

machine_json() {
  python3 - "$@" <<'EOF'
import json, os, subprocess, sys
def sh(c):
    try: return subprocess.run(c, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception: return ""
mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
print(json.dumps({
  "nproc": sh("nproc"), "ram": mem, "cpu": sh("awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo"),
  "loadavg": open("/proc/loadavg").read().split()[:3], "kernel": sh("uname -r"),
  "librdkafka": sh("pkg-config --modversion rdkafka"), "kafka": os.environ.get("DORA_KAFKA_VERSION", "3.9.1"),
  "compiler": sh("c++ --version | head -1"), "build": "RelWithDebInfo (-O2 -g)",
  "date": sh("date -u +%Y-%m-%dT%H:%MZ"),
}))
EOF
}

proc_cpu() {  # utime+stime of a pid in seconds
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); split($0, f, " "); printf "%.2f", (f[12] + f[13]) / hz }' "/proc/$1/stat"
}
proc_hwm() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
proc_rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

# start_daemon CFG LOG PORT: the daemon in the background (DAEMON_PID), until
# /ready answers; fails if it never does or exits first.
start_daemon() {
  "$BUILD/exporter/dora-kafka-exporter" --config "$1" >"$2" 2>&1 &
  DAEMON_PID=$!
  for _ in $(seq 1 600); do
    if curl -fsS "http://127.0.0.1:$3/ready" >/dev/null 2>&1; then return 0; fi
    kill -0 "$DAEMON_PID" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

# idle_daemon TOUCH_CMD: two produce rounds, then collections only, no scrapes,
# over 20 s. Prints "CPU-s-per-s RSS-MB peak-RSS-MB".
idle_daemon() {
  eval "$1"; sleep 4; eval "$1"; sleep 4
  local c0 c1; c0=$(proc_cpu "$DAEMON_PID"); sleep 20; c1=$(proc_cpu "$DAEMON_PID")
  echo "$(python3 -c "print(round(($c1-$c0)/20.0, 3))") $(proc_rss "$DAEMON_PID") $(proc_hwm "$DAEMON_PID")"
}

# scrape_daemon PORT GZIP CONCURRENCY LOG JSONL: one scrape_load run against the
# daemon; its RESULT, with the daemon's CPU and RSS, is appended to JSONL.
scrape_daemon() {
  local c0 c1; c0=$(proc_cpu "$DAEMON_PID")
  "$BUILD/bench/scrape_load" --port "$1" --concurrency "$3" --seconds "$SCRAPE_SECONDS" --max 5000 \
    --gzip "$2" >"$4" 2>&1 || true
  c1=$(proc_cpu "$DAEMON_PID")
  grep -v '^RESULT ' "$4" >&2 || true
  grep '^RESULT ' "$4" | sed 's/^RESULT //' |
    python3 -c "import json,sys; d=json.loads(sys.stdin.read()); d['daemon_cpu_s']=round($c1-$c0,2); d['rss_mb']=$(proc_rss "$DAEMON_PID"); print(json.dumps(d))" \
    >>"$5" || true
}

# cluster_up SIZE OUT: a fresh NODES-node cluster (CLUSTER_DIR) laid out for
# SIZE; sets BS (bootstrap), TOUCH (the between-cycles produce command) and
# SETUP_S.
cluster_up() {
  local size=$1 out=$2
  read -r topics parts groups per_group < <(layout "$size")
  CLUSTER_DIR=$WORK/cluster-$size
  log "$size: starting a $NODES-node cluster in $CLUSTER_DIR (load $(cut -d' ' -f1-3 /proc/loadavg))"
  $KAFKACTL start --dir "$CLUSTER_DIR" --nodes "$NODES" --watch-pid $$ \
    --config num.network.threads=2 --config num.io.threads=2 >"$out/kafkactl.log" 2>&1
  BS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bootstrap"])' "$CLUSTER_DIR/cluster.json")
  local t0=$SECONDS
  log "$size: creating $topics topics x $parts partitions, $groups groups x $per_group topics"
  # Retried once: librdkafka 2.0.2's admin client can abort on a fresh cluster (see cluster_setup.cpp);
  # a second run finds the topics and rewrites the same offsets.
  local ok=0
  for attempt in 1 2; do
    if "$BUILD/bench/cluster_setup" create --bootstrap "$BS" --topics "$topics" --partitions "$parts" \
      --groups "$groups" --topics-per-group "$per_group" >>"$out/setup.log" 2>&1; then ok=1; break; fi
    log "$size: cluster_setup failed (attempt $attempt)"
  done
  [[ $ok == 1 ]] || { cat "$out/setup.log" >&2; return 1; }
  SETUP_S=$((SECONDS - t0))
  TOUCH="$BUILD/bench/cluster_setup touch --bootstrap $BS >/dev/null 2>&1"
}

run_size() {
  local size=$1
  read -r topics parts groups per_group < <(layout "$size")
  local out=$WORK/$size
  rm -rf "$out"; mkdir -p "$out"
  local machine; machine=$(machine_json)
  cluster_up "$size" "$out"
  local bs=$BS setup_s=$SETUP_S touch=$TOUCH

  # 1. Collection cycles, in-process.
  local sweep=""
  [[ "$size" != S ]] && sweep="--sweep 1,8,32,128"
  log "$size: $CYCLES collection cycles (cycle_bench)"
  "$BUILD/bench/cycle_bench" --bootstrap "$bs" --cycles "$CYCLES" --touch-cmd "$touch" $sweep \
    --dump "$out/cycle-body.txt" >"$out/cycle.log" 2>"$out/cycle.err"
  grep -v '^RESULT ' "$out/cycle.log" >&2
  grep '^RESULT ' "$out/cycle.log" | sed 's/^RESULT //' >"$out/cycle.json"
  rm -f "$out/cycle-body.txt"
  # 1b. The same cycles at collectors.consumer_groups.granularity: topic.
  log "$size: $CYCLES collection cycles at granularity topic (cycle_bench)"
  printf 'collectors:\n  consumer_groups: {granularity: topic}\n' >"$out/cycle-topic.yaml"
  "$BUILD/bench/cycle_bench" --bootstrap "$bs" --cycles "$CYCLES" --touch-cmd "$touch" \
    --config "$out/cycle-topic.yaml" >"$out/cycle-topic.log" 2>"$out/cycle-topic.err" || true
  grep '^RESULT ' "$out/cycle-topic.log" | sed 's/^RESULT //' >"$out/cycle-topic.json"

  # 2. The daemon: --once under /usr/bin/time (a cold cycle), then serving under scrapes.
  local cfg=$out/exporter.yaml port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$cfg" <<EOF
kafka:
  bootstrap_servers: [${bs//,/, }]
web:
  listen_address: "127.0.0.1:$port"
log:
  level: warn
collectors:
  cluster: {interval: 2s}
  offsets: {interval: 2s}
  consumer_groups: {interval: 2s}
  broker_stats: {interval: 2s}
EOF
  log "$size: daemon --once under /usr/bin/time -v"
  /usr/bin/time -v "$BUILD/exporter/dora-kafka-exporter" --config "$cfg" --once >/dev/null 2>"$out/once.time" || true
  log "$size: daemon serving on 127.0.0.1:$port (collector intervals 2s)"
  start_daemon "$cfg" "$out/daemon.log" "$port" || { log "$size: daemon not ready"; cat "$out/daemon.log" >&2; return 1; }
  local idle_cpu_per_s rss_idle hwm_idle
  read -r idle_cpu_per_s rss_idle hwm_idle < <(idle_daemon "$touch")
  : >"$out/scrape.jsonl"
  for gz in 0 1; do
    for c in 1 4 16; do scrape_daemon "$port" "$gz" "$c" "$out/scrape-$gz-$c.log" "$out/scrape.jsonl"; done
  done
  local hwm; hwm=$(proc_hwm "$DAEMON_PID")

  # 3. Correctness: lag of a sample of groups against kafka-consumer-groups --describe.
  log "$size: checking lag of sampled groups against kafka-consumer-groups --describe"
  sleep 5  # a full collection after the last produce
  curl -fsS "http://127.0.0.1:$port/metrics" -o "$out/metrics.txt"
  local sample; sample=$(python3 -c "
import sys; g=$groups; idx=sorted({0, 1, g//3, g//2, g-1})
print(' '.join('--group bench-group-%05d' % i for i in idx))")
  $KAFKACTL groups --dir "$CLUSTER_DIR" -- --describe $sample >"$out/describe.txt" 2>"$out/describe.err" || true
  python3 "$ROOT/bench/compare_lag.py" "$out/metrics.txt" "$out/describe.txt" >"$out/correctness.json" || true
  cat "$out/correctness.json" >&2

  # 4. The same daemon at collectors.consumer_groups.granularity: topic (the
  # documented setting for clusters this size): idle CPU, peak RSS, gzip scrapes.
  stop_daemon
  local tcfg=$out/exporter-topic.yaml
  sed 's/  consumer_groups: {interval: 2s}/  consumer_groups: {interval: 2s, granularity: topic}/' "$cfg" >"$tcfg"
  log "$size: daemon at granularity topic"
  : >"$out/topic-scrape.jsonl"
  local t_idle="null" t_rss="null" t_hwm_idle="null" t_hwm="null" t_series=0
  if start_daemon "$tcfg" "$out/daemon-topic.log" "$port"; then
    read -r t_idle t_rss t_hwm_idle < <(idle_daemon "$touch")
    t_series=$(curl -fsS "http://127.0.0.1:$port/metrics" | grep -vc '^#' || true)
    for c in 1 4 16; do scrape_daemon "$port" 1 "$c" "$out/topic-scrape-$c.log" "$out/topic-scrape.jsonl"; done
    t_hwm=$(proc_hwm "$DAEMON_PID")
  else
    log "$size: daemon at granularity topic not ready"
  fi
  printf '{"idle_cpu_s_per_s": %s, "rss_mb_after_warmup": %s, "peak_rss_mb_before_scrapes": %s, "peak_rss_mb": %s, "series": %s}\n' \
    "$t_idle" "$t_rss" "$t_hwm_idle" "$t_hwm" "$t_series" >"$out/topic-daemon.json"

  cleanup
  trap cleanup EXIT

  # 5. The HTTP path alone on this body (brokers stopped): today's per-scrape
  # copy + gzip vs the shared snapshot recommended in docs/benchmarks.md.
  : >"$out/http.jsonl"
  for mode in current proposed; do
    "$BUILD/bench/http_bench" --body "$out/metrics.txt" --mode "$mode" --seconds 300 >"$out/http-$mode.out" 2>&1 &
    HTTP_PID=$!
    local hport=""
    for _ in $(seq 1 100); do
      hport=$(awk '/^PORT / {print $2}' "$out/http-$mode.out" 2>/dev/null)
      [[ -n "$hport" ]] && break
      sleep 0.1
    done
    for gz in 0 1; do
      for c in 1 4 16; do
        "$BUILD/bench/scrape_load" --port "$hport" --concurrency "$c" --seconds 5 --max 5000 --gzip "$gz" \
          >"$out/http-$mode-$gz-$c.log" 2>&1 || true
        grep -v '^RESULT ' "$out/http-$mode-$gz-$c.log" | sed "s/^/$mode: /" >&2 || true
        grep '^RESULT ' "$out/http-$mode-$gz-$c.log" | sed 's/^RESULT //' |
          python3 -c "import json,sys; d=json.loads(sys.stdin.read()); d['mode']='$mode'; d['peak_rss_mb']=$(proc_hwm "$HTTP_PID"); print(json.dumps(d))" \
          >>"$out/http.jsonl" || true
      done
    done
    kill "$HTTP_PID" 2>/dev/null || true
    wait "$HTTP_PID" 2>/dev/null || true
    HTTP_PID=""
  done
  rm -f "$out/metrics.txt"
  python3 - "$size" "$out" "$RESULTS/$size.json" "$setup_s" "$idle_cpu_per_s" "$rss_idle" "$hwm_idle" "$hwm" \
    "$topics" "$parts" "$groups" "$per_group" "$NODES" "$machine" <<'EOF'
import json, sys
size, out, dest, setup_s, idle, rss_idle, hwm_idle, hwm, topics, parts, groups, per_group, nodes, machine = sys.argv[1:]
res = {"size": size, "machine": json.loads(machine), "setup_s": int(setup_s),
       "layout": {"topics": int(topics), "partitions_per_topic": int(parts), "partitions": int(topics) * int(parts),
                  "groups": int(groups), "topics_per_group": int(per_group),
                  "lag_series": int(groups) * int(per_group) * int(parts), "brokers": int(nodes)},
       "cycle": json.load(open(out + "/cycle.json")),
       "daemon": {"idle_cpu_s_per_s": float(idle), "rss_mb_after_warmup": float(rss_idle),
                  "peak_rss_mb_before_scrapes": float(hwm_idle), "peak_rss_mb": float(hwm)},
       "scrape": [json.loads(l) for l in open(out + "/scrape.jsonl") if l.strip()],
       "http": [json.loads(l) for l in open(out + "/http.jsonl") if l.strip()]}
try:
    res["topic_granularity"] = {"daemon": json.load(open(out + "/topic-daemon.json")),
                                "scrape": [json.loads(l) for l in open(out + "/topic-scrape.jsonl") if l.strip()]}
except Exception as e:
    res["topic_granularity"] = {"error": str(e)}
try:
    res["topic_granularity"]["cycle"] = json.load(open(out + "/cycle-topic.json"))
except Exception as e:
    res["topic_granularity"]["cycle_error"] = str(e)
once = {}
for line in open(out + "/once.time"):
    line = line.strip()
    for key, name in (("User time (seconds)", "user_s"), ("System time (seconds)", "sys_s"),
                      ("Elapsed (wall clock) time", "wall"), ("Maximum resident set size (kbytes)", "maxrss_kb")):
        if line.startswith(key):
            once[name] = line.split(": ", 1)[1] if name == "wall" else float(line.split(": ")[-1])
res["daemon"]["once"] = once
try:
    res["correctness"] = json.load(open(out + "/correctness.json"))
except Exception as e:
    res["correctness"] = {"error": str(e)}
json.dump(res, open(dest, "w"), indent=1)
print("wrote " + dest)
EOF
}

run_render() {
  log "render_bench: prometheus-cpp Registry vs MetricsBuilder, 230,000 series"
  local r b
  r=$("$BUILD/bench/render_bench" registry 230000 5)
  b=$("$BUILD/bench/render_bench" builder 230000 5)
  echo "$r" >&2; echo "$b" >&2
  python3 - "$r" "$b" "$RESULTS/render.json" "$(machine_json)" <<'EOF'
import json, sys
def kv(line): return {k: (float(v) if v.replace('.', '', 1).isdigit() else v) for k, v in (p.split('=') for p in line.split())}
json.dump({"registry": kv(sys.argv[1]), "builder": kv(sys.argv[2]), "machine": json.loads(sys.argv[4])},
          open(sys.argv[3], "w"), indent=1)
EOF
}

# run_compare REV SIZE...: the no-regression check. REV (a git revision, built
# from a worktree in $WORK/base-src) and this tree run the same collection
# cycles on one cluster per size, interleaved (base, head, base, head, ...) so
# the shared machine's noise falls on both alike: cycle_bench (cycle CPU, wall,
# peak RSS) and the daemon's --once (max RSS). Writes
# bench/results/compare-SIZE.json; report.py puts them in docs/benchmarks.md.
run_compare() {
  local rev; rev=$(git -C "$ROOT" rev-parse --short=12 "$1"); shift
  local base_src=$WORK/base-src base_build=$WORK/build-base rounds=${BENCH_COMPARE_ROUNDS:-3}
  # Kept between runs at the same REV, so its build is incremental.
  if [[ "$(git -C "$base_src" rev-parse --short=12 HEAD 2>/dev/null)" != "$rev" ]]; then
    rm -rf "$base_src"
    git -C "$ROOT" worktree prune
    git -C "$ROOT" worktree add -f --detach "$base_src" "$rev" >/dev/null 2>&1
  fi
  log "building $rev in $base_build"
  cmake -S "$base_src" -B "$base_build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  ninja -C "$base_build" -j2 dora-kafka-exporter cycle_bench >/dev/null
  local head; head=$(git -C "$ROOT" rev-parse --short=12 HEAD)
  git -C "$ROOT" diff --quiet HEAD -- exporter bench || head="$head+changes"
  for size in "$@"; do
    local out=$WORK/compare-$size
    rm -rf "$out"; mkdir -p "$out"
    local machine; machine=$(machine_json)
    cluster_up "$size" "$out"
    printf 'kafka:\n  bootstrap_servers: [%s]\nlog:\n  level: warn\n' "${BS//,/, }" >"$out/once.yaml"
    for round in $(seq 1 "$rounds"); do
      for side in base head; do
        local b=$BUILD; [[ $side == base ]] && b=$base_build
        log "$size: round $round, $side"
        "$b/bench/cycle_bench" --bootstrap "$BS" --cycles 4 --touch-cmd "$TOUCH" >"$out/$side-$round.log" 2>/dev/null || true
        /usr/bin/time -v "$b/exporter/dora-kafka-exporter" --config "$out/once.yaml" --once >/dev/null \
          2>"$out/$side-$round.time" || true
      done
    done
    python3 - "$out" "$rounds" "$size" "$rev" "$head" "$machine" "$RESULTS/compare-$size.json" <<'EOF'
import json, re, statistics, sys
out, rounds, size, rev, head, machine, dest = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
res = {"size": size, "base_rev": rev, "head_rev": head, "rounds": rounds, "machine": json.loads(machine)}
for side in ("base", "head"):
    cpu, wall, rss, once = [], [], [], []
    for r in range(1, rounds + 1):
        for line in open(f"{out}/{side}-{r}.log"):
            if line.startswith("RESULT "):
                d = json.loads(line[7:])
                steady = [c for c in d["cycles"][1:] if c["ok"]]
                cpu += [c["cpu_s"] for c in steady]
                wall += [c["wall_s"] for c in steady]
                rss.append(d["peak_rss_mb"])
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{out}/{side}-{r}.time").read())
        if m:
            once.append(int(m.group(1)) / 1024)
    med = lambda xs: round(statistics.median(xs), 3) if xs else None
    res[side] = {"cycle_cpu_s": med(cpu), "cycle_wall_s": med(wall), "cycle_peak_rss_mb": med(rss),
                 "once_max_rss_mb": med(once), "samples": len(cpu)}
json.dump(res, open(dest, "w"), indent=1)
print(json.dumps(res))
EOF
    cleanup
  done
}

# run_eval [REV]: bench/eval_bench at L (no broker), scenarios `stopped` and
# `healthy`, for this tree and, given REV, for REV built with this tree's
# eval_bench.cpp (the bench picks the runner's and collectors' steps that REV
# has), interleaved per scenario (base, head; BENCH_EVAL_ROUNDS rounds, 1 by
# default) so the shared machine's load falls on both alike. Writes
# bench/results/eval.json; report.py puts it in docs/benchmarks.md.
run_eval() {
  local rev="" base_build=""
  if [[ $# -ge 1 ]]; then
    rev=$(git -C "$ROOT" rev-parse --short=12 "$1")
    local base_src=$WORK/base-src  # shared with run_compare: a worktree at REV and its build
    base_build=$WORK/build-base
    if [[ "$(git -C "$base_src" rev-parse --short=12 HEAD 2>/dev/null)" != "$rev" ]]; then
      rm -rf "$base_src"
      git -C "$ROOT" worktree prune
      git -C "$ROOT" worktree add -f --detach "$base_src" "$rev" >/dev/null 2>&1
    fi
    cp "$ROOT/bench/eval_bench.cpp" "$base_src/bench/eval_bench.cpp"
    log "building $rev's library with this eval_bench.cpp in $base_build"
    cmake -S "$base_src" -B "$base_build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    ninja -C "$base_build" -j2 eval_bench >/dev/null
  fi
  local head; head=$(git -C "$ROOT" rev-parse --short=12 HEAD)
  git -C "$ROOT" diff --quiet HEAD -- exporter bench || head="$head+changes"
  local out=$WORK/eval rounds=${BENCH_EVAL_ROUNDS:-1}
  rm -rf "$out"; mkdir -p "$out"
  local machine; machine=$(machine_json)
  for scenario in stopped healthy; do
    for round in $(seq 1 "$rounds"); do
      for side in base head; do
        local b=$BUILD
        if [[ $side == base ]]; then [[ -n "$base_build" ]] || continue; b=$base_build; fi
        log "eval_bench $scenario, round $round, $side"
        "$b/bench/eval_bench" --scenario "$scenario" >"$out/$scenario-$side-$round.log" 2>"$out/$scenario-$side-$round.err"
        grep -v '^RESULT ' "$out/$scenario-$side-$round.log" | sed "s/^/$side: /" >&2
      done
    done
  done
  python3 - "$out" "$rounds" "$rev" "$head" "$machine" "$RESULTS/eval.json" <<'EOF'
import json, sys
out, rounds, rev, head, machine, dest = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
res = {"base_rev": rev or None, "head_rev": head, "rounds": rounds, "machine": json.loads(machine), "runs": {}}
for scenario in ("stopped", "healthy"):
    for side in ("base", "head"):
        runs = []
        for r in range(1, rounds + 1):
            try:
                for line in open(f"{out}/{scenario}-{side}-{r}.log"):
                    if line.startswith("RESULT "):
                        runs.append(json.loads(line[7:]))
            except FileNotFoundError:
                pass
        if runs:
            res["runs"].setdefault(scenario, {})[side] = runs
json.dump(res, open(dest, "w"), indent=1)
print("wrote " + dest)
EOF
}

# run_granularity: the consumer_groups exposition at L per
# collectors.consumer_groups.granularity, without a broker: bench/eval_bench
# (the real Render on the L layout's observations) for partition (the full
# detail, main's default before issue 19), mixed (the default) and topic, in
# the scenarios healthy and stopped, one process each (peak RSS its own).
# Writes bench/results/granularity.json.
run_granularity() {
  local out=$WORK/granularity
  rm -rf "$out"; mkdir -p "$out"
  local machine; machine=$(machine_json)
  local head; head=$(git -C "$ROOT" rev-parse --short=12 HEAD)
  git -C "$ROOT" diff --quiet HEAD -- exporter bench || head="$head+changes"
  for scenario in healthy stopped; do
    for g in partition mixed topic; do
      log "eval_bench $scenario, granularity $g"
      "$BUILD/bench/eval_bench" --scenario "$scenario" --granularity "$g" --warmup "${BENCH_GRAN_WARMUP:-11}" \
        --cycles "${BENCH_GRAN_CYCLES:-3}" >"$out/$scenario-$g.log" 2>"$out/$scenario-$g.err"
    done
  done
  python3 - "$out" "$head" "$machine" "$RESULTS/granularity.json" <<'EOF2'
import json, sys
out, head, machine, dest = sys.argv[1:]
res = {"head_rev": head, "machine": json.loads(machine), "runs": {}}
for scenario in ("healthy", "stopped"):
    for g in ("partition", "mixed", "topic"):
        for line in open(f"{out}/{scenario}-{g}.log"):
            if line.startswith("RESULT "):
                res["runs"].setdefault(scenario, {})[g] = json.loads(line[7:])
json.dump(res, open(dest, "w"), indent=1)
print("wrote " + dest)
EOF2
}

what=${1:-all}
[[ "$what" == granularity ]] && BENCH_TARGETS=eval_bench
build
case "$what" in
  S|M|L) run_size "$what" ;;
  render) run_render ;;
  all) run_render; for s in S M L; do run_size "$s"; done ;;
  report) ;;
  compare) [[ $# -ge 2 ]] || { echo "usage: bench/run.sh compare REV [S M L]" >&2; exit 2; }
    rev=$2; shift 2; [[ $# -gt 0 ]] || set -- S M L; run_compare "$rev" "$@" ;;
  eval) shift; run_eval "$@" ;;
  granularity) run_granularity ;;
  *) echo "usage: bench/run.sh [S|M|L|all|render|report|compare REV [SIZES]|eval [REV]|granularity]" >&2; exit 2 ;;
esac
python3 "$ROOT/bench/report.py" "$RESULTS" "$ROOT/docs/benchmarks.md"
log "docs/benchmarks.md updated"
