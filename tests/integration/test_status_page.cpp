// The status page (GET /) in a real browser: a daemon watching a real broker,
// a group lagging past a lowered KafkaConsumerGroupLagHigh threshold (for: 0s)
// so the alert fires, then headless Chromium (Debian's `chromium`) loads `/`
// and the assertions read its DOM: the firing alert, and the top lagging group
// with its lag. The group's name holds markup, so the DOM also shows that it
// stayed text. Skipped, with a message, when chromium is not installed.
// And, without a broker, the page with alerting off.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "support/daemon.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"
#include "support/temp_dir.h"

using namespace dora::test;
using namespace std::chrono_literals;

namespace {

std::string Chromium() {
  for (const char* path : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (access(path, X_OK) == 0) return path;
  return "";
}

// `chromium --headless --dump-dom url`: the DOM after load, serialized. Bounded
// by timeout(1); its own profile dir, so parallel runs do not share a lock.
std::string DumpDom(const std::string& chromium, const std::string& url, const TempDir& dir, int* status) {
  const std::string cmd = "timeout -k 5 60 " + chromium +
                          " --headless --disable-gpu --no-sandbox --disable-dev-shm-usage --no-first-run "
                          "--user-data-dir='" +
                          dir.P("profile") + "' --dump-dom '" + url + "' 2>'" + dir.P("chromium.log") + "'";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int rc = pclose(p);
  *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

// The <tr>...</tr> around the first occurrence of `needle`, or "".
std::string RowWith(const std::string& dom, const std::string& needle) {
  const size_t at = dom.find(needle);
  if (at == std::string::npos) return "";
  const size_t begin = dom.rfind("<tr", at);
  const size_t end = dom.find("</tr>", at);
  if (begin == std::string::npos || end == std::string::npos) return "";
  return dom.substr(begin, end + 5 - begin);
}

bool LagFiring(const std::vector<Sample>& s) {
  for (const Sample& x : s) {
    auto l = x.labels;
    if (x.name == "ALERTS" && x.value == 1 && l["alertname"] == "KafkaConsumerGroupLagHigh" &&
        l["alertstate"] == "firing")
      return true;
  }
  return false;
}

}  // namespace

TEST_CASE("the status page in headless Chromium shows the firing alert and the top lagging group",
          "[kafka][alerting][status-page]") {
  const std::string chromium = Chromium();
  if (chromium.empty()) {
    WARN(
        "SKIPPED: chromium is not installed (apt-get install chromium; scripts/install-deps.sh installs it)");
    return;
  }
  TempDir dir("dora-status");
  auto kafka = KafkaCluster::Start(1);
  kafka->CreateTopic("orders", 1, 1);
  // Markup in a group name (user input): it must reach the DOM as text.
  const std::string lagging = "lag<b>&co";
  REQUIRE(ProduceMessages(kafka->bootstrap(), "orders", 12000) == 12000);
  REQUIRE(ConsumeAndCommit(kafka->bootstrap(), "orders", lagging, 500) == 500);           // lag 11,500
  REQUIRE(ConsumeAndCommit(kafka->bootstrap(), "orders", "keeping-up", 11000) == 11000);  // lag 1,000
  const std::string cfg = dir.Write("exporter.yaml",
                                    "collectors:\n"
                                    "  cluster: {interval: 1s, timeout: 5s}\n"
                                    "  offsets: {interval: 1s, timeout: 5s}\n"
                                    "  consumer_groups: {interval: 1s, timeout: 8s}\n"
                                    "alerting:\n"
                                    "  rules:\n"
                                    "    KafkaConsumerGroupLagHigh: {for: 0s, threshold: 5000}\n");
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  INFO(d.Log());
  REQUIRE(d.WaitFor(LagFiring, 20s));

  int status = -1;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string dom =
      DumpDom(chromium, "http://127.0.0.1:" + std::to_string(d.port()) + "/", dir, &status);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string log;
  if (FILE* f = std::fopen(dir.P("chromium.log").c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) log.append(buf, n);
    std::fclose(f);
  }
  INFO("chromium exit " << status << ", " << took << " s; stderr:\n" << log.substr(0, 4000));
  INFO("DOM:\n" << dom);
  REQUIRE(status == 0);
  REQUIRE(dom.find("<title>") != std::string::npos);
  WARN("chromium --dump-dom of / took " << took << " s, DOM " << dom.size() << " bytes");

  // The firing alert: its state, name and (escaped) group in one row.
  const std::string escaped = "lag&lt;b&gt;&amp;co";
  const std::string alert = RowWith(dom, "<td>KafkaConsumerGroupLagHigh</td>");
  CHECK(alert.find("firing") != std::string::npos);
  CHECK(alert.find("consumergroup=" + escaped) != std::string::npos);
  CHECK(alert.find("Consumer group " + escaped + " lags more than") != std::string::npos);
  CHECK(dom.find("<title>1 firing - dora-kafka-exporter</title>") != std::string::npos);
  // The top lagging group: rank 1, its name as text, its lag.
  const std::string top = RowWith(dom, "<td class=\"n\">1</td><td>");
  CHECK(top.find("<td>" + escaped + "</td>") != std::string::npos);
  CHECK(top.find("<td class=\"n\">11,500</td>") != std::string::npos);
  CHECK(RowWith(dom, "<td>keeping-up</td>").find("<td class=\"n\">1,000</td>") != std::string::npos);
  CHECK(dom.find("lag<b>") == std::string::npos);  // no element made from the name
  // Cluster health and the collectors.
  CHECK(RowWith(dom, "<th>Brokers</th>").find("<th>Offline partitions</th>") != std::string::npos);
  CHECK(dom.find("<td class=\"n\">1</td><td class=\"n\">0</td>") != std::string::npos);  // 1 broker, 0 URP
  CHECK(RowWith(dom, "<td>consumer_groups</td>").find("ok") != std::string::npos);
  CHECK(dom.find("<meta http-equiv=\"refresh\" content=\"10\">") != std::string::npos);
}

TEST_CASE("the status page works with alerting off: collectors' runs are shown, no ALERTS series",
          "[daemon][status-page]") {
  TempDir dir("dora-status");
  const std::string cfg = dir.Write("exporter.yaml",
                                    "collectors:\n"
                                    "  cluster: {interval: 1s, timeout: 2s}\n"
                                    "  offsets: {interval: 1s, timeout: 2s}\n"
                                    "  consumer_groups: {interval: 1s, timeout: 2s}\n"
                                    "retry: {initial_backoff: 200ms, max_backoff: 1s}\n"
                                    "alerting: {enabled: false}\n");
  Daemon d({"--config", cfg, DeadBroker()});
  REQUIRE(d.WaitHealthy());
  INFO(d.Log());
  // The runner hands its runs to the evaluator even with alerting off: the
  // page lists the failed cluster collector (a page without them would say
  // that no collector has finished a run).
  HttpReply page;
  const std::string failed = "<tr><td>cluster</td><td class=\"bad\">failed";
  for (int i = 0; i < 100; ++i) {
    page = HttpGet(d.port(), "/");
    if (page.status == 200 && page.body.find(failed) != std::string::npos) break;
    std::this_thread::sleep_for(200ms);
  }
  INFO(page.body);
  REQUIRE(page.status == 200);
  CHECK(page.body.find(failed) != std::string::npos);
  CHECK(page.body.find("No alert rule is evaluated") != std::string::npos);
  CHECK(page.body.find("The cluster collector has not published yet") != std::string::npos);
  CHECK(page.body.find("<td class=\"bad\">never</td>") != std::string::npos);
  for (const Sample& s : d.Samples()) CHECK(s.name.rfind("ALERTS", 0) != 0);
  CHECK(HttpGet(d.port(), "/api/v1/alerts").body == R"({"status":"success","data":{"alerts":[]}})");
}
