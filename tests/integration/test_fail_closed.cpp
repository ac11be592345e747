// Fail closed: the real daemon binary against real files. A web config that
// becomes empty, a comment, {} or a directory must never turn authentication
// off while running; a directory is never read as an empty file; duplicate
// keys and validation errors name their file:line:column. No broker needed:
// the daemon points at a dead port.
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "http/basic_auth.h"
#include "http/web_config.h"
#include "support/daemon.h"
#include "support/temp_dir.h"

using namespace dora::test;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> QuietArgs(const TempDir& dir, std::vector<std::string> extra) {
  std::string cfg = dir.Write("exporter.yaml",
                              "collectors:\n  cluster: {interval: 1s, timeout: 1s}\n"
                              "  offsets: {enabled: false}\n  consumer_groups: {enabled: false}\n");
  std::vector<std::string> args = {"--config", cfg, DeadBroker()};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// Status of GET path with (or without, user empty) basic auth; 0: no answer.
int Get(int port, const std::string& path, const std::string& user = "", const std::string& pw = "",
        std::string* body = nullptr) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(2, 0);
  cli.set_read_timeout(10, 0);
  if (!user.empty()) cli.set_basic_auth(user.c_str(), pw.c_str());
  auto res = cli.Get(path.c_str());
  if (!res) return 0;
  if (body) *body = res->body;
  return res->status;
}

double WebReloadOk(int port, const std::string& user, const std::string& pw) {
  std::string body;
  if (Get(port, "/metrics", user, pw, &body) != 200) return -1;
  for (const auto& s : ParseExposition(body))
    if (s.name == "kafka_exporter_web_config_last_reload_successful") return s.value;
  return -1;
}

}  // namespace

TEST_CASE("fail closed: a web config emptied, commented out, {} or a directory keeps basic auth on",
          "[daemon][web][fail-closed]") {
  TempDir dir("dora-failclosed");
  const std::string hash = dora::BcryptHash("s3cret-pw", 5);
  const std::string good = "basic_auth_users:\n  alice: " + hash + "\n";
  std::string web = dir.Write("web.yml", good);
  Daemon d(QuietArgs(dir, {"--web.config.file", web}));
  bool up = false;  // /healthz needs the credentials too (exporter-toolkit semantics)
  for (int i = 0; i < 200 && !up; ++i) {
    up = Get(d.port(), "/healthz", "alice", "s3cret-pw") == 200;
    if (!up) std::this_thread::sleep_for(50ms);
  }
  REQUIRE(up);
  REQUIRE(Get(d.port(), "/metrics") == 401);
  REQUIRE(Get(d.port(), "/metrics", "alice", "s3cret-pw") == 200);
  CHECK(WebReloadOk(d.port(), "alice", "s3cret-pw") == 1.0);

  // Each bad edit: unauthenticated requests stay 401 for a while after it
  // (every request re-checks the file), the reload is reported as failed,
  // and the old credentials keep working.
  auto expect_refused = [&](const std::string& what) {
    INFO(what);
    int unauthenticated_ok = 0, refused = 0;
    for (int i = 0; i < 30; ++i) {
      int status = Get(d.port(), "/healthz");
      if (status == 200) ++unauthenticated_ok;
      if (status == 401) ++refused;
      std::this_thread::sleep_for(20ms);
    }
    CHECK(unauthenticated_ok == 0);
    CHECK(refused == 30);
    CHECK(Get(d.port(), "/metrics", "alice", "s3cret-pw") == 200);
    CHECK(WebReloadOk(d.port(), "alice", "s3cret-pw") == 0.0);
    // A good file applies again (and resets the metric).
    unlink(web.c_str());
    rmdir(web.c_str());
    dir.Write("web.yml", good + "# " + what + "\n");
    bool applied = false;
    for (int i = 0; i < 100 && !applied; ++i) {
      applied = WebReloadOk(d.port(), "alice", "s3cret-pw") == 1.0;
      if (!applied) std::this_thread::sleep_for(50ms);
    }
    CHECK(applied);
  };

  SECTION("truncated to nothing") {
    std::ofstream(web, std::ios::trunc).flush();
    expect_refused("truncated");
  }
  SECTION("{}") {
    dir.Write("web.yml", "{}\n");
    expect_refused("{}");
  }
  SECTION("only comments") {
    dir.Write("web.yml", "# basic_auth_users:\n#   alice: x\n");
    expect_refused("comments");
  }
  SECTION("replaced by a directory") {
    unlink(web.c_str());
    REQUIRE(mkdir(web.c_str(), 0700) == 0);
    expect_refused("directory");
  }
  SECTION("rewritten in place (truncate, then write) under a stream of requests") {
    std::atomic<bool> stop{false};
    std::atomic<int> open{0}, total{0};
    std::thread hammer([&] {
      for (int i = 0; i < 5000 && !stop.load(); ++i) {
        int status = Get(d.port(), "/healthz");
        ++total;
        if (status == 200) ++open;
      }
    });
    for (int round = 0; round < 10; ++round) {
      {
        std::ofstream out(web, std::ios::trunc);  // what `cat new > web.yml` does first
        out.flush();
        std::this_thread::sleep_for(100ms);
        out << good;
      }
      std::this_thread::sleep_for(100ms);
    }
    stop.store(true);
    hammer.join();
    INFO("requests " << total.load());
    CHECK(total.load() > 20);
    CHECK(open.load() == 0);
    CHECK(Get(d.port(), "/metrics", "alice", "s3cret-pw") == 200);
  }
  INFO(d.Log());
  CHECK(d.Running());
  CHECK(d.Log().find("s3cret-pw") == std::string::npos);
}

TEST_CASE("fail closed: a web config without auth may gain it live, and keeps it",
          "[daemon][web][fail-closed]") {
  TempDir dir("dora-failclosed");
  std::string web = dir.Write("web.yml", "{}\n");  // starting without auth is allowed, as in exporter-toolkit
  Daemon d(QuietArgs(dir, {"--web.config.file", web}));
  REQUIRE(d.WaitHealthy());
  REQUIRE(Get(d.port(), "/metrics") == 200);
  dir.Write("web.yml", "basic_auth_users:\n  bob: " + dora::BcryptHash("pw-of-bob", 5) + "\n");
  bool on = false;
  for (int i = 0; i < 100 && !on; ++i) {
    on = Get(d.port(), "/metrics") == 401;
    if (!on) std::this_thread::sleep_for(50ms);
  }
  REQUIRE(on);
  dir.Write("web.yml", "{}\n");
  for (int i = 0; i < 20; ++i) CHECK(Get(d.port(), "/metrics") == 401);
  INFO(d.Log());
  CHECK(d.Log().find("refused: it would turn basic authentication off") != std::string::npos);
}

TEST_CASE("fail closed: a directory is never read as a file", "[daemon][fail-closed]") {
  TempDir dir("dora-failclosed");
  std::string sub = dir.P("adir");
  REQUIRE(mkdir(sub.c_str(), 0700) == 0);

  auto r = RunExporter({"--config", sub, "--check-config"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(sub + ": cannot read config file (--config): is a directory") != std::string::npos);
  CHECK(r.out.find("configuration OK") == std::string::npos);

  r = RunExporter({"--web.config.file", sub, DeadBroker(), "--check-config"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(sub + ": cannot read web config file (web.config_file): is a directory") !=
        std::string::npos);
  // At start too: never plain HTTP without auth.
  r = RunExporter({"--web.config.file", sub, DeadBroker(), "--web.listen-address=127.0.0.1:0"}, 30s);
  CHECK(r.exit_code == 2);

  std::string props = dir.Write("props.yaml", "kafka:\n  property_files:\n    sasl.password: " + sub + "\n");
  r = RunExporter({"--config", props, DeadBroker(), "--check-config"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(props + ":3:5: kafka.property_files.sasl.password: cannot read \"" + sub +
                   "\": is a directory") != std::string::npos);

  // SIGHUP onto a config that became a directory keeps the running one.
  std::string cfg = dir.Write("reload.yaml",
                              "collectors:\n  cluster: {interval: 1s, timeout: 1s}\n"
                              "  offsets: {enabled: false}\n  consumer_groups: {enabled: false}\n");
  Daemon d({"--config", cfg, DeadBroker()});
  REQUIRE(d.WaitHealthy());
  REQUIRE(Find(d.Samples(), "kafka_exporter_config_last_reload_successful") == 1.0);
  unlink(cfg.c_str());
  REQUIRE(mkdir(cfg.c_str(), 0700) == 0);
  d.Signal(SIGHUP);
  REQUIRE(d.WaitFor(
      [](const auto& x) { return Find(x, "kafka_exporter_config_last_reload_successful") == 0.0; }, 15s));
  CHECK(d.Running());
  INFO(d.Log());
  CHECK(d.Log().find(cfg + ": cannot read config file (--config): is a directory") != std::string::npos);
}

TEST_CASE("fail closed: duplicate keys are errors naming both places", "[daemon][fail-closed]") {
  TempDir dir("dora-failclosed");
  std::string cfg = dir.Write("dup.yaml",
                              "log:\n  level: info\n  level: debug\n"
                              "kafka:\n  properties:\n    acks: all\n    acks: \"1\"\n");
  auto r = RunExporter({"--config", cfg, "--check-config"});
  CHECK(r.exit_code == 2);
  INFO(r.err);
  CHECK(r.err.find(cfg + ":3:3: duplicate key \"level\" (first at " + cfg + ":2:3)") != std::string::npos);
  CHECK(r.err.find(cfg + ":7:5: duplicate key \"acks\" (first at " + cfg + ":6:5)") != std::string::npos);

  std::string h = dora::BcryptHash("pw", 5);
  std::string web = dir.Write("web.yml", "basic_auth_users:\n  alice: " + h + "\n  alice: " + h + "\n");
  r = RunExporter({"--web.config.file", web, DeadBroker(), "--check-config"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(web + ":3:3: duplicate key \"alice\" (first at " + web + ":2:3)") != std::string::npos);
}

TEST_CASE("fail closed: every validation error names file:line:column", "[daemon][fail-closed]") {
  TempDir dir("dora-failclosed");
  // Each line below is wrong in a different way, found only after parsing.
  auto text = [](const std::string& interval) {
    return "kafka:\n"                              // 1
           "  properties:\n"                       // 2
           "    not.a.librdkafka.property: 1\n"    // 3
           "web:\n"                                // 4
           "  listen_address: nowhere\n"           // 5
           "collectors:\n"                         // 6
           "  offsets:\n"                          // 7
           "    partitions_per_request: 0\n"       // 8
           "    topics:\n"                         // 9
           "      include: ['ok', '(unclosed']\n"  // 10
           "  consumer_groups:\n"                  // 11
           "    granularity: broker\n"             // 12
           "    status_window: 1\n"                // 13
           "    interval: " +
           interval + "\n";  // 14
  };
  std::string cfg = dir.Write("invalid.yaml", text("48h"));
  auto r = RunExporter({"--config", cfg, DeadBroker(), "--check-config"});
  CHECK(r.exit_code == 2);
  INFO(r.err);
  CHECK(r.err.find(cfg + ":14:15: collectors.consumer_groups.interval: must be at most 24h") !=
        std::string::npos);
  // The duration error is structural: fix it, and the semantic errors show with their places.
  dir.Write("invalid.yaml", text("30s"));
  r = RunExporter({"--config", cfg, DeadBroker(), "--check-config"});
  CHECK(r.exit_code == 2);
  INFO(r.err);
  CHECK(
      r.err.find(cfg + ":3:5: kafka.properties.not.a.librdkafka.property: No such configuration property") !=
      std::string::npos);
  CHECK(r.err.find(cfg + ":5:3: web.listen_address: expected HOST:PORT") != std::string::npos);
  CHECK(r.err.find(cfg + ":8:5: collectors.offsets.partitions_per_request: must be between") !=
        std::string::npos);
  CHECK(r.err.find(cfg + ":10:23: collectors.offsets.topics.include[1]: invalid regular expression") !=
        std::string::npos);
  CHECK(r.err.find(
            cfg + ":12:5: collectors.consumer_groups.granularity: expected one of mixed, partition, topic") !=
        std::string::npos);
  CHECK(r.err.find(cfg + ":13:5: collectors.consumer_groups.status_window: must be between") !=
        std::string::npos);
  // A flag is named as the place of what it set.
  r = RunExporter({"--log.level", "loud", DeadBroker(), "--check-config"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("flag --log.level: log.level: expected one of") != std::string::npos);
}
