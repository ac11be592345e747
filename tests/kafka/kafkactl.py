#!/usr/bin/env python3
"""kafkactl.py - run a real Apache Kafka (KRaft) cluster on loopback for tests.

Stdlib only.  Jars are resolved with Maven from tests/kafka/pom.xml into
${DORA_KAFKA_CACHE:-$HOME/.cache/dora-kafka-exporter}/kafka-<version>/libs.

Subcommands (see `kafkactl.py <cmd> --help`):
  fetch, start, stop, status, stop-node, start-node, freeze-node, thaw-node,
  topic-create, topic-delete, topic-describe, seed-topics, produce, consume,
  groups, load, stop-load, connect-start, connect-stop, mm2-start, mm2-stop

Layout of a cluster directory DIR:
  DIR/cluster.json           written once every node is ready (and updated by
                             start-node/stop-node/freeze-node/thaw-node)
  DIR/node-<id>/server.properties, DIR/node-<id>/pid
  DIR/node-<id>/logs/server.log   stdout+stderr (and log4j output) of the node
  DIR/node-<id>/data              log.dirs (KRaft metadata + partitions)
  DIR/watchdog.pid, DIR/watchdog.log   (with --watch-pid)
  DIR/load.pids, DIR/load.log          (with `load`)
  DIR/connect/worker.properties, pid, connect.json, logs/connect.log
                                       (with `connect-start`; `fetch --connect`
                                       caches the worker's jars)
  DIR/mirror/mm2.properties, pid, mirror.json, logs/mm2.log
                                       (with `mm2-start`; `fetch --mirror`
                                       caches MirrorMaker 2's jars)

Every wait is bounded.  Output: one short human line on stdout; errors go to
stderr with a non-zero exit status.
"""

import argparse
import base64
import contextlib
import errno
import fcntl
import glob
import hashlib
import json
import os
import shutil
import shlex
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
POM = os.path.join(SCRIPT_DIR, "pom.xml")
DEFAULT_VERSION = "3.9.1"
HOST = "127.0.0.1"

SEED_TOPICS = [
    "agent-events", "task-requests", "task-responses", "compliance-reports",
    "audit-logs", "incident-events", "risk-assessments", "policy-updates",
    "monitoring-metrics", "policy-analysis", "gap-assessments",
    "risk-calculations", "user-activities", "data-access",
    "dlq-agent-events", "dlq-task-requests",
]

NODE_JVM_OPTS = [
    "-Xms256m", "-Xmx512m",
    "-XX:+UseSerialGC",            # 2 cores, 3 JVMs: no parallel GC threads
    "-XX:TieredStopAtLevel=1",     # C1 only: much less JIT CPU during startup
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
    "-Djava.net.preferIPv4Stack=true",
]
TOOL_JVM_OPTS = [
    "-Xms32m", "-Xmx256m",
    "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData",
    "-Xshare:auto", "-Djava.awt.headless=true", "-Djava.net.preferIPv4Stack=true",
]

TOPIC_CMD = "org.apache.kafka.tools.TopicCommand"
GROUP_CMD = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
PRODUCER_PERF = "org.apache.kafka.tools.ProducerPerformance"
STORAGE_TOOL = "kafka.tools.StorageTool"
KAFKA_MAIN = "kafka.Kafka"
HELPER_CLASS = "DoraKafkaHelper"


class CtlError(Exception):
    pass


def info(msg):
    print(msg, flush=True)


def warn(msg):
    print("kafkactl: " + msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# small utilities

def default_version():
    return os.environ.get("DORA_KAFKA_VERSION") or DEFAULT_VERSION


def cache_root():
    c = os.environ.get("DORA_KAFKA_CACHE")
    if c:
        return os.path.abspath(c)
    return os.path.join(os.path.expanduser("~"), ".cache", "dora-kafka-exporter")


def kafka_home(version):
    return os.path.join(cache_root(), "kafka-" + version)


def write_json_atomic(path, obj):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def write_text_atomic(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


@contextlib.contextmanager
def file_lock(path, timeout=900.0):
    """Exclusive flock on `path`, bounded wait."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise CtlError("timed out waiting for lock %s" % path)
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except (OSError, ValueError):
        return None


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        return s[s.rindex(")") + 2:].split()[0]
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid, marker=None):
    """True if pid exists, is not a zombie and (if given) its cmdline contains marker."""
    if not pid or pid <= 0:
        return False
    st = proc_state(pid)
    if st is None or st in ("Z", "X"):
        return False
    if marker is not None:
        cl = proc_cmdline(pid)
        if cl is None:
            return False
        # During/just after execve the cmdline reads as empty for a moment; a
        # recorded pid with an empty cmdline is therefore still "ours".
        if cl.strip() and marker not in cl:
            return False
    return True


def send_signal(pid, sig):
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return False


def terminate_pids(entries, grace, label="process"):
    """entries: list of (pid, marker).  SIGTERM (+SIGCONT), wait `grace` s, SIGKILL.
    Returns the number of processes that had to be killed."""
    live = [(p, m) for p, m in entries if pid_alive(p, m)]
    for p, _ in live:
        if grace <= 0:
            send_signal(p, signal.SIGKILL)
            continue
        send_signal(p, signal.SIGTERM)
        send_signal(p, signal.SIGCONT)   # a frozen process must run to see SIGTERM
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        live = [(p, m) for p, m in live if pid_alive(p, m)]
        if not live:
            return 0
        time.sleep(0.1)
    killed = 0
    for p, m in live:
        if pid_alive(p, m):
            if grace > 0:
                warn("%s %d did not exit after %.0fs, sending SIGKILL" % (label, p, grace))
            send_signal(p, signal.SIGKILL)
            killed += 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(pid_alive(p, m) for p, m in live):
        time.sleep(0.05)
    return killed


def free_ports(n):
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def new_cluster_id():
    for _ in range(100):
        u = uuid.uuid4().bytes
        s = base64.urlsafe_b64encode(u).decode().rstrip("=")
        if not s.startswith("-") and u != b"\0" * 16:
            return s
    raise CtlError("could not generate a cluster id")


def tail(path, n=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError:
        return "(no log)"


def run_bounded(cmd, timeout, capture=True, **kw):
    """Run cmd, kill it (and report) if it exceeds timeout. Returns CompletedProcess."""
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE if capture else None,
                              stderr=subprocess.PIPE if capture else None,
                              timeout=timeout, text=True, **kw)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise CtlError("command timed out after %ss: %s\n%s%s" % (timeout, " ".join(cmd[:8]), out[-2000:], err[-2000:]))


# --------------------------------------------------------------------------
# fetch

BINDING_PREFIXES = ("slf4j-reload4j-", "slf4j-log4j12-", "log4j-slf4j-impl-",
                    "log4j-slf4j2-impl-", "logback-classic-", "slf4j-simple-")


def libs_complete(home, version):
    libs = os.path.join(home, "libs")
    if not os.path.isfile(os.path.join(home, ".complete")):
        return False
    return (os.path.isfile(os.path.join(libs, "kafka_2.13-%s.jar" % version)) and
            os.path.isfile(os.path.join(libs, "kafka-tools-%s.jar" % version)))


def _jar_version(libs, prefix):
    for j in sorted(os.listdir(libs)):
        if j.startswith(prefix) and j.endswith(".jar"):
            rest = j[len(prefix):-4]
            if rest and rest[0].isdigit():
                return rest
    return None


def ensure_fetched(version):
    """Returns the kafka home dir (with libs/).  Idempotent and atomic."""
    home = kafka_home(version)
    if libs_complete(home, version):
        return home, False
    if not os.path.isfile(POM):
        raise CtlError("pom not found: %s" % POM)
    if shutil.which("mvn") is None:
        raise CtlError("mvn not found on PATH")
    root = cache_root()
    os.makedirs(root, exist_ok=True)
    with file_lock(os.path.join(root, ".kafka-%s.lock" % version)):
        if libs_complete(home, version):
            return home, False
        tmp = os.path.join(root, ".kafka-%s.tmp-%d" % (version, os.getpid()))
        shutil.rmtree(tmp, ignore_errors=True)
        libs = os.path.join(tmp, "libs")
        os.makedirs(libs)
        try:
            cmd = ["mvn", "-q", "-B", "-f", POM, "-Dkafka.version=" + version,
                   "dependency:copy-dependencies", "-DoutputDirectory=" + libs,
                   "-DincludeScope=runtime"]
            r = run_bounded(cmd, timeout=1800)
            if r.returncode != 0:
                raise CtlError("mvn dependency:copy-dependencies failed for kafka %s:\n%s%s"
                               % (version, r.stdout[-4000:], r.stderr[-4000:]))
            for need in ("kafka_2.13-%s.jar" % version, "kafka-tools-%s.jar" % version):
                if not os.path.isfile(os.path.join(libs, need)):
                    raise CtlError("mvn did not produce %s" % need)
            # Kafka 4.x declares log4j2 (api+core) but not the slf4j binding that the
            # binary distribution ships; without it the broker logs nothing at all.
            has_binding = any(j.startswith(BINDING_PREFIXES) for j in os.listdir(libs))
            core = _jar_version(libs, "log4j-core-")
            slf4j = _jar_version(libs, "slf4j-api-") or "1"
            if not has_binding and core:
                art = "log4j-slf4j2-impl" if slf4j.startswith("2") else "log4j-slf4j-impl"
                cmd = ["mvn", "-q", "-B", "-f", POM, "dependency:copy",
                       "-Dartifact=org.apache.logging.log4j:%s:%s" % (art, core),
                       "-DoutputDirectory=" + libs]
                r = run_bounded(cmd, timeout=600)
                if r.returncode != 0:
                    warn("could not fetch %s %s (broker logs will be empty):\n%s" % (art, core, r.stdout[-2000:]))
            with open(os.path.join(tmp, ".complete"), "w") as f:
                f.write("%s %d jars\n" % (version, len(os.listdir(libs))))
            if os.path.exists(home):
                shutil.rmtree(home)
            os.rename(tmp, home)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return home, True


# --------------------------------------------------------------------------
# Kafka Connect: a worker of the same release (connect-runtime and its
# dependencies) in ${cache}/connect-<version>/libs, and the release's
# FileStream connectors (connect-file) alone in .../plugins/connect-file, the
# worker's plugin.path.  Kept apart from the broker's libs/, which stay exactly
# what the broker tests ran with.

CONNECT_POM = os.path.join(SCRIPT_DIR, "connect-pom.xml")
CONNECT_MAIN = "org.apache.kafka.connect.cli.ConnectDistributed"


def connect_home(version):
    return os.path.join(cache_root(), "connect-" + version)


def connect_complete(home, version):
    return (os.path.isfile(os.path.join(home, ".complete")) and
            os.path.isfile(os.path.join(home, "libs", "connect-runtime-%s.jar" % version)) and
            os.path.isfile(os.path.join(home, "plugins", "connect-file", "connect-file-%s.jar" % version)))


def ensure_connect_fetched(version):
    """Returns the connect home dir (libs/, plugins/).  Idempotent and atomic."""
    home = connect_home(version)
    if connect_complete(home, version):
        return home, False
    if not os.path.isfile(CONNECT_POM):
        raise CtlError("pom not found: %s" % CONNECT_POM)
    if shutil.which("mvn") is None:
        raise CtlError("mvn not found on PATH")
    root = cache_root()
    os.makedirs(root, exist_ok=True)
    with file_lock(os.path.join(root, ".connect-%s.lock" % version)):
        if connect_complete(home, version):
            return home, False
        tmp = os.path.join(root, ".connect-%s.tmp-%d" % (version, os.getpid()))
        shutil.rmtree(tmp, ignore_errors=True)
        libs = os.path.join(tmp, "libs")
        plugins = os.path.join(tmp, "plugins", "connect-file")
        os.makedirs(libs)
        os.makedirs(plugins)
        try:
            cmd = ["mvn", "-q", "-B", "-f", CONNECT_POM, "-Dkafka.version=" + version,
                   "dependency:copy-dependencies", "-DoutputDirectory=" + libs,
                   "-DincludeScope=runtime"]
            r = run_bounded(cmd, timeout=1800)
            if r.returncode != 0:
                raise CtlError("mvn dependency:copy-dependencies failed for connect %s:\n%s%s"
                               % (version, r.stdout[-4000:], r.stderr[-4000:]))
            cmd = ["mvn", "-q", "-B", "-f", CONNECT_POM, "dependency:copy",
                   "-Dartifact=org.apache.kafka:connect-file:%s" % version,
                   "-DoutputDirectory=" + plugins]
            r = run_bounded(cmd, timeout=600)
            if r.returncode != 0:
                raise CtlError("mvn dependency:copy of connect-file %s failed:\n%s%s"
                               % (version, r.stdout[-4000:], r.stderr[-4000:]))
            for need in (os.path.join(libs, "connect-runtime-%s.jar" % version),
                         os.path.join(plugins, "connect-file-%s.jar" % version)):
                if not os.path.isfile(need):
                    raise CtlError("mvn did not produce %s" % os.path.basename(need))
            # connect-runtime declares a logging backend (reload4j on 3.x, log4j2
            # on 4.x) but not the slf4j binding the release's distribution ships:
            # without it the worker logs nothing at all.
            has_binding = any(j.startswith(BINDING_PREFIXES) for j in os.listdir(libs))
            core = _jar_version(libs, "log4j-core-")
            reload4j = _jar_version(libs, "reload4j-")
            slf4j = _jar_version(libs, "slf4j-api-") or "1"
            artifact = None
            if not has_binding and core:
                art = "log4j-slf4j2-impl" if slf4j.startswith("2") else "log4j-slf4j-impl"
                artifact = "org.apache.logging.log4j:%s:%s" % (art, core)
            elif not has_binding and reload4j and slf4j != "1":
                art, core = "slf4j-reload4j", slf4j
                artifact = "org.slf4j:slf4j-reload4j:%s" % slf4j
            if artifact:
                cmd = ["mvn", "-q", "-B", "-f", CONNECT_POM, "dependency:copy",
                       "-Dartifact=" + artifact,
                       "-DoutputDirectory=" + libs]
                r = run_bounded(cmd, timeout=600)
                if r.returncode != 0:
                    warn("could not fetch %s %s (worker logs will be empty):\n%s" % (art, core, r.stdout[-2000:]))
            with open(os.path.join(tmp, ".complete"), "w") as f:
                f.write("%s %d jars\n" % (version, len(os.listdir(libs))))
            if os.path.exists(home):
                shutil.rmtree(home)
            os.rename(tmp, home)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return home, True


def classpath(home, extra=None):
    cp = os.path.join(home, "libs", "*")
    if extra:
        cp = extra + os.pathsep + cp
    return cp


def log_binding(home):
    libs = os.path.join(home, "libs")
    names = os.listdir(libs)
    if any(n.startswith(("log4j-slf4j-impl-", "log4j-slf4j2-impl-")) for n in names):
        return "log4j2"
    if any(n.startswith(("slf4j-reload4j-", "slf4j-log4j12-")) for n in names):
        return "log4j1"
    return None


LOG4J1_NODE = """log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.org.apache.kafka.clients.NetworkClient=WARN
"""
LOG4J1_TOOL = """log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.clients.NetworkClient=ERROR
"""
LOG4J2_NODE = """status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = OUT
logger.req.name = kafka.request.logger
logger.req.level = warn
logger.nc.name = org.apache.kafka.clients.NetworkClient
logger.nc.level = warn
"""
LOG4J2_TOOL = """status = warn
appender.err.type = Console
appender.err.name = ERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = ERR
logger.nc.name = org.apache.kafka.clients.NetworkClient
logger.nc.level = error
"""


def log_opts(home, kind):
    """JVM -D options pointing at a log config file cached next to the jars."""
    b = log_binding(home)
    if b is None:
        return []
    if b == "log4j1":
        name, text, prop = "log4j-%s.properties" % kind, (LOG4J1_NODE if kind == "node" else LOG4J1_TOOL), "-Dlog4j.configuration=file:"
    else:
        name, text, prop = "log4j2-%s.properties" % kind, (LOG4J2_NODE if kind == "node" else LOG4J2_TOOL), "-Dlog4j2.configurationFile="
    path = os.path.join(home, "config", name)
    try:
        with open(path) as f:
            current = f.read()
    except OSError:
        current = None
    if current != text:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_text_atomic(path, text)
    return [prop + path]


def java_bin():
    jh = os.environ.get("JAVA_HOME")
    if jh and os.path.isfile(os.path.join(jh, "bin", "java")):
        return os.path.join(jh, "bin", "java")
    j = shutil.which("java")
    if not j:
        raise CtlError("java not found (set JAVA_HOME or PATH)")
    return j


def tool_cmd(home, main_class, args, extra_cp=None):
    return ([java_bin()] + TOOL_JVM_OPTS + log_opts(home, "tool") +
            ["-cp", classpath(home, extra_cp), main_class] + list(args))


# --------------------------------------------------------------------------
# minimal Kafka wire protocol client (readiness / metadata probes, no JVM)

def _kstr(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def _recvn(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf.extend(chunk)
    return bytes(buf)


class _Rd:
    def __init__(self, b):
        self.b, self.o = b, 0

    def _u(self, fmt, n):
        v = struct.unpack_from(fmt, self.b, self.o)[0]
        self.o += n
        return v

    def i8(self):
        return self._u(">b", 1)

    def i16(self):
        return self._u(">h", 2)

    def i32(self):
        return self._u(">i", 4)

    def s(self):
        n = self.i16()
        if n < 0:
            return None
        v = self.b[self.o:self.o + n].decode("utf-8", "replace")
        self.o += n
        return v

    def arr(self, f):
        n = self.i32()
        return [] if n < 0 else [f() for _ in range(n)]


def _kafka_call(sock, api_key, version, body, corr=1):
    hdr = struct.pack(">hhi", api_key, version, corr) + _kstr("kafkactl")
    msg = hdr + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    size = struct.unpack(">i", _recvn(sock, 4))[0]
    data = _recvn(sock, size)
    if struct.unpack(">i", data[:4])[0] != corr:
        raise ConnectionError("bad correlation id")
    return _Rd(data[4:])


def kafka_metadata(port, topics=None, timeout=3.0):
    """ApiVersions v0 + Metadata v4 against 127.0.0.1:port.
    Returns {"brokers": {id: port}, "controller": id, "topics": {name: {...}}}."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        r = _kafka_call(sock, 18, 0, b"", corr=1)   # ApiVersions v0
        ec = r.i16()
        if ec != 0:
            raise ConnectionError("ApiVersions error %d" % ec)
        apis = {k: (lo, hi) for k, lo, hi in r.arr(lambda: (r.i16(), r.i16(), r.i16()))}
        lo, hi = apis.get(3, (99, -1))
        if not lo <= 4 <= hi:
            raise CtlError("broker does not support Metadata v4 (range %d..%d)" % (lo, hi))
        if topics is None:
            body = struct.pack(">i", -1)
        else:
            body = struct.pack(">i", len(topics)) + b"".join(_kstr(t) for t in topics)
        body += b"\x00"   # allow_auto_topic_creation=false
        r = _kafka_call(sock, 3, 4, body, corr=2)
    r.i32()  # throttle
    brokers = {}
    for bid, _host, bport, _rack in r.arr(lambda: (r.i32(), r.s(), r.i32(), r.s())):
        brokers[bid] = bport
    r.s()  # cluster id
    controller = r.i32()

    def part():
        ec, idx, leader = r.i16(), r.i32(), r.i32()
        reps, isr = r.arr(r.i32), r.arr(r.i32)
        return {"error": ec, "partition": idx, "leader": leader, "replicas": reps, "isr": isr}

    def topic():
        ec, name, internal = r.i16(), r.s(), r.i8()
        return name, {"error": ec, "internal": bool(internal), "partitions": r.arr(part)}

    return {"brokers": brokers, "controller": controller, "topics": dict(r.arr(topic))}


def tcp_open(port, timeout=1.0):
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# cluster directory / state

def abs_dir(d):
    if not d:
        raise CtlError("--dir is required (or set DORA_KAFKA_DIR)")
    return os.path.abspath(d)


def node_dir(d, nid):
    return os.path.join(d, "node-%d" % nid)


def node_marker(d, nid):
    # unique string in the node JVM's command line (the config path)
    return os.path.join(node_dir(d, nid), "server.properties")


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def load_cluster(d, required=True):
    p = os.path.join(d, "cluster.json")
    try:
        with open(p) as f:
            return json.load(f)
    except OSError:
        if required:
            raise CtlError("no cluster in %s (cluster.json missing; was `start` successful?)" % d)
        return None


def save_cluster(d, c):
    write_json_atomic(os.path.join(d, "cluster.json"), c)


def update_nodes(d, ids, **fields):
    """Locked read-modify-write of node fields in cluster.json (no-op without it)."""
    with file_lock(os.path.join(d, ".cluster.lock"), timeout=30):
        c = load_cluster(d, required=False)
        if not c:
            return
        for n in c["nodes"]:
            if ids is None or n["id"] in ids:
                n.update(fields)
        save_cluster(d, c)


def find_node(c, nid):
    for n in c["nodes"]:
        if n["id"] == nid:
            return n
    raise CtlError("no node with id %d (nodes: %s)" % (nid, [n["id"] for n in c["nodes"]]))


def node_ids_on_disk(d):
    ids = []
    for p in glob.glob(os.path.join(d, "node-*")):
        try:
            ids.append(int(os.path.basename(p)[5:]))
        except ValueError:
            pass
    return sorted(ids)


def node_running(d, nid):
    pid = read_pid(os.path.join(node_dir(d, nid), "pid"))
    return pid if pid_alive(pid, node_marker(d, nid)) else 0


def cluster_home(c):
    home = kafka_home(c["version"])
    if not libs_complete(home, c["version"]):
        home, _ = ensure_fetched(c["version"])
    return home


def write_node_config(d, nid, voters, port, cport, nodes, overrides):
    nd = node_dir(d, nid)
    rf3 = min(3, nodes)
    rf2 = min(2, nodes)
    props = [
        ("process.roles", "broker,controller"),
        ("node.id", str(nid)),
        ("controller.quorum.voters", voters),
        ("listeners", "PLAINTEXT://%s:%d,CONTROLLER://%s:%d" % (HOST, port, HOST, cport)),
        ("advertised.listeners", "PLAINTEXT://%s:%d" % (HOST, port)),
        ("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"),
        ("controller.listener.names", "CONTROLLER"),
        ("inter.broker.listener.name", "PLAINTEXT"),
        ("log.dirs", os.path.join(nd, "data")),
        ("num.partitions", "1"),
        ("default.replication.factor", str(rf3)),
        ("min.insync.replicas", "1"),
        ("offsets.topic.replication.factor", str(rf3)),
        ("offsets.topic.num.partitions", "10"),
        ("transaction.state.log.replication.factor", str(rf3)),
        ("transaction.state.log.min.isr", str(rf2)),
        ("transaction.state.log.num.partitions", "10"),
        ("group.initial.rebalance.delay.ms", "0"),
        ("auto.create.topics.enable", "false"),
        ("delete.topic.enable", "true"),
        ("num.network.threads", "2"),
        ("num.io.threads", "4"),
        ("background.threads", "4"),
        ("num.recovery.threads.per.data.dir", "1"),
        ("log.cleaner.dedupe.buffer.size", str(8 * 1024 * 1024)),
        ("log.segment.bytes", str(64 * 1024 * 1024)),
    ]
    # Kafka 4.x share groups: its internal topic defaults to RF 3 / min ISR 2.
    props += [("share.coordinator.state.topic.replication.factor", str(rf3)),
              ("share.coordinator.state.topic.min.isr", str(rf2))]
    keys = {k for k, _ in props}
    for kv in overrides or []:
        if "=" not in kv:
            raise CtlError("bad --config %r (want key=value)" % kv)
        k, v = kv.split("=", 1)
        if k in keys:
            props = [(pk, v if pk == k else pv) for pk, pv in props]
        else:
            props.append((k, v))
            keys.add(k)
    os.makedirs(os.path.join(nd, "logs"), exist_ok=True)
    os.makedirs(os.path.join(nd, "data"), exist_ok=True)
    write_text_atomic(node_marker(d, nid), "".join("%s=%s\n" % kv for kv in props))


def launch_node(d, home, nid):
    """Start the node JVM in its own session; returns (pid, log_path, log_offset)."""
    nd = node_dir(d, nid)
    logs = os.path.join(nd, "logs")
    os.makedirs(logs, exist_ok=True)
    log_path = os.path.join(logs, "server.log")
    cmd = ([java_bin()] + NODE_JVM_OPTS + shlex.split(os.environ.get("DORA_KAFKA_NODE_JVM_OPTS", "")) +
           ["-Dkafka.logs.dir=" + logs] + log_opts(home, "node") +
           ["-cp", classpath(home), KAFKA_MAIN, node_marker(d, nid)])
    # No interruption between fork and recording the pid: the cleanup path must
    # always find every JVM that was started (signals are deferred, not blocked:
    # a blocked mask would be inherited by the JVM).
    with deferred_interrupts():
        return _launch_node(nd, nid, cmd, log_path)


def _launch_node(nd, nid, cmd, log_path):
    with open(log_path, "ab") as lf:
        offset = lf.tell()
        lf.write(("\n==== kafkactl: starting node %d at %s ====\n" % (nid, time.strftime("%Y-%m-%d %H:%M:%S"))).encode())
        lf.flush()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                             cwd=nd, start_new_session=True, close_fds=True)
    write_text_atomic(os.path.join(nd, "pid"), "%d\n" % p.pid)
    return p, log_path, offset


def log_has_started(log_path, offset):
    try:
        with open(log_path, "rb") as f:
            f.seek(offset)
            return b"Kafka Server started" in f.read()
    except OSError:
        return False


def failure_summary(log_path, offset):
    """First error lines plus the tail of a node log (from `offset`)."""
    try:
        with open(log_path, "rb") as f:
            f.seek(offset)
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return "(no log)"
    errs = [l for l in lines if " ERROR " in l or l.startswith(("Caused by", "Error", "Exception"))
            or "Exception:" in l[:200]][:12]
    out = ""
    if errs:
        out += "errors:\n" + "\n".join(l[:400] for l in errs) + "\n"
    return out + "last log lines:\n" + "\n".join(l[:400] for l in lines[-15:])


def wait_nodes_ready(d, nodes, expect_ids, deadline, log_line):
    """nodes: list of dicts with id, port, pid, log_file, log_offset.
    Ready = process alive, (log line if logging works), TCP connect, and the
    broker's own metadata lists every id in expect_ids (i.e. all unfenced)."""
    pending = {n["id"]: n for n in nodes}
    last_err = {}
    while pending:
        for nid, n in list(pending.items()):
            if n["proc"].poll() is not None:
                raise CtlError("node %d (pid %d) exited during startup (exit %s); %s"
                               % (nid, n["pid"], n["proc"].returncode,
                                  failure_summary(n["log_file"], n["log_offset"])))
            if log_line and not log_has_started(n["log_file"], n["log_offset"]):
                last_err[nid] = "no 'Kafka Server started' in log yet"
                continue
            if not tcp_open(n["port"]):
                last_err[nid] = "port %d not accepting connections" % n["port"]
                continue
            try:
                md = kafka_metadata(n["port"], topics=[], timeout=2.0)
            except CtlError:
                raise
            except Exception as e:  # noqa: BLE001 - any probe failure means "not yet"
                last_err[nid] = "metadata probe: %s" % e
                continue
            missing = sorted(set(expect_ids) - set(md["brokers"]))
            if missing:
                last_err[nid] = "brokers %s not (yet) registered/unfenced" % missing
                continue
            del pending[nid]
        if not pending:
            break
        if time.monotonic() > deadline:
            msgs = []
            for nid, n in pending.items():
                msgs.append("node %d: %s; last log lines:\n%s" % (nid, last_err.get(nid, "?"), tail(n["log_file"], 25)))
            raise CtlError("timed out waiting for nodes to become ready:\n" + "\n".join(msgs))
        time.sleep(0.25)


def running_ports(c, d):
    """PLAINTEXT ports of nodes whose process is alive and not frozen."""
    ports = []
    for n in c["nodes"]:
        if node_running(d, n["id"]) and n.get("state") != "frozen":
            ports.append(n["port"])
    return ports


def live_bootstrap(c, d):
    ports = running_ports(c, d)
    if not ports:
        return c["bootstrap"]
    return ",".join("%s:%d" % (HOST, p) for p in ports)


def wait_topics(c, d, names, present=True, timeout=60.0):
    """Wait until every running broker sees `names` with a leader for every partition
    (present=True), or sees none of them (present=False)."""
    deadline = time.monotonic() + timeout
    last = "?"
    while True:
        ok = True
        for port in running_ports(c, d):
            try:
                md = kafka_metadata(port, topics=list(names), timeout=3.0)
            except Exception as e:  # noqa: BLE001
                ok, last = False, "port %d: %s" % (port, e)
                break
            for t in names:
                tm = md["topics"].get(t)
                if present:
                    if tm is None or tm["error"] != 0 or not tm["partitions"]:
                        ok, last = False, "port %d: topic %s not visible (error %s)" % (port, t, tm and tm["error"])
                        break
                    bad = [p["partition"] for p in tm["partitions"] if p["leader"] < 0]
                    if bad:
                        ok, last = False, "port %d: topic %s partitions without leader: %s" % (port, t, bad[:8])
                        break
                else:
                    if tm is not None and tm["error"] == 0:
                        ok, last = False, "port %d: topic %s still exists" % (port, t)
                        break
            if not ok:
                break
        if ok:
            return
        if time.monotonic() > deadline:
            raise CtlError("timed out after %.0fs waiting for topics (%s)" % (timeout, last))
        time.sleep(0.2)


# --------------------------------------------------------------------------
# watchdog

def start_watchdog(d, watch_pid):
    log = open(os.path.join(d, "watchdog.log"), "ab")
    try:
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "_watchdog",
                              "--dir", d, "--pid", str(watch_pid)],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             cwd="/", start_new_session=True, close_fds=True)
    finally:
        log.close()
    write_text_atomic(os.path.join(d, "watchdog.pid"), "%d\n" % p.pid)
    return p.pid


def watchdog_marker(d):
    return "_watchdog --dir " + d


def cmd_watchdog(a):
    d = abs_dir(a.dir)
    pid = a.pid
    info("watchdog %d watching pid %d for %s" % (os.getpid(), pid, d))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while True:
        if not os.path.isdir(d):
            info("cluster dir gone, watchdog exiting")
            return 0
        if not pid_alive(pid):
            info("watched pid %d is gone at %s: stopping cluster" % (pid, time.strftime("%H:%M:%S")))
            stop_all(d, grace=10.0, from_watchdog=True)
            info("cluster stopped")
            return 0
        time.sleep(0.5)


# --------------------------------------------------------------------------
# commands

def cmd_fetch(a):
    v = a.version or default_version()
    t0 = time.monotonic()
    home, fetched = ensure_fetched(v)
    n = len(os.listdir(os.path.join(home, "libs")))
    info("kafka %s %s: %s (%d jars, %.1fs)" % (v, "fetched" if fetched else "cached", os.path.join(home, "libs"), n, time.monotonic() - t0))
    if a.connect:
        t0 = time.monotonic()
        chome, fetched = ensure_connect_fetched(v)
        n = len(os.listdir(os.path.join(chome, "libs")))
        info("connect %s %s: %s (%d jars + connect-file, %.1fs)"
             % (v, "fetched" if fetched else "cached", chome, n, time.monotonic() - t0))
    if a.mirror:
        t0 = time.monotonic()
        mhome, fetched = ensure_mirror_fetched(v)
        n = len(os.listdir(os.path.join(mhome, "libs")))
        info("mirrormaker %s %s: %s (%d jars, %.1fs)"
             % (v, "fetched" if fetched else "cached", mhome, n, time.monotonic() - t0))
    return 0


def format_storage(d, home, ids, cluster_id, deadline):
    procs = []
    for nid in ids:
        cmd = tool_cmd(home, STORAGE_TOOL, ["format", "-t", cluster_id, "-c", node_marker(d, nid)])
        out = open(os.path.join(node_dir(d, nid), "logs", "format.log"), "wb")
        procs.append((nid, subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, close_fds=True), out))
    try:
        for nid, p, out in procs:
            try:
                rc = p.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise CtlError("formatting storage of node %d timed out" % nid)
            out.close()
            if rc != 0:
                raise CtlError("kafka-storage format failed for node %d:\n%s"
                               % (nid, tail(os.path.join(node_dir(d, nid), "logs", "format.log"))))
    finally:
        for _, p, out in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            out.close()


def cmd_start(a):
    d = abs_dir(a.dir)
    v = a.version or default_version()
    n = a.nodes
    if not 1 <= n <= 5:
        raise CtlError("--nodes must be between 1 and 5")
    t0 = time.monotonic()
    home, _ = ensure_fetched(v)
    t_fetch = time.monotonic() - t0
    os.makedirs(d, exist_ok=True)
    for nid in node_ids_on_disk(d):
        if node_running(d, nid):
            raise CtlError("a cluster is already running in %s (node %d); run `stop` first" % (d, nid))
    # a previous, stopped cluster of ours in DIR is wiped; anything else is refused
    for nid in node_ids_on_disk(d):
        if not os.path.isfile(node_marker(d, nid)):
            raise CtlError("%s contains node-%d that was not made by kafkactl; use a fresh directory" % (d, nid))
    for nid in node_ids_on_disk(d):
        shutil.rmtree(node_dir(d, nid))
    for f in ("cluster.json", "watchdog.pid", "load.pids"):
        with contextlib.suppress(OSError):
            os.remove(os.path.join(d, f))
    deadline = time.monotonic() + a.timeout
    ids = list(range(1, n + 1))
    try:
        if a.watch_pid:
            start_watchdog(d, a.watch_pid)
        for attempt in range(1, 4):
            # Free ports are picked by binding port 0 and closing: another process
            # may grab one before the JVM binds it.  Retry that case with new ports.
            ports = free_ports(2 * n)
            port = {nid: ports[2 * i] for i, nid in enumerate(ids)}
            cport = {nid: ports[2 * i + 1] for i, nid in enumerate(ids)}
            voters = ",".join("%d@%s:%d" % (nid, HOST, cport[nid]) for nid in ids)
            for nid in ids:
                shutil.rmtree(node_dir(d, nid), ignore_errors=True)
                write_node_config(d, nid, voters, port[nid], cport[nid], n, a.config)
            cluster_id = new_cluster_id()
            format_storage(d, home, ids, cluster_id, deadline)
            t_format = time.monotonic() - t0 - t_fetch
            nodes = []
            for nid in ids:
                proc, log_file, off = launch_node(d, home, nid)
                nodes.append({"id": nid, "port": port[nid], "controller_port": cport[nid], "pid": proc.pid,
                              "proc": proc, "log_file": log_file, "log_offset": off})
            try:
                wait_nodes_ready(d, nodes, ids, deadline, log_line=log_binding(home) is not None)
                break
            except CtlError as e:
                if attempt == 3 or "Address already in use" not in str(e) or time.monotonic() > deadline - 10:
                    raise
                warn("port conflict on attempt %d, retrying with other ports" % attempt)
                stop_nodes(d, grace=0)
    except BaseException:
        with deferred_interrupts():
            stop_all(d, grace=5.0)
        raise
    c = {
        "version": v,
        "cluster_id": cluster_id,
        "bootstrap": ",".join("%s:%d" % (HOST, port[nid]) for nid in ids),
        "dir": d,
        "nodes": [{
            "id": nd["id"], "port": nd["port"], "controller_port": nd["controller_port"],
            "pid": nd["pid"], "state": "running",
            "log_dir": os.path.dirname(nd["log_file"]), "log_file": nd["log_file"],
            "data_dir": os.path.join(node_dir(d, nd["id"]), "data"),
        } for nd in nodes],
        "watch_pid": a.watch_pid or None,
    }
    save_cluster(d, c)
    info("kafka %s cluster with %d node(s) ready in %.1fs (format %.1fs): bootstrap %s"
         % (v, n, time.monotonic() - t0, t_format, c["bootstrap"]))
    return 0


def stop_load(d, grace=5.0):
    path = os.path.join(d, "load.pids")
    pids = []
    try:
        with open(path) as f:
            pids = [int(x) for x in f.read().split() if x.strip().isdigit()]
    except OSError:
        pass
    marker = "-Ddora.kafka.load=" + d
    n = sum(1 for p in pids if pid_alive(p, marker))
    terminate_pids([(p, marker) for p in pids], grace, "load process")
    with contextlib.suppress(OSError):
        os.remove(path)
    return n


def stop_nodes(d, grace):
    entries = []
    for nid in node_ids_on_disk(d):
        pid = read_pid(os.path.join(node_dir(d, nid), "pid"))
        if pid_alive(pid, node_marker(d, nid)):
            entries.append((pid, node_marker(d, nid)))
    return len(entries), terminate_pids(entries, grace, "kafka node")


def stop_all(d, grace=20.0, from_watchdog=False):
    nload = stop_load(d, grace=min(grace, 5.0))
    stop_connect(d, grace=min(grace, 10.0))
    stop_mirror(d, grace=min(grace, 10.0))
    nnodes, killed = stop_nodes(d, grace)
    if not from_watchdog:
        wpid = read_pid(os.path.join(d, "watchdog.pid"))
        if wpid and wpid != os.getpid():
            terminate_pids([(wpid, watchdog_marker(d))], 3.0, "watchdog")
    with contextlib.suppress(OSError, CtlError, ValueError):
        update_nodes(d, None, state="stopped", pid=None)
    return nnodes, killed, nload


def cmd_stop(a):
    d = abs_dir(a.dir)
    if not os.path.isdir(d):
        info("nothing to stop: %s does not exist" % d)
        return 0
    t0 = time.monotonic()
    n, killed, nload = stop_all(d, grace=0.0 if a.kill else a.grace)
    extra = (", %d killed after grace period" % killed) if killed and not a.kill else ""
    info("stopped %d node(s)%s%s in %.1fs" % (n, extra, (", %d load process(es)" % nload) if nload else "", time.monotonic() - t0))
    return 0


def cmd_status(a):
    d = abs_dir(a.dir)
    c = load_cluster(d)
    parts = []
    for n in c["nodes"]:
        pid = node_running(d, n["id"])
        st = n.get("state", "?") if pid else "stopped"
        if pid and proc_state(pid) == "T":
            st = "frozen"
        parts.append("node %d %s (port %d, pid %s)" % (n["id"], st, n["port"], pid or "-"))
    info("kafka %s bootstrap %s: %s" % (c["version"], c["bootstrap"], "; ".join(parts)))
    return 0


def cmd_stop_node(a):
    d = abs_dir(a.dir)
    c = load_cluster(d)
    find_node(c, a.id)
    pid = node_running(d, a.id)
    t0 = time.monotonic()
    if pid:
        if a.kill:
            send_signal(pid, signal.SIGKILL)
            terminate_pids([(pid, node_marker(d, a.id))], 10.0, "kafka node")
        else:
            terminate_pids([(pid, node_marker(d, a.id))], a.grace, "kafka node")
    update_nodes(d, [a.id], state="stopped", pid=None)
    if pid:
        info("node %d (pid %d) %s in %.1fs" % (a.id, pid, "killed" if a.kill else "stopped", time.monotonic() - t0))
    else:
        info("node %d was not running" % a.id)
    return 0


def cmd_start_node(a):
    d = abs_dir(a.dir)
    c = load_cluster(d)
    n = find_node(c, a.id)
    pid = node_running(d, a.id)
    if pid:
        if proc_state(pid) == "T":
            raise CtlError("node %d (pid %d) is frozen; use thaw-node" % (a.id, pid))
        info("node %d already running (pid %d)" % (a.id, pid))
        return 0
    home = cluster_home(c)
    t0 = time.monotonic()
    proc, log_file, off = launch_node(d, home, a.id)
    pid = proc.pid
    update_nodes(d, [a.id], state="starting", pid=pid)
    nd = {"id": a.id, "port": n["port"], "pid": pid, "proc": proc, "log_file": log_file, "log_offset": off}
    try:
        # the restarted broker must be registered and unfenced (it lists itself)
        wait_nodes_ready(d, [nd], [a.id], time.monotonic() + a.timeout,
                         log_line=log_binding(home) is not None)
    except BaseException:
        with deferred_interrupts():
            terminate_pids([(pid, node_marker(d, a.id))], 0, "kafka node")
            update_nodes(d, [a.id], state="stopped", pid=None)
        raise
    update_nodes(d, [a.id], state="running", pid=pid)
    info("node %d started (pid %d, port %d) in %.1fs" % (a.id, pid, n["port"], time.monotonic() - t0))
    return 0


def cmd_freeze_node(a, freeze=True):
    d = abs_dir(a.dir)
    c = load_cluster(d)
    find_node(c, a.id)
    pid = node_running(d, a.id)
    if not pid:
        raise CtlError("node %d is not running" % a.id)
    send_signal(pid, signal.SIGSTOP if freeze else signal.SIGCONT)
    want = "T" if freeze else None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        st = proc_state(pid)
        if (freeze and st == want) or (not freeze and st != "T"):
            break
        time.sleep(0.02)
    update_nodes(d, [a.id], state="frozen" if freeze else "running")
    info("node %d (pid %d) %s" % (a.id, pid, "frozen (SIGSTOP)" if freeze else "thawed (SIGCONT)"))
    return 0


def run_tool(c, d, main_class, args, timeout, extra_cp=None, passthrough=False):
    home = cluster_home(c)
    cmd = tool_cmd(home, main_class, args, extra_cp)
    if passthrough:
        try:
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CtlError("%s timed out after %ss" % (main_class, timeout))
        return r
    return run_bounded(cmd, timeout)


def _bs(c, d):
    return live_bootstrap(c, d)


def cmd_topic_create(a):
    d = abs_dir(a.dir)
    c = load_cluster(d)
    args = ["--bootstrap-server", _bs(c, d), "--create", "--topic", a.name,
            "--partitions", str(a.partitions), "--replication-factor", str(a.rf)]
    for kv in a.config or []:
        args += ["--config", kv]
    if a.if_not_exists:
        args.append("--if-not-exists")
    t0 = time.monotonic()
    r = run_tool(c, d, TOPIC_CMD, args, a.timeout)
    if r.returncode != 0:
        raise CtlError("topic-create %s failed (rc %d):\n%s%s" % (a.name, r.returncode, r.stdout, r.stderr))
    wait_topics(c, d, [a.name], True, a.timeout)
    info("created topic %s (%d partitions, rf %d) in %.1fs" % (a.name, a.partitions, a.rf, time.monotonic() - t0))
    return 0


def cmd_topic_delete(a):
    d = abs_dir(a.dir)
    c = load_cluster(d)
    r = run_tool(c, d, TOPIC_CMD, ["--bootstrap-server", _bs(c, d), "--delete", "--topic", a.name], a.timeout)
    if r.returncode != 0:
        raise CtlError("topic-delete %s failed (rc %d):\n%s%s" % (a.name, r.returncode, r.stdout, r.stderr))
    wait_topics(c, d, [a.name], False, a.timeout)
    info("deleted topic %s" % a.name)
    return 0


def cmd_topic_describe(a):
    d = abs_dir(a.dir)
    c = load_cluster(d)
    args = ["--bootstrap-server", _bs(c, d), "--describe"]
    if a.name:
        args += ["--topic", a.name]
    r = run_tool(c, d, TOPIC_CMD, args, a.timeout)
    if r.returncode != 0:
        raise CtlError("topic-describe failed (rc %d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
    sys.stdout.write(r.stdout)
    return 0


# Tiny Java helper (compiled once per Kafka version, cached next to the jars):
# create many topics in one JVM, and the demo load generator.
HELPER_SRC = r'''
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.*;

public class DoraKafkaHelper {
  // A group with @MAXRATE (load): throttled this long, then free to catch up.
  static final double SLOW_S = 600, CATCH_UP_S = 60;
  static Map<String, List<String>> parse(String[] a) {
    Map<String, List<String>> m = new HashMap<>();
    for (int i = 1; i + 1 < a.length; i += 2) m.computeIfAbsent(a[i], k -> new ArrayList<>()).add(a[i + 1]);
    return m;
  }
  static String one(Map<String, List<String>> m, String k, String def) {
    List<String> v = m.get(k); return v == null ? def : v.get(v.size() - 1);
  }

  public static void main(String[] a) throws Exception {
    if (a.length < 1) { System.err.println("usage: create-topics|load ..."); System.exit(2); }
    Map<String, List<String>> o = parse(a);
    if (a[0].equals("create-topics")) System.exit(createTopics(o));
    else if (a[0].equals("load")) System.exit(load(o));
    System.err.println("unknown command " + a[0]); System.exit(2);
  }

  static int createTopics(Map<String, List<String>> o) throws Exception {
    Properties p = new Properties();
    p.put("bootstrap.servers", one(o, "--bootstrap", null));
    p.put("request.timeout.ms", "20000");
    p.put("default.api.timeout.ms", "60000");
    int parts = Integer.parseInt(one(o, "--partitions", "1"));
    short rf = Short.parseShort(one(o, "--rf", "1"));
    Map<String, String> cfg = new HashMap<>();
    for (String kv : o.getOrDefault("--config", List.of())) { int i = kv.indexOf('='); cfg.put(kv.substring(0, i), kv.substring(i + 1)); }
    List<NewTopic> topics = new ArrayList<>();
    for (String t : one(o, "--topics", "").split(",")) if (!t.isEmpty()) topics.add(new NewTopic(t, parts, rf).configs(cfg));
    int created = 0, existed = 0, failed = 0;
    try (Admin admin = Admin.create(p)) {
      CreateTopicsResult r = admin.createTopics(topics);
      for (Map.Entry<String, KafkaFuture<Void>> e : r.values().entrySet()) {
        try { e.getValue().get(90, TimeUnit.SECONDS); created++; }
        catch (ExecutionException ex) {
          if (ex.getCause() instanceof TopicExistsException) existed++;
          else { failed++; System.err.println("topic " + e.getKey() + ": " + ex.getCause()); }
        } catch (TimeoutException ex) { failed++; System.err.println("topic " + e.getKey() + ": timed out"); }
      }
    }
    System.out.println("created=" + created + " existing=" + existed + " failed=" + failed);
    return failed == 0 ? 0 : 1;
  }

  // --group name=topic1,topic2[@maxRecordsPerSecond]
  static int load(Map<String, List<String>> o) throws Exception {
    String bs = one(o, "--bootstrap", null);
    double rate = Double.parseDouble(one(o, "--rate", "200"));
    long durationMs = (long) (Double.parseDouble(one(o, "--duration", "0")) * 1000);
    int size = Integer.parseInt(one(o, "--record-size", "200"));
    List<String> topics = Arrays.asList(one(o, "--topics", "").split(","));
    AtomicBoolean running = new AtomicBoolean(true);
    List<KafkaConsumer<byte[], byte[]>> consumers = new CopyOnWriteArrayList<>();
    List<Thread> threads = new ArrayList<>();
    for (String g : o.getOrDefault("--group", List.of())) {
      String name = g.substring(0, g.indexOf('='));
      String rest = g.substring(g.indexOf('=') + 1);
      double maxRate = -1;
      if (rest.contains("@")) { maxRate = Double.parseDouble(rest.substring(rest.indexOf('@') + 1)); rest = rest.substring(0, rest.indexOf('@')); }
      final List<String> gt = Arrays.asList(rest.split(","));
      final double mr = maxRate;
      Properties cp = new Properties();
      cp.put("bootstrap.servers", bs);
      cp.put("group.id", name);
      cp.put("client.id", name + "-load");
      cp.put("auto.offset.reset", "earliest");
      cp.put("enable.auto.commit", "true");
      cp.put("auto.commit.interval.ms", "1000");
      cp.put("max.poll.records", "100");
      KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(cp, new ByteArrayDeserializer(), new ByteArrayDeserializer());
      consumers.add(c);
      Thread t = new Thread(() -> {
        long consumed = 0, start = System.nanoTime();
        try {
          c.subscribe(gt);
          while (running.get()) {
            ConsumerRecords<byte[], byte[]> rs = c.poll(java.time.Duration.ofMillis(500));
            consumed += rs.count();
            if (mr > 0) {
              // Throttled for SLOW_S, then unthrottled for CATCH_UP_S (it
              // catches up), and again: the lag stays visible but bounded.
              double phase = (System.nanoTime() - start) / 1e9;
              if (phase >= SLOW_S + CATCH_UP_S) { start = System.nanoTime(); consumed = 0; }
              else if (phase < SLOW_S) {
                double ahead = consumed / mr - phase;
                if (ahead > 0) Thread.sleep((long) (Math.min(ahead, SLOW_S - phase) * 1000));
              }
            }
          }
        } catch (WakeupException | InterruptedException e) {
        } catch (Exception e) { System.err.println("consumer " + name + ": " + e); }
        finally { c.close(java.time.Duration.ofSeconds(5)); }
      }, "consumer-" + name);
      t.start();
      threads.add(t);
    }
    Properties pp = new Properties();
    pp.put("bootstrap.servers", bs);
    pp.put("acks", "all");
    pp.put("linger.ms", "20");
    pp.put("client.id", "dora-load-producer");
    KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer());
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      running.set(false);
      for (KafkaConsumer<byte[], byte[]> c : consumers) c.wakeup();
      for (Thread t : threads) { try { t.join(6000); } catch (InterruptedException e) { } }
    }));
    Random rnd = new Random();
    byte[] payload = new byte[size];
    long start = System.nanoTime(), sent = 0;
    System.out.println("load: " + rate + " records/s over " + topics.size() + " topics, " + threads.size() + " consumer group(s)");
    System.out.flush();
    while (running.get() && (durationMs <= 0 || (System.nanoTime() - start) / 1_000_000 < durationMs)) {
      double elapsed = (System.nanoTime() - start) / 1e9;
      long due = (long) (elapsed * rate) + 1;
      while (sent < due) {
        String t = topics.get((int) (sent % topics.size()));
        for (int i = 0; i < size; i++) payload[i] = (byte) ('a' + rnd.nextInt(26));
        producer.send(new ProducerRecord<>(t, ("key-" + (sent % 97)).getBytes(), payload.clone()));
        sent++;
      }
      Thread.sleep(20);
    }
    producer.close(java.time.Duration.ofSeconds(5));
    running.set(false);
    for (KafkaConsumer<byte[], byte[]> c : consumers) c.wakeup();
    for (Thread t : threads) t.join(6000);
    System.out.println("load: done, sent " + sent);
    return 0;
  }
}
'''


def ensure_helper(home):
    h = hashlib.sha256(HELPER_SRC.encode()).hexdigest()[:12]
    out = os.path.join(home, "helper-" + h)
    if os.path.isfile(os.path.join(out, HELPER_CLASS + ".class")):
        return out
    javac = shutil.which("javac")
    jh = os.environ.get("JAVA_HOME")
    if jh and os.path.isfile(os.path.join(jh, "bin", "javac")):
        javac = os.path.join(jh, "bin", "javac")
    if not javac:
        raise CtlError("javac not found (a JDK is required for seed-topics/load)")
    with file_lock(os.path.join(home, ".helper.lock"), timeout=120):
        if os.path.isfile(os.path.join(out, HELPER_CLASS + ".class")):
            return out
        tmp = "%s.tmp-%d" % (out, os.getpid())
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        try:
            src = os.path.join(tmp, HELPER_CLASS + ".java")
            with open(src, "w") as f:
                f.write(HELPER_SRC)
            r = run_bounded([javac, "-J-XX:TieredStopAtLevel=1", "-nowarn", "-cp", classpath(home), "-d", tmp, src], 180)
            if r.returncode != 0:
                raise CtlError("compiling %s failed:\n%s%s" % (HELPER_CLASS, r.stdout, r.stderr))
            os.rename(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def seed_topics(c, d, partitions, timeout):
    n = len(c["nodes"])
    home = cluster_home(c)
    helper = ensure_helper(home)
    args = ["create-topics", "--bootstrap", _bs(c, d), "--partitions", str(partitions),
            "--rf", str(min(3, n)), "--config", "min.insync.replicas=%d" % min(2, n),
            "--topics", ",".join(SEED_TOPICS)]
    r = run_bounded(tool_cmd(home, HELPER_CLASS, args, extra_cp=helper), timeout)
    if r.returncode != 0:
        raise CtlError("seed-topics failed (rc %d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
    wait_topics(c, d, SEED_TOPICS, True, timeout)
    return r.stdout.strip()


def cmd_seed_topics(a):
    d = abs_dir(a.dir)
    c = load_cluster(d)
    t0 = time.monotonic()
    res = seed_topics(c, d, a.partitions, a.timeout)
    info("seed topics ready (%d topics x %d partitions, %s) in %.1fs" % (len(SEED_TOPICS), a.partitions, res, time.monotonic() - t0))
    return 0


def num_arg(v):
    """Numbers for argparse4j: '-1' (not '-1.0', which it takes for an option)."""
    if v < 0:
        return "-1"
    return "%d" % v if v == int(v) else repr(v)


def require_topic(c, d, topic):
    """Fail fast (instead of a 60 s client timeout) when the topic does not exist."""
    ports = running_ports(c, d)
    if not ports:
        raise CtlError("no running node in %s" % d)
    last = None
    for port in ports:
        try:
            tm = kafka_metadata(port, topics=[topic])["topics"].get(topic)
        except Exception as e:  # noqa: BLE001
            last = e
            continue
        if tm is None or tm["error"] != 0:
            raise CtlError("topic %s does not exist (error code %s)" % (topic, tm and tm["error"]))
        return
    raise CtlError("cannot reach any broker for metadata: %s" % last)


def cmd_produce(a):
    d = abs_dir(a.dir)
    c = load_cluster(d)
    require_topic(c, d, a.topic)
    args = ["--topic", a.topic, "--num-records", str(a.num_records), "--record-size", str(a.record_size),
            "--throughput", num_arg(a.throughput), "--producer-props", "acks=all",
            "bootstrap.servers=" + _bs(c, d), "client.id=kafkactl-producer"]
    args += a.producer_prop or []
    t0 = time.monotonic()
    r = run_tool(c, d, PRODUCER_PERF, args, a.timeout)
    if r.returncode != 0:
        raise CtlError("produce to %s failed (rc %d):\n%s%s" % (a.topic, r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
    lines = [l for l in r.stdout.splitlines() if "records sent" in l]
    info("produced %d records to %s in %.1fs: %s" % (a.num_records, a.topic, time.monotonic() - t0, lines[-1].strip() if lines else "?"))
    return 0


def cmd_consume(a):
    d = abs_dir(a.dir)
    c = load_cluster(d)
    require_topic(c, d, a.topic)
    args = ["--bootstrap-server", _bs(c, d), "--topic", a.topic, "--group", a.group,
            "--max-messages", str(a.max_messages), "--timeout-ms", str(int(a.idle_timeout * 1000))]
    if not a.no_from_beginning:
        args.append("--from-beginning")
    if not a.batch:
        # One record per poll: the offsets committed on close are then exactly the
        # --max-messages records consumed (otherwise a whole fetched batch counts).
        args += ["--consumer-property", "max.poll.records=1"]
    for kv in a.consumer_property or []:
        args += ["--consumer-property", kv]
    t0 = time.monotonic()
    home = cluster_home(c)
    cmd = tool_cmd(home, CONSOLE_CONSUMER, args)
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, timeout=a.timeout)
    except subprocess.TimeoutExpired:
        raise CtlError("consume from %s timed out after %ss" % (a.topic, a.timeout))
    got = None
    for line in r.stderr.splitlines():
        if line.startswith("Processed a total of"):
            with contextlib.suppress(ValueError, IndexError):
                got = int(line.split()[4])
    if got is None:
        raise CtlError("consume from %s failed (rc %d):\n%s" % (a.topic, r.returncode, r.stderr[-3000:]))
    if got < a.max_messages and not a.allow_fewer:
        raise CtlError("consumed only %d of %d messages from %s (group %s):\n%s"
                       % (got, a.max_messages, a.topic, a.group, r.stderr[-2000:]))
    info("consumed %d messages from %s as group %s in %.1fs" % (got, a.topic, a.group, time.monotonic() - t0))
    return 0


def cmd_groups(argv):
    d = os.environ.get("DORA_KAFKA_DIR")
    timeout = 120.0
    rest = []
    i = 0
    while i < len(argv):
        x = argv[i]
        if x == "--":
            rest += argv[i + 1:]
            break
        if x == "--dir" and i + 1 < len(argv):
            d = argv[i + 1]
            i += 2
            continue
        if x.startswith("--dir="):
            d = x[6:]
        elif x == "--ctl-timeout" and i + 1 < len(argv):
            timeout = float(argv[i + 1])
            i += 2
            continue
        else:
            rest.append(x)
        i += 1
    if rest[:1] in (["-h"], ["--help"]) and not d:
        info("usage: kafkactl.py groups --dir DIR [--ctl-timeout S] [--] <ConsumerGroupCommand args>")
        return 0
    d = abs_dir(d)
    c = load_cluster(d)
    r = run_tool(c, d, GROUP_CMD, ["--bootstrap-server", _bs(c, d)] + rest, timeout, passthrough=True)
    return r.returncode


def cmd_tool(argv):
    """tool --dir DIR --main CLASS [--exec] [--ctl-timeout S] [--] ARGS: any Kafka tool class (e.g.
    FeatureCommand, ConsoleShareConsumer, ShareGroupCommand) with "{bootstrap}" in ARGS replaced by the
    cluster's bootstrap servers. --exec replaces this process with the JVM (for a long-running consumer
    the caller stops with a signal)."""
    d = os.environ.get("DORA_KAFKA_DIR")
    timeout, main_class, do_exec, rest = 120.0, None, False, []
    i = 0
    while i < len(argv):
        x = argv[i]
        if x == "--":
            rest += argv[i + 1:]
            break
        if x in ("--dir", "--main", "--ctl-timeout") and i + 1 < len(argv):
            if x == "--dir":
                d = argv[i + 1]
            elif x == "--main":
                main_class = argv[i + 1]
            else:
                timeout = float(argv[i + 1])
            i += 2
            continue
        if x == "--exec":
            do_exec = True
        else:
            rest.append(x)
        i += 1
    if not main_class or not d:
        raise CtlError("usage: kafkactl.py tool --dir DIR --main CLASS [--exec] [--] ARGS")
    d = abs_dir(d)
    c = load_cluster(d)
    bs = _bs(c, d)
    args = [x.replace("{bootstrap}", bs) for x in rest]
    if do_exec:
        cmd = tool_cmd(cluster_home(c), main_class, args)
        sys.stdout.flush()
        os.execv(cmd[0], cmd)
    r = run_tool(c, d, main_class, args, timeout, passthrough=True)
    return r.returncode


def cmd_load(a):
    d = abs_dir(a.dir)
    c = load_cluster(d)
    home = cluster_home(c)
    helper = ensure_helper(home)
    # the seed topics must exist (auto.create.topics.enable=false)
    missing = True
    with contextlib.suppress(Exception):
        md = kafka_metadata(running_ports(c, d)[0], topics=SEED_TOPICS)
        missing = any(md["topics"].get(t, {"error": 3})["error"] != 0 for t in SEED_TOPICS)
    if missing:
        seed_topics(c, d, 12, 120)
    stop_load(d)
    # Dead-letter topics only when asked: a healthy demo writes none (any
    # message there fires KafkaDeadLetterMessages).
    topics = [t for t in SEED_TOPICS if a.dlq or not t.startswith("dlq-")]
    per_topic = a.rate / len(topics)
    groups = a.group or [
        "compliance-reporting=compliance-reports,audit-logs",
        # deliberately a bit slower than its input so consumer lag grows
        # visibly; it catches up every 10 minutes (SLOW_S), so the lag stays
        # far below KafkaConsumerGroupLagHigh's 10,000
        "risk-engine=risk-assessments,risk-calculations,incident-events@%.2f" % (max(0.5, 3 * per_topic * 0.8)),
    ]
    args = ["load", "--bootstrap", _bs(c, d), "--rate", str(a.rate), "--duration", str(a.duration),
            "--topics", ",".join(topics)]
    for g in groups:
        args += ["--group", g]
    cmd = ([java_bin()] + TOOL_JVM_OPTS + ["-Ddora.kafka.load=" + d] + log_opts(home, "tool") +
           ["-cp", classpath(home, helper), HELPER_CLASS] + args)
    log = open(os.path.join(d, "load.log"), "ab")
    try:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             cwd=d, start_new_session=True, close_fds=True)
    finally:
        log.close()
    with open(os.path.join(d, "load.pids"), "a") as f:
        f.write("%d\n" % p.pid)
    time.sleep(1.0)
    if p.poll() is not None:
        raise CtlError("load generator exited immediately:\n%s" % tail(os.path.join(d, "load.log")))
    info("load running (pid %d): %s records/s over %d topics%s, groups %s, duration %s"
         % (p.pid, a.rate, len(topics), " (dead-letter topics included)" if a.dlq else "",
            ", ".join(g.split("=")[0] for g in groups),
            ("%ss" % a.duration) if a.duration > 0 else "forever"))
    return 0


def cmd_stop_load(a):
    d = abs_dir(a.dir)
    n = stop_load(d)
    info("stopped %d load process(es)" % n)
    return 0


# --------------------------------------------------------------------------
# Kafka Connect worker (distributed mode) next to a cluster: DIR/connect/
#   worker.properties, pid, logs/connect.log, connect.json (url, port, pid)
# `stop` and the watchdog stop it with the cluster.

CONNECT_LOG4J1 = LOG4J1_NODE + """log4j.logger.org.reflections=ERROR
log4j.logger.org.apache.kafka.connect.runtime.isolation=WARN
log4j.logger.org.eclipse.jetty=WARN
"""


def connect_dir(d):
    return os.path.join(d, "connect")


def connect_marker(d):
    return os.path.join(connect_dir(d), "worker.properties")


def connect_running(d):
    pid = read_pid(os.path.join(connect_dir(d), "pid"))
    return pid if pid_alive(pid, connect_marker(d)) else 0


def stop_connect(d, grace=10.0):
    pid = read_pid(os.path.join(connect_dir(d), "pid"))
    if not pid_alive(pid, connect_marker(d)):
        return 0
    terminate_pids([(pid, connect_marker(d))], grace, "connect worker")
    return 1


def http_get(url, timeout=2.0):
    import urllib.request
    with urllib.request.urlopen(url, timeout=timeout) as r:   # noqa: S310 - loopback only
        return r.status, r.read().decode("utf-8", "replace")


def cmd_connect_start(a):
    d = abs_dir(a.dir)
    c = load_cluster(d)
    v = c["version"]
    t0 = time.monotonic()
    home, _ = ensure_connect_fetched(v)
    if connect_running(d):
        raise CtlError("a connect worker is already running in %s; run `connect-stop` first" % d)
    cd = connect_dir(d)
    shutil.rmtree(cd, ignore_errors=True)
    os.makedirs(os.path.join(cd, "logs"))
    port = a.port or free_ports(1)[0]
    props = {
        "bootstrap.servers": live_bootstrap(c, d),
        "group.id": a.group,
        "config.storage.topic": a.group + "-configs",
        "offset.storage.topic": a.group + "-offsets",
        "status.storage.topic": a.group + "-status",
        "config.storage.replication.factor": "1",
        "offset.storage.replication.factor": "1",
        "status.storage.replication.factor": "1",
        "offset.storage.partitions": "1",
        "status.storage.partitions": "1",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        "listeners": "http://%s:%d" % (HOST, port),
        "rest.advertised.host.name": HOST,
        "rest.advertised.port": str(port),
        "plugin.path": os.path.join(home, "plugins"),
        # Kafka's own plugins carry ServiceLoader manifests (KIP-898): no
        # reflective scan of the classpath, a much faster start.
        "plugin.discovery": "service_load",
        "offset.flush.interval.ms": "1000",
        "task.shutdown.graceful.timeout.ms": "2000",
        "scheduled.rebalance.max.delay.ms": "0",
    }
    for kv in a.config or []:
        if "=" not in kv:
            raise CtlError("--config expects K=V, got %r" % kv)
        k, val = kv.split("=", 1)
        props[k] = val
    write_text_atomic(connect_marker(d), "".join("%s=%s\n" % kv for kv in props.items()))
    log_path = os.path.join(cd, "logs", "connect.log")
    logopts = []
    if log_binding(home) == "log4j1":
        lp = os.path.join(cd, "connect-log4j.properties")
        write_text_atomic(lp, CONNECT_LOG4J1)
        logopts = ["-Dlog4j.configuration=file:" + lp]
    else:
        logopts = log_opts(home, "node")
    cmd = ([java_bin()] + NODE_JVM_OPTS + shlex.split(os.environ.get("DORA_KAFKA_NODE_JVM_OPTS", "")) +
           ["-Dkafka.logs.dir=" + os.path.join(cd, "logs")] + logopts +
           ["-cp", classpath(home), CONNECT_MAIN, connect_marker(d)])
    with deferred_interrupts():
        with open(log_path, "ab") as lf:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                                 cwd=cd, start_new_session=True, close_fds=True)
        write_text_atomic(os.path.join(cd, "pid"), "%d\n" % p.pid)
    url = "http://%s:%d" % (HOST, port)
    deadline = time.monotonic() + a.timeout
    last = "not started"
    try:
        # Ready: GET / answers, and GET /connectors answers 200 (the worker has
        # joined its group and read the config topic; before that it says 503 or 409).
        while True:
            if p.poll() is not None:
                raise CtlError("connect worker exited during startup (exit %s); %s"
                               % (p.returncode, failure_summary(log_path, 0)))
            try:
                st, _ = http_get(url + "/", timeout=2.0)
                st2, _ = http_get(url + "/connectors", timeout=2.0)
                if st == 200 and st2 == 200:
                    break
                last = "GET / %d, GET /connectors %d" % (st, st2)
            except Exception as e:  # noqa: BLE001 - any failure means "not yet"
                last = str(e)
            if time.monotonic() > deadline:
                raise CtlError("connect worker not ready after %.0fs (%s); last log lines:\n%s"
                               % (a.timeout, last, tail(log_path, 30)))
            time.sleep(0.25)
    except BaseException:
        with deferred_interrupts():
            stop_connect(d, grace=2.0)
        raise
    write_json_atomic(os.path.join(cd, "connect.json"), {"url": url, "port": port, "pid": p.pid,
                                                         "version": v, "log_file": log_path})
    info("connect %s worker ready in %.1fs: %s" % (v, time.monotonic() - t0, url))
    return 0


def cmd_connect_stop(a):
    d = abs_dir(a.dir)
    t0 = time.monotonic()
    n = stop_connect(d, grace=0.0 if a.kill else a.grace)
    info("connect worker %s in %.1fs" % ("stopped" if n else "was not running", time.monotonic() - t0))
    return 0


# --------------------------------------------------------------------------
# MirrorMaker 2 in dedicated mode (org.apache.kafka.connect.mirror.MirrorMaker)
# from DIR (the source cluster) to --target-dir: DIR/mirror/mm2.properties,
# pid, logs/mm2.log, mirror.json.  Its jars (connect-mirror, connect-mirror-
# client and their runtime dependencies) live in ${cache}/mirror-<version>.
# `stop` and the watchdog of DIR stop it with that cluster.

MIRROR_POM = os.path.join(SCRIPT_DIR, "mirror-pom.xml")
MIRROR_MAIN = "org.apache.kafka.connect.mirror.MirrorMaker"


def mirror_home(version):
    return os.path.join(cache_root(), "mirror-" + version)


def mirror_complete(home, version):
    return (os.path.isfile(os.path.join(home, ".complete")) and
            os.path.isfile(os.path.join(home, "libs", "connect-mirror-%s.jar" % version)) and
            os.path.isfile(os.path.join(home, "libs", "connect-mirror-client-%s.jar" % version)))


def ensure_mirror_fetched(version):
    """Returns the MirrorMaker 2 home dir (libs/).  Idempotent and atomic."""
    home = mirror_home(version)
    if mirror_complete(home, version):
        return home, False
    if not os.path.isfile(MIRROR_POM):
        raise CtlError("pom not found: %s" % MIRROR_POM)
    if shutil.which("mvn") is None:
        raise CtlError("mvn not found on PATH")
    root = cache_root()
    os.makedirs(root, exist_ok=True)
    with file_lock(os.path.join(root, ".mirror-%s.lock" % version)):
        if mirror_complete(home, version):
            return home, False
        tmp = os.path.join(root, ".mirror-%s.tmp-%d" % (version, os.getpid()))
        shutil.rmtree(tmp, ignore_errors=True)
        libs = os.path.join(tmp, "libs")
        os.makedirs(libs)
        try:
            cmd = ["mvn", "-q", "-B", "-f", MIRROR_POM, "-Dkafka.version=" + version,
                   "dependency:copy-dependencies", "-DoutputDirectory=" + libs,
                   "-DincludeScope=runtime"]
            r = run_bounded(cmd, timeout=1800)
            if r.returncode != 0:
                raise CtlError("mvn dependency:copy-dependencies failed for mirrormaker %s:\n%s%s"
                               % (version, r.stdout[-4000:], r.stderr[-4000:]))
            for jar in ("connect-mirror", "connect-mirror-client"):
                if not os.path.isfile(os.path.join(libs, "%s-%s.jar" % (jar, version))):
                    raise CtlError("mvn did not produce %s-%s.jar" % (jar, version))
            # As for the Connect worker: the slf4j binding the release ships.
            has_binding = any(j.startswith(BINDING_PREFIXES) for j in os.listdir(libs))
            core = _jar_version(libs, "log4j-core-")
            reload4j = _jar_version(libs, "reload4j-")
            slf4j = _jar_version(libs, "slf4j-api-") or "1"
            artifact = None
            if not has_binding and core:
                art = "log4j-slf4j2-impl" if slf4j.startswith("2") else "log4j-slf4j-impl"
                artifact = "org.apache.logging.log4j:%s:%s" % (art, core)
            elif not has_binding and reload4j and slf4j != "1":
                artifact = "org.slf4j:slf4j-reload4j:%s" % slf4j
            if artifact:
                cmd = ["mvn", "-q", "-B", "-f", MIRROR_POM, "dependency:copy",
                       "-Dartifact=" + artifact, "-DoutputDirectory=" + libs]
                r = run_bounded(cmd, timeout=600)
                if r.returncode != 0:
                    warn("could not fetch %s (mm2 logs will be empty):\n%s" % (artifact, r.stdout[-2000:]))
            with open(os.path.join(tmp, ".complete"), "w") as f:
                f.write("%s %d jars\n" % (version, len(os.listdir(libs))))
            if os.path.exists(home):
                shutil.rmtree(home)
            os.rename(tmp, home)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return home, True


def mirror_dir(d):
    return os.path.join(d, "mirror")


def mirror_marker(d):
    return os.path.join(mirror_dir(d), "mm2.properties")


def mirror_running(d):
    pid = read_pid(os.path.join(mirror_dir(d), "pid"))
    return pid if pid_alive(pid, mirror_marker(d)) else 0


def stop_mirror(d, grace=10.0):
    pid = read_pid(os.path.join(mirror_dir(d), "pid"))
    if not pid_alive(pid, mirror_marker(d)):
        return 0
    terminate_pids([(pid, mirror_marker(d))], grace, "mirrormaker")
    return 1


# MM2 logs this once its connectors are started on the target ("driven") cluster.
MIRROR_READY = "Kafka MirrorMaker started"


def cmd_mm2_start(a):
    d = abs_dir(a.dir)
    td = abs_dir(a.target_dir)
    c = load_cluster(d)
    tc = load_cluster(td)
    v = c["version"]
    t0 = time.monotonic()
    home, _ = ensure_mirror_fetched(v)
    if mirror_running(d):
        raise CtlError("mirrormaker is already running in %s; run `mm2-stop` first" % d)
    md = mirror_dir(d)
    os.makedirs(os.path.join(md, "logs"), exist_ok=True)   # kept over restarts: one log
    s, t = a.source_alias, a.target_alias
    props = {
        "clusters": "%s, %s" % (s, t),
        s + ".bootstrap.servers": live_bootstrap(c, d),
        t + ".bootstrap.servers": live_bootstrap(tc, td),
        "%s->%s.enabled" % (s, t): "true",
        "%s->%s.enabled" % (t, s): "false",
        "%s->%s.topics" % (s, t): a.topics,
        "%s->%s.groups" % (s, t): a.groups,
        # Single-node test clusters.
        "replication.factor": "1",
        "checkpoints.topic.replication.factor": "1",
        "heartbeats.topic.replication.factor": "1",
        "offset-syncs.topic.replication.factor": "1",
        "offset.storage.replication.factor": "1",
        "status.storage.replication.factor": "1",
        "config.storage.replication.factor": "1",
        # Short intervals, so tests see syncs and checkpoints within seconds.
        "emit.checkpoints.interval.seconds": "1",
        "emit.heartbeats.interval.seconds": "1",
        "sync.group.offsets.enabled": "true",
        "sync.group.offsets.interval.seconds": "1",
        "refresh.topics.interval.seconds": "2",
        "refresh.groups.interval.seconds": "2",
        "offset.lag.max": "0",
        # MM2 holds back the offset sync of a partition's last records until
        # its worker commits offsets: every second, top level and for the
        # target's worker (dedicated mode builds it from the target's props).
        "offset.flush.interval.ms": "1000",
        t + ".offset.flush.interval.ms": "1000",
        "sync.topic.configs.enabled": "false",
        "sync.topic.acls.enabled": "false",
        "tasks.max": "1",
        "scheduled.rebalance.max.delay.ms": "0",
        "task.shutdown.graceful.timeout.ms": "2000",
    }
    for kv in a.config or []:
        if "=" not in kv:
            raise CtlError("--config expects K=V, got %r" % kv)
        k, val = kv.split("=", 1)
        props[k] = val
    write_text_atomic(mirror_marker(d), "".join("%s=%s\n" % kv for kv in props.items()))
    log_path = os.path.join(md, "logs", "mm2.log")
    offset = os.path.getsize(log_path) if os.path.exists(log_path) else 0
    logopts = []
    if log_binding(home) == "log4j1":
        lp = os.path.join(md, "mm2-log4j.properties")
        write_text_atomic(lp, CONNECT_LOG4J1)
        logopts = ["-Dlog4j.configuration=file:" + lp]
    else:
        logopts = log_opts(home, "node")
    cmd = ([java_bin()] + NODE_JVM_OPTS + shlex.split(os.environ.get("DORA_KAFKA_NODE_JVM_OPTS", "")) +
           ["-Dkafka.logs.dir=" + os.path.join(md, "logs")] + logopts +
           ["-cp", classpath(home), MIRROR_MAIN, mirror_marker(d), "--clusters", t])
    with deferred_interrupts():
        with open(log_path, "ab") as lf:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                                 cwd=md, start_new_session=True, close_fds=True)
        write_text_atomic(os.path.join(md, "pid"), "%d\n" % p.pid)
    deadline = time.monotonic() + a.timeout
    try:
        while True:
            if p.poll() is not None:
                raise CtlError("mirrormaker exited during startup (exit %s); %s"
                               % (p.returncode, failure_summary(log_path, offset)))
            try:
                with open(log_path, "rb") as f:
                    f.seek(offset)
                    if MIRROR_READY.encode() in f.read():
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise CtlError("mirrormaker not ready after %.0fs; last log lines:\n%s"
                               % (a.timeout, tail(log_path, 30)))
            time.sleep(0.25)
    except BaseException:
        with deferred_interrupts():
            stop_mirror(d, grace=2.0)
        raise
    write_json_atomic(os.path.join(md, "mirror.json"), {"pid": p.pid, "version": v, "source": s, "target": t,
                                                        "log_file": log_path})
    info("mirrormaker %s %s->%s started in %.1fs" % (v, s, t, time.monotonic() - t0))
    return 0


def cmd_mm2_stop(a):
    d = abs_dir(a.dir)
    t0 = time.monotonic()
    n = stop_mirror(d, grace=0.0 if a.kill else a.grace)
    info("mirrormaker %s in %.1fs" % ("stopped" if n else "was not running", time.monotonic() - t0))
    return 0


# --------------------------------------------------------------------------

def build_parser():
    p = argparse.ArgumentParser(prog="kafkactl.py", description="Run a real Kafka (KRaft) cluster on 127.0.0.1 for tests.",
                                allow_abbrev=False)
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    env_dir = os.environ.get("DORA_KAFKA_DIR")

    def add(name, fn, help_):
        kw = {"help": help_} if help_ else {}
        sp = sub.add_parser(name, allow_abbrev=False, **kw)
        sp.set_defaults(fn=fn)
        return sp

    def with_dir(sp):
        sp.add_argument("--dir", default=env_dir, help="cluster directory (default $DORA_KAFKA_DIR)")
        return sp

    sp = add("fetch", cmd_fetch, "download the Kafka jars into the cache")
    sp.add_argument("--version")
    sp.add_argument("--connect", action="store_true",
                    help="also the Kafka Connect worker and the connect-file plugin of that release")
    sp.add_argument("--mirror", action="store_true",
                    help="also MirrorMaker 2 (connect-mirror, connect-mirror-client) of that release")

    sp = with_dir(add("start", cmd_start, "format and start a cluster"))
    sp.add_argument("--version")
    sp.add_argument("--nodes", type=int, default=1)
    sp.add_argument("--watch-pid", type=int, default=0)
    sp.add_argument("--timeout", type=float, default=90.0)
    sp.add_argument("--config", action="append", metavar="K=V", help="extra/overriding broker config")

    sp = with_dir(add("stop", cmd_stop, "stop all nodes, the load and the watchdog"))
    sp.add_argument("--grace", type=float, default=20.0)
    sp.add_argument("--kill", action="store_true", help="SIGKILL right away")

    with_dir(add("status", cmd_status, "show node states"))

    sp = with_dir(add("stop-node", cmd_stop_node, "stop one node"))
    sp.add_argument("--id", type=int, required=True)
    sp.add_argument("--kill", action="store_true")
    sp.add_argument("--grace", type=float, default=20.0)

    sp = with_dir(add("start-node", cmd_start_node, "restart a stopped node"))
    sp.add_argument("--id", type=int, required=True)
    sp.add_argument("--timeout", type=float, default=90.0)

    sp = with_dir(add("freeze-node", lambda a: cmd_freeze_node(a, True), "SIGSTOP a node"))
    sp.add_argument("--id", type=int, required=True)
    sp = with_dir(add("thaw-node", lambda a: cmd_freeze_node(a, False), "SIGCONT a node"))
    sp.add_argument("--id", type=int, required=True)

    sp = with_dir(add("topic-create", cmd_topic_create, "create a topic (TopicCommand)"))
    sp.add_argument("--name", required=True)
    sp.add_argument("--partitions", type=int, default=1)
    sp.add_argument("--rf", type=int, default=1)
    sp.add_argument("--config", action="append", metavar="K=V")
    sp.add_argument("--if-not-exists", action="store_true")
    sp.add_argument("--timeout", type=float, default=90.0)

    sp = with_dir(add("topic-delete", cmd_topic_delete, "delete a topic (TopicCommand)"))
    sp.add_argument("--name", required=True)
    sp.add_argument("--timeout", type=float, default=90.0)

    sp = with_dir(add("topic-describe", cmd_topic_describe, "describe topics (TopicCommand)"))
    sp.add_argument("--name")
    sp.add_argument("--timeout", type=float, default=90.0)

    sp = with_dir(add("seed-topics", cmd_seed_topics, "create the DORA seed topics"))
    sp.add_argument("--partitions", type=int, default=12)
    sp.add_argument("--timeout", type=float, default=120.0)

    sp = with_dir(add("produce", cmd_produce, "produce records (ProducerPerformance, acks=all)"))
    sp.add_argument("--topic", required=True)
    sp.add_argument("--num-records", type=int, required=True)
    sp.add_argument("--throughput", type=float, default=-1)
    sp.add_argument("--record-size", type=int, default=100)
    sp.add_argument("--producer-prop", action="append", metavar="K=V")
    sp.add_argument("--timeout", type=float, default=300.0)

    sp = with_dir(add("consume", cmd_consume, "consume with a consumer group and commit (ConsoleConsumer)"))
    sp.add_argument("--topic", required=True)
    sp.add_argument("--group", required=True)
    sp.add_argument("--max-messages", type=int, required=True)
    sp.add_argument("--idle-timeout", type=float, default=20.0, help="give up after this many seconds without a message")
    sp.add_argument("--no-from-beginning", action="store_true")
    sp.add_argument("--consumer-property", action="append", metavar="K=V")
    sp.add_argument("--allow-fewer", action="store_true")
    sp.add_argument("--batch", action="store_true",
                    help="normal max.poll.records (faster, but may commit more than --max-messages)")
    sp.add_argument("--timeout", type=float, default=180.0)

    sub.add_parser("groups", help="ConsumerGroupCommand passthrough: groups --dir DIR [--] ARGS...", add_help=False)
    sub.add_parser("tool", help="any Kafka tool class: tool --dir DIR --main CLASS [--exec] [--] ARGS...",
                   add_help=False)

    sp = with_dir(add("load", cmd_load, "start a background demo load"))
    sp.add_argument("--rate", type=float, default=200.0, help="records/s in total over all seed topics")
    sp.add_argument("--duration", type=float, default=0.0, help="seconds, 0 = forever")
    sp.add_argument("--group", action="append", metavar="NAME=T1,T2[@MAXRATE]")
    sp.add_argument("--dlq", action="store_true",
                    help="also write to the dead-letter topics (dlq-*); off by default")

    with_dir(add("stop-load", cmd_stop_load, "stop the background load"))

    sp = with_dir(add("connect-start", cmd_connect_start,
                      "start a Kafka Connect worker (distributed mode) on the cluster"))
    sp.add_argument("--port", type=int, default=0, help="REST port (default: a free one)")
    sp.add_argument("--group", default="dora-connect", help="group.id, also the prefix of its topics")
    sp.add_argument("--timeout", type=float, default=120.0)
    sp.add_argument("--config", action="append", metavar="K=V", help="extra/overriding worker config")

    sp = with_dir(add("connect-stop", cmd_connect_stop, "stop the Kafka Connect worker"))
    sp.add_argument("--grace", type=float, default=10.0)
    sp.add_argument("--kill", action="store_true", help="SIGKILL right away")

    sp = with_dir(add("mm2-start", cmd_mm2_start,
                      "start MirrorMaker 2 (dedicated mode) replicating this cluster (--dir) to --target-dir"))
    sp.add_argument("--target-dir", required=True, help="the target cluster's directory")
    sp.add_argument("--source-alias", default="primary", help="MM2 alias of the source cluster")
    sp.add_argument("--target-alias", default="dr", help="MM2 alias of the target cluster")
    sp.add_argument("--topics", default=".*", help="source->target.topics (regex list)")
    sp.add_argument("--groups", default=".*", help="source->target.groups (regex list)")
    sp.add_argument("--timeout", type=float, default=120.0)
    sp.add_argument("--config", action="append", metavar="K=V", help="extra/overriding mm2.properties entry")

    sp = with_dir(add("mm2-stop", cmd_mm2_stop, "stop MirrorMaker 2"))
    sp.add_argument("--grace", type=float, default=10.0)
    sp.add_argument("--kill", action="store_true", help="SIGKILL right away")

    sp = with_dir(add("_watchdog", cmd_watchdog, None))   # internal
    sp.add_argument("--pid", type=int, required=True)
    return p


def main(argv):
    try:
        if argv[:1] == ["groups"]:
            return cmd_groups(argv[1:])
        if argv[:1] == ["tool"]:
            return cmd_tool(argv[1:])
        a = build_parser().parse_args(argv)
        return a.fn(a)
    except CtlError as e:
        warn(str(e))
        return 1
    except KeyboardInterrupt:
        warn("interrupted")
        return 130


_INTERRUPT = {"defer": 0, "pending": False}


def _on_sigterm(*_):
    if _INTERRUPT["defer"]:
        _INTERRUPT["pending"] = True
        return
    raise KeyboardInterrupt()


@contextlib.contextmanager
def deferred_interrupts():
    _INTERRUPT["defer"] += 1
    try:
        yield
    finally:
        _INTERRUPT["defer"] -= 1
        if not _INTERRUPT["defer"] and _INTERRUPT["pending"]:
            _INTERRUPT["pending"] = False
            raise KeyboardInterrupt()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, _on_sigterm)   # even if the parent ignored it
    sys.exit(main(sys.argv[1:]))
