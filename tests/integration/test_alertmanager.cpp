// The Alertmanager push (alerting/notifier.h) against a real Alertmanager
// (Debian's prometheus-alertmanager, the shipped config/alertmanager.yml with
// shorter group timings) and a webhook receiver, both on loopback and started
// and stopped here. The notifier is driven by a test AlertSource.
#include <prometheus/registry.h>
// GCC 12 at -O2 sees a null dereference inside nlohmann's getters here (a
// false positive; tests/integration/test_connect.cpp avoids them instead).
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <catch2/catch.hpp>
#include <cstdio>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "alerting/format.h"
#include "alerting/notifier.h"
#include "support/alertmanager.h"
#include "support/daemon.h"

using namespace dora;
using namespace dora::alerting;
using namespace std::chrono_literals;
using dora::test::AlertmanagerProcess;
using dora::test::HookServer;
using dora::test::TestAlerts;
using json = nlohmann::json;

namespace {

using Steady = std::chrono::steady_clock;

NotifierOptions Options(const std::string& url) {
  NotifierOptions o;
  AlertmanagerEndpoint am;
  am.name = "am";
  am.url = url;
  am.timeout = 5s;
  o.alertmanagers = {am};
  o.resend_delay = 1s;
  o.evaluation_interval = 1s;
  o.poll_interval = 100ms;
  o.initial_backoff = 200ms;
  o.max_backoff = 1s;
  o.external_labels = {{"cluster", "test-cluster"}};
  return o;
}

Alert Firing(Labels labels, Labels annotations) {
  Alert a;
  a.labels = std::move(labels);
  a.annotations = std::move(annotations);
  a.state = AlertState::kFiring;
  a.value = 3;
  const SysTime now = std::chrono::system_clock::now();
  a.active_at = now - 20s;
  a.fired_at = now - 10s;
  return a;
}

// The webhook notifications (JSON bodies) with `status`.
std::vector<json> Notifications(const std::vector<HookServer::Post>& posts, const std::string& status) {
  std::vector<json> out;
  for (const auto& p : posts) {
    json body = json::parse(p.body, nullptr, false);
    if (!body.is_discarded() && body.value("status", "") == status) out.push_back(body);
  }
  return out;
}

double Ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = Steady::now() + timeout;
  while (Steady::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

}  // namespace

TEST_CASE("alertmanager: the firing and then the resolved notification reach the webhook, labels exact",
          "[alertmanager]") {
  REQUIRE_FALSE(AlertmanagerProcess::Binary().empty());
  HookServer hook;
  AlertmanagerProcess am(hook.port());
  INFO(am.log());
  REQUIRE(am.Start());
  TestAlerts source;
  prometheus::Registry registry;
  NotifierMetrics metrics(registry);
  const Labels labels = {
      {"alertname", "KafkaBrokersMissing"}, {"severity", "page"}, {"instance", "kx-a:9308"}};
  const Labels annotations = {{"summary", "1 of 3 brokers missing"},
                              {"description", "Brokers seen: 2, expected: 3."},
                              {"runbook_url", "docs/runbooks.md#kafkabrokersmissing"}};
  Alert alert = Firing(labels, annotations);
  source.Set({alert});
  Notifier n(&source, Options(am.url()), &metrics);
  const auto start = Steady::now();
  n.Start();

  REQUIRE(hook.WaitFor([](const auto& p) { return !Notifications(p, "firing").empty(); }, 20s));
  const double firing_ms = Ms(Steady::now() - start);
  json firing = Notifications(hook.posts(), "firing").front();
  CHECK(firing["receiver"] == "pager");
  REQUIRE(firing["alerts"].size() == 1);
  Labels want = labels;
  want["cluster"] = "test-cluster";
  CHECK(firing["alerts"][0]["labels"] == json(want));
  CHECK(firing["alerts"][0]["annotations"] == json(annotations));
  CHECK(firing["alerts"][0]["status"] == "firing");
  CHECK(firing["alerts"][0]["startsAt"].get<std::string>().substr(0, 19) ==
        Rfc3339Millis(alert.fired_at).substr(0, 19));

  Alert resolved = alert;
  resolved.state = AlertState::kResolved;
  resolved.resolved_at = std::chrono::system_clock::now();
  const auto resolve_start = Steady::now();
  source.Set({resolved});
  n.Wake();
  REQUIRE(hook.WaitFor([](const auto& p) { return !Notifications(p, "resolved").empty(); }, 20s));
  const double resolved_ms = Ms(Steady::now() - resolve_start);
  json done = Notifications(hook.posts(), "resolved").front();
  REQUIRE(done["alerts"].size() == 1);
  CHECK(done["alerts"][0]["labels"] == json(want));
  CHECK(done["alerts"][0]["annotations"] == json(annotations));
  CHECK(done["alerts"][0]["status"] == "resolved");
  CHECK(done["alerts"][0]["endsAt"].get<std::string>().substr(0, 19) ==
        Rfc3339Millis(resolved.resolved_at).substr(0, 19));
  n.Stop();
  CHECK(Notifications(hook.posts(), "firing").size() == 1);  // re-sends made no new notification
  CHECK(metrics.sent("am").Value() >= 2);
  CHECK(metrics.failed("am").Value() == 0);
  std::cout << "alertmanager: notifier start -> firing webhook " << firing_ms
            << " ms, resolve -> resolved webhook " << resolved_ms
            << " ms (group_wait 1s, group_interval 1s)\n";
}

TEST_CASE("alertmanager: one that is down at first gets the alerts once it starts, a full queue counts drops",
          "[alertmanager]") {
  REQUIRE_FALSE(AlertmanagerProcess::Binary().empty());
  HookServer hook;
  AlertmanagerProcess am(hook.port());  // not started yet: its port refuses connections
  TestAlerts source;
  prometheus::Registry registry;
  NotifierMetrics metrics(registry);
  NotifierOptions o = Options(am.url());
  o.resend_delay = 1h;  // what arrives below was queued while Alertmanager was down
  o.queue_capacity = 10;
  std::vector<Alert> alerts;
  for (int i = 0; i < 25; ++i) {
    char group[8];
    std::snprintf(group, sizeof group, "g%02d", i);
    alerts.push_back(
        Firing({{"alertname", "KafkaConsumerGroupLag"}, {"severity", "page"}, {"consumergroup", group}},
               {{"summary", std::string("lag of ") + group}}));
  }
  source.Set(alerts);
  Notifier n(&source, o, &metrics);
  n.Start();
  REQUIRE(WaitUntil([&] { return metrics.failed("am").Value() >= 10 && metrics.dropped("am").Value() == 15; },
                    10s));
  CHECK(metrics.sent("am").Value() == 0);
  CHECK(n.queued(0) == 10);

  INFO(am.log());
  const auto up = Steady::now();
  REQUIRE(am.Start());
  REQUIRE(WaitUntil([&] { return metrics.sent("am").Value() == 10; }, 20s));
  const double delivered_ms = Ms(Steady::now() - up);
  json in_am = json::parse(am.Alerts());
  std::set<std::string> groups;
  for (const auto& a : in_am) groups.insert(a["labels"]["consumergroup"]);
  std::set<std::string> newest;
  for (int i = 15; i < 25; ++i) newest.insert("g" + std::to_string(i));
  CHECK(groups == newest);  // the 15 oldest were dropped, the 10 newest delivered
  REQUIRE(hook.WaitFor(
      [](const auto& p) {
        std::set<std::string> seen;
        for (const auto& body : Notifications(p, "firing"))
          for (const auto& a : body["alerts"]) seen.insert(a["labels"]["consumergroup"]);
        return seen.size() == 10;
      },
      20s));
  n.Stop();
  CHECK(metrics.failed("am").Value() > 0);
  CHECK(metrics.dropped("am").Value() == 15);
  CHECK(metrics.queue_length("am").Value() == 0);
  std::cout << "alertmanager: started after " << metrics.failed("am").Value()
            << " failed alert sends; queue delivered " << delivered_ms << " ms after it was ready\n";
}

TEST_CASE("alertmanager: two daemons of an HA pair sending the same alert make one notification",
          "[alertmanager]") {
  REQUIRE_FALSE(AlertmanagerProcess::Binary().empty());
  HookServer hook;
  AlertmanagerProcess am(hook.port());
  INFO(am.log());
  REQUIRE(am.Start());
  TestAlerts source;  // both evaluate the same cluster: the same alert
  prometheus::Registry r1, r2;
  NotifierMetrics m1(r1), m2(r2);
  source.Set({Firing({{"alertname", "KafkaTopicPartitionOffline"},
                      {"severity", "page"},
                      {"topic", "audit-logs"},
                      {"partition", "3"}},
                     {{"summary", "audit-logs/3 has no leader"}})});
  Notifier a(&source, Options(am.url()), &m1);
  Notifier b(&source, Options(am.url()), &m2);
  a.Start();
  b.Start();
  REQUIRE(hook.WaitFor([](const auto& p) { return !Notifications(p, "firing").empty(); }, 20s));
  // Both keep re-sending every second; Alertmanager keeps one alert and one notification.
  REQUIRE(WaitUntil([&] { return m1.sent("am").Value() >= 3 && m2.sent("am").Value() >= 3; }, 10s));
  std::this_thread::sleep_for(2s);  // two more group intervals
  a.Stop();
  b.Stop();
  const auto firing = Notifications(hook.posts(), "firing");
  CHECK(firing.size() == 1);
  REQUIRE_FALSE(firing.empty());
  CHECK(firing[0]["alerts"].size() == 1);
  CHECK(json::parse(am.Alerts()).size() == 1);
}
