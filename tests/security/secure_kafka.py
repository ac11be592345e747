#!/usr/bin/env python3
"""secure_kafka.py - a single-node Kafka (KRaft) with SASL_SSL, mTLS and ACLs on
127.0.0.1, for tests/integration/test_security.cpp.

Reuses tests/kafka/kafkactl.py (imported: jar cache, JVM options, node launch,
watchdog) and its directory layout, so `kafkactl.py stop --dir DIR` stops it
and `--watch-pid` stops it when the test process dies.

  start --dir DIR [--version V] [--watch-pid PID] [--timeout S]
      Makes a CA, a broker certificate (127.0.0.1, localhost) and a client
      certificate (CN=exporter, clientAuth) with the openssl CLI; formats the
      storage with SCRAM-SHA-256/512 users `admin` and `exporter`
      (StorageTool --add-scram); starts the broker with listeners
        SASL_SSL  SCRAM-SHA-256, SCRAM-SHA-512, PLAIN   (TLS 1.3 only)
        SSL       client certificate required (mTLS)     (TLS 1.3 only)
        CONTROLLER plaintext, loopback only
      and StandardAuthorizer (super.users: admin; ANONYMOUS for the
      controller listener only). Writes DIR/secure.json (ports, file names).
      Passwords are random, written to DIR/secrets/*.password (0600), never
      printed and never on a command line.
  acl --dir DIR --preset base|probe|incidents [--probe-topic T] [--probe-group G] [--incidents-topic T]
      Grants User:exporter the ACLs of docs/security.md with Kafka's own
      AclCommand (admin credentials from a --command-config file).
  scram --dir DIR --user U --mechanism M --password-file F
      Changes a SCRAM credential (kafka-configs --alter), for rotation tests.
  stop --dir DIR
      Same as kafkactl.py stop.
"""

import argparse
import os
import secrets
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kafka"))
import kafkactl  # noqa: E402  (tests/kafka/kafkactl.py)

HOST = "127.0.0.1"
NODE = 1
KAFKACTL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kafka", "kafkactl.py")


def major(version):
    try:
        return int(version.split(".")[0])
    except ValueError:
        return 3


def stop_dir(d, kill=False):
    """kafkactl.py stop (its CLI is the stable interface, not its internals)."""
    cmd = [sys.executable, KAFKACTL, "stop", "--dir", d] + (["--kill"] if kill else ["--grace", "10"])
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60).returncode


def sh(cmd, timeout=60):
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise kafkactl.CtlError("%s failed:\n%s%s" % (" ".join(cmd[:3]), r.stdout[-2000:], r.stderr[-2000:]))
    return r.stdout


def make_certs(d):
    """CA, broker (serverAuth+clientAuth, SAN 127.0.0.1/localhost), client CN=exporter."""
    c = os.path.join(d, "certs")
    os.makedirs(c, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    sh(["openssl", "req", "-x509"] + ec + ["-keyout", c + "/ca.key", "-out", c + "/ca.crt", "-days", "2",
                                          "-subj", "/CN=dora-test-ca",
                                          "-addext", "basicConstraints=critical,CA:TRUE",
                                          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])

    def leaf(name, cn, ext):
        sh(["openssl", "req", "-new"] + ec + ["-keyout", "%s/%s.key" % (c, name), "-out", "%s/%s.csr" % (c, name),
                                              "-subj", "/CN=" + cn])
        with open("%s/%s.ext" % (c, name), "w") as f:
            f.write(ext)
        sh(["openssl", "x509", "-req", "-in", "%s/%s.csr" % (c, name), "-CA", c + "/ca.crt", "-CAkey", c + "/ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "%s/%s.ext" % (c, name), "-out", "%s/%s.crt" % (c, name)])

    leaf("broker", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                "extendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\n")
    leaf("client", "exporter", "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n")
    # Kafka's PEM key store: unencrypted PKCS#8 key, then the certificate chain.
    with open(c + "/broker-keystore.pem", "w") as out:
        for part in ("broker.key", "broker.crt"):
            with open(os.path.join(c, part)) as f:
                out.write(f.read())
    for f in os.listdir(c):
        os.chmod(os.path.join(c, f), 0o600)
    return c


def write_secret(d, name, value):
    s = os.path.join(d, "secrets")
    os.makedirs(s, mode=0o700, exist_ok=True)
    p = os.path.join(s, name + ".password")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return p


def read_secret(path):
    with open(path) as f:
        return f.read().strip()


def admin_client_config(d, info):
    """Client properties for the admin tools (a file: no password on a command line)."""
    pw = read_secret(info["admin_password_file"])
    p = os.path.join(d, "secrets", "admin-client.properties")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("security.protocol=SASL_SSL\n"
                "sasl.mechanism=SCRAM-SHA-256\n"
                'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required '
                'username="admin" password="%s";\n'
                "ssl.truststore.type=PEM\n"
                "ssl.truststore.location=%s\n" % (pw, info["ca_file"]))
    return p


def cmd_start(a):
    d = kafkactl.abs_dir(a.dir)
    v = a.version or kafkactl.default_version()
    t0 = time.monotonic()
    home, _ = kafkactl.ensure_fetched(v)
    os.makedirs(d, mode=0o700, exist_ok=True)
    if kafkactl.node_running(d, NODE):
        raise kafkactl.CtlError("a broker is already running in %s" % d)
    certs = make_certs(d)
    admin_pw = secrets.token_urlsafe(18)
    exporter_pw = secrets.token_urlsafe(18)
    admin_file = write_secret(d, "admin", admin_pw)
    exporter_file = write_secret(d, "exporter", exporter_pw)
    sasl_port, ssl_port, ctl_port = kafkactl.free_ports(3)
    jaas_scram_admin = ('org.apache.kafka.common.security.scram.ScramLoginModule required '
                        'username="admin" password="%s";' % admin_pw)
    overrides = [
        "listeners=SASL_SSL://%s:%d,SSL://%s:%d,CONTROLLER://%s:%d" % (HOST, sasl_port, HOST, ssl_port, HOST, ctl_port),
        "advertised.listeners=SASL_SSL://%s:%d,SSL://%s:%d" % (HOST, sasl_port, HOST, ssl_port),
        "listener.security.protocol.map=SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name=SASL_SSL",
        "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256",
        "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
        "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=" + jaas_scram_admin,
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=" + jaas_scram_admin,
        "listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule "
        'required username="admin" password="%s" user_admin="%s" user_exporter="%s";' % (admin_pw, admin_pw, exporter_pw),
        "ssl.keystore.type=PEM",
        "ssl.keystore.location=" + os.path.join(certs, "broker-keystore.pem"),
        "ssl.truststore.type=PEM",
        "ssl.truststore.location=" + os.path.join(certs, "ca.crt"),
        "ssl.enabled.protocols=TLSv1.3",
        "ssl.protocol=TLSv1.3",
        "listener.name.ssl.ssl.client.auth=required",
        # CN=exporter -> User:exporter, the same principal as the SASL user.
        "ssl.principal.mapping.rules=RULE:^CN=([a-zA-Z0-9._-]+)$/$1/,DEFAULT",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        # ANONYMOUS: the broker's own requests on the plaintext loopback controller listener.
        "super.users=User:admin;User:ANONYMOUS",
        "allow.everyone.if.no.acl.found=false",
    ]
    voters = "%d@%s:%d" % (NODE, HOST, ctl_port)
    kafkactl.write_node_config(d, NODE, voters, sasl_port, ctl_port, 1, overrides)
    os.chmod(kafkactl.node_marker(d, NODE), 0o600)
    deadline = time.monotonic() + a.timeout
    if a.watch_pid:
        kafkactl.start_watchdog(d, a.watch_pid)
    cluster_id = kafkactl.new_cluster_id()
    # SCRAM credentials exist from the first start: format writes them into the
    # metadata log (StorageTool --add-scram). They carry passwords, so the main
    # class and its arguments go into a java @argfile (0600, removed right after):
    # the launcher expands it, /proc/<pid>/cmdline shows only "@<file>".
    args = ["format", "-t", cluster_id, "-c", kafkactl.node_marker(d, NODE)]
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        args += ["--add-scram", "%s=[name=admin,password=%s]" % (mech, admin_pw),
                 "--add-scram", "%s=[name=exporter,password=%s]" % (mech, exporter_pw)]
    argfile = os.path.join(d, "secrets", "format.args")
    fd = os.open(argfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join([kafkactl.STORAGE_TOOL] + ['"%s"' % x for x in args]) + "\n")
    cmd = kafkactl.tool_cmd(home, kafkactl.STORAGE_TOOL, [])[:-1] + ["@" + argfile]
    t_fmt = time.monotonic()
    try:
        r = kafkactl.run_bounded(cmd, timeout=max(5.0, deadline - time.monotonic()))
    finally:
        os.remove(argfile)
    if r.returncode != 0:
        out = (r.stdout + r.stderr).replace(admin_pw, "***").replace(exporter_pw, "***")
        raise kafkactl.CtlError("kafka-storage format failed:\n" + out[-3000:])
    t_fmt = time.monotonic() - t_fmt
    launched = kafkactl.launch_node(d, home, NODE)
    proc, log_file, off = launched[0], launched[1], launched[2]
    # Ready: log line, then the SASL_SSL port answers; the plaintext metadata probe of
    # kafkactl cannot be used (no plaintext client listener).
    while True:
        if proc.poll() is not None:
            raise kafkactl.CtlError("broker exited during startup:\n" + kafkactl.tail(log_file))
        started = kafkactl.log_binding(home) is None or kafkactl.log_has_started(log_file, off)
        if started and kafkactl.tcp_open(sasl_port) and kafkactl.tcp_open(ssl_port):
            break
        if time.monotonic() > deadline:
            stop_dir(d, kill=True)
            raise kafkactl.CtlError("timed out waiting for the broker:\n" + kafkactl.tail(log_file))
        time.sleep(0.25)
    info = {
        "version": v,
        "dir": d,
        "sasl_ssl": "%s:%d" % (HOST, sasl_port),
        "ssl": "%s:%d" % (HOST, ssl_port),
        "ca_file": os.path.join(certs, "ca.crt"),
        "client_cert": os.path.join(certs, "client.crt"),
        "client_key": os.path.join(certs, "client.key"),
        "admin_password_file": admin_file,
        "exporter_password_file": exporter_file,
        "log_file": log_file,
        "format_seconds": round(t_fmt, 1),
    }
    kafkactl.write_json_atomic(os.path.join(d, "secure.json"), info)
    # kafkactl's stop/status read cluster.json.
    kafkactl.save_cluster(d, {
        "version": v, "cluster_id": cluster_id, "bootstrap": info["sasl_ssl"], "dir": d,
        "nodes": [{"id": NODE, "port": sasl_port, "controller_port": ctl_port, "pid": proc.pid,
                   "state": "running", "log_dir": os.path.dirname(log_file), "log_file": log_file,
                   "data_dir": os.path.join(kafkactl.node_dir(d, NODE), "data")}],
        "watch_pid": a.watch_pid or None,
    })
    kafkactl.info("secure kafka %s ready in %.1fs (format %.1fs): SASL_SSL %s, SSL %s"
                  % (v, time.monotonic() - t0, t_fmt, info["sasl_ssl"], info["ssl"]))
    return 0


def load_info(d):
    import json
    with open(os.path.join(kafkactl.abs_dir(d), "secure.json")) as f:
        return json.load(f)


def acl_main_class(version):
    return "kafka.admin.AclCommand" if major(version) < 4 else "org.apache.kafka.tools.AclCommand"


def redact(text, info, extra=()):
    """Kafka's tools echo credentials in some errors (ConfigCommand does)."""
    for f in (info["admin_password_file"], info["exporter_password_file"]):
        try:
            text = text.replace(read_secret(f), "***")
        except OSError:
            pass
    for s in extra:
        text = text.replace(s, "***")
    return text


def run_admin_tool(info, main_class, args, timeout=120, secrets_in_use=()):
    d = info["dir"]
    home = kafkactl.kafka_home(info["version"])
    cfg = admin_client_config(d, info)
    cmd = kafkactl.tool_cmd(home, main_class, ["--bootstrap-server", info["sasl_ssl"], "--command-config", cfg] + args)
    r = kafkactl.run_bounded(cmd, timeout=timeout)
    if r.returncode != 0:
        raise kafkactl.CtlError(redact("%s %s failed:\n%s%s" % (main_class, " ".join(args), r.stdout[-2000:],
                                                               r.stderr[-2000:]), info, secrets_in_use))
    return r.stdout


def cmd_acl(a):
    info = load_info(a.dir)
    cls = acl_main_class(info["version"])
    p = ["--add", "--allow-principal", "User:exporter"]
    t0 = time.monotonic()
    if a.preset == "base":
        # cluster (Metadata), offsets (ListOffsets), consumer_groups (ListGroups,
        # DescribeGroups, OffsetFetch): DESCRIBE on Cluster, topics and groups ...
        run_admin_tool(info, cls, p + ["--operation", "Describe", "--cluster", "--topic", "*", "--group", "*"])
        # ... and DESCRIBE_CONFIGS on topics (cluster: min.insync.replicas, retention).
        run_admin_tool(info, cls, p + ["--operation", "DescribeConfigs", "--topic", "*"])
    elif a.preset == "probe":
        # probe: produce + consume its own topic, create/repair it (manage_topic).
        run_admin_tool(info, cls, p + ["--operation", "Write", "--operation", "Read", "--operation", "Describe",
                                       "--operation", "Create", "--operation", "Alter", "--topic", a.probe_topic])
        run_admin_tool(info, cls, p + ["--operation", "Describe", "--operation", "Read", "--group", a.probe_group])
    elif a.preset == "incidents":
        # incident events: an idempotent producer on incidents.topic (since Kafka
        # 3.0, WRITE on a topic implies IDEMPOTENT_WRITE, KIP-679).
        run_admin_tool(info, cls, p + ["--operation", "Write", "--operation", "Describe",
                                       "--topic", a.incidents_topic])
    else:
        raise kafkactl.CtlError("unknown preset %s" % a.preset)
    kafkactl.info("acl preset %s granted to User:exporter in %.1fs" % (a.preset, time.monotonic() - t0))
    return 0


def cmd_scram(a):
    info = load_info(a.dir)
    pw = read_secret(a.password_file)
    # Not --add-config (a command line); --add-config-file reads a 0600 file.
    d = os.path.join(info["dir"], "secrets")
    f = os.path.join(d, "scram-%s.properties" % a.user)
    fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        # Properties form: the brackets of --add-config's 'M=[password=...]' are not used here.
        out.write("%s=iterations=8192,password=%s\n" % (a.mechanism, pw))
    try:
        run_admin_tool(info, "kafka.admin.ConfigCommand" if major(info["version"]) < 4
                       else "org.apache.kafka.tools.ConfigCommand",
                       ["--alter", "--entity-type", "users", "--entity-name", a.user, "--add-config-file", f],
                       secrets_in_use=(pw,))
    finally:
        os.remove(f)
    kafkactl.info("scram credential %s of %s changed" % (a.mechanism, a.user))
    return 0


def cmd_stop(a):
    return stop_dir(kafkactl.abs_dir(a.dir))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start")
    s.add_argument("--dir", required=True)
    s.add_argument("--version")
    s.add_argument("--watch-pid", type=int, default=0)
    s.add_argument("--timeout", type=float, default=120.0)
    s.set_defaults(fn=cmd_start)
    s = sub.add_parser("acl")
    s.add_argument("--dir", required=True)
    s.add_argument("--preset", required=True, choices=["base", "probe", "incidents"])
    s.add_argument("--probe-topic", default="__dora_kafka_exporter_probe")
    s.add_argument("--probe-group", default="dora-kafka-exporter-probe")
    s.add_argument("--incidents-topic", default="incident-events")
    s.set_defaults(fn=cmd_acl)
    s = sub.add_parser("scram")
    s.add_argument("--dir", required=True)
    s.add_argument("--user", required=True)
    s.add_argument("--mechanism", default="SCRAM-SHA-256")
    s.add_argument("--password-file", required=True)
    s.set_defaults(fn=cmd_scram)
    s = sub.add_parser("stop")
    s.add_argument("--dir", required=True)
    s.set_defaults(fn=cmd_stop)
    a = p.parse_args(argv)
    try:
        return a.fn(a)
    except kafkactl.CtlError as e:
        kafkactl.warn(str(e))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
