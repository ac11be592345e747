// The status page (GET /): the evaluator's StatusView (alerting/status_view.h)
// built from tapped samples and runs, and its HTML (http/status_page.h):
// escaping, the sections, and its size at L (2,000 groups).
#include <catch2/catch.hpp>

#include <chrono>

#include "alerting/evaluator.h"
#include "http/status_page.h"

using namespace dora;
using namespace dora::alerting;
using std::chrono::seconds;

namespace {

AlertingConfig NoRules() {
  AlertingConfig c;
  c.rules.clear();
  return c;
}

// A consumer_groups run: `groups` with `topics` topics each; group i's lag on
// each topic is lag(i), its lag in seconds i, its status OK.
RunInputs GroupsRun(size_t groups, size_t topics, double (*lag)(size_t)) {
  RunInputs run;
  run.collector = "consumer_groups";
  run.published = true;
  run.success = true;
  auto& sums = run.samples["kafka_consumergroup_lag_sum"];
  auto& secs = run.samples["kafka_consumergroup_max_lag_seconds"];
  auto& status = run.samples["kafka_consumergroup_status"];
  for (size_t i = 0; i < groups; ++i) {
    const std::string g = "group-" + std::to_string(i);
    for (size_t t = 0; t < topics; ++t)
      sums.push_back({{{"consumergroup", g}, {"topic", "topic-" + std::to_string(t)}}, lag(i)});
    secs.push_back({{{"consumergroup", g}}, static_cast<double>(i)});
    status.push_back({{{"consumergroup", g}, {"status", "OK"}}, 1});
  }
  return run;
}

RunInputs ClusterRun(double brokers, double urp, double under_min_isr, double offline) {
  RunInputs run;
  run.collector = "cluster";
  run.published = true;
  run.success = true;
  run.samples["kafka_brokers"] = {{{}, brokers}};
  run.samples["kafka_cluster_under_replicated_partitions"] = {{{}, urp}};
  run.samples["kafka_cluster_under_min_isr_partitions"] = {{{}, under_min_isr}};
  run.samples["kafka_cluster_offline_partitions"] = {{{}, offline}};
  return run;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE("the status view ranks groups by their lag summed over topics, with seconds and status",
          "[status-page]") {
  Samples in;
  in["kafka_consumergroup_lag_sum"] = {{{{"consumergroup", "a"}, {"topic", "t1"}}, 100},
                                       {{{"consumergroup", "a"}, {"topic", "t2"}}, 150},
                                       {{{"consumergroup", "b"}, {"topic", "t1"}}, 400},
                                       {{{"consumergroup", "c"}, {"topic", "t1"}}, 250},
                                       {{{"consumergroup", "d"}, {"topic", "t1"}}, 7}};
  in["kafka_consumergroup_max_lag_seconds"] = {{{{"consumergroup", "b"}}, 42.5},
                                               {{{"consumergroup", "d"}}, 1}};
  in["kafka_consumergroup_status"] = {{{{"consumergroup", "b"}, {"status", "ERR"}}, 1},
                                      {{{"consumergroup", "a"}, {"status", "WARN"}}, 1}};
  in["kafka_brokers"] = {{{}, 3}};
  in["kafka_cluster_offline_partitions"] = {{{}, 2}};
  StatusView v = BuildStatusView(in, {}, 3);
  CHECK(v.groups == 4);
  REQUIRE(v.top_groups.size() == 3);
  // a (250) and c (250) tie: by name.
  CHECK(v.top_groups[0].group == "b");
  CHECK(v.top_groups[0].lag == 400);
  CHECK(v.top_groups[0].lag_seconds == 42.5);
  CHECK(v.top_groups[0].status == "ERR");
  CHECK(v.top_groups[1].group == "a");
  CHECK(v.top_groups[1].lag == 250);
  CHECK(v.top_groups[1].lag_seconds < 0);  // no estimate yet
  CHECK(v.top_groups[1].status == "WARN");
  CHECK(v.top_groups[2].group == "c");
  CHECK(v.top_groups[2].status.empty());
  CHECK(v.brokers == 3);
  CHECK(v.offline == 2);
  CHECK(v.under_replicated < 0);  // never published: unknown, not 0
  CHECK(v.under_min_isr < 0);
}

TEST_CASE("the evaluator keeps the status page's samples and runs with no alert rule",
          "[status-page][alerting]") {
  SysTime now = SysTime(seconds(1'700'000'000));
  Evaluator eval(NoRules(), nullptr, [&now] { return now; });
  // The page's families are tapped beside the rules'; per-partition ones are not.
  const auto& tapped = eval.TappedFamilies();
  for (const char* f :
       {"kafka_consumergroup_lag_sum", "kafka_consumergroup_max_lag_seconds", "kafka_consumergroup_status",
        "kafka_brokers", "kafka_cluster_under_replicated_partitions",
        "kafka_cluster_under_min_isr_partitions", "kafka_cluster_offline_partitions"}) {
    INFO(f);
    CHECK(tapped.count(f) == 1);
  }
  for (const char* f :
       {"kafka_consumergroup_lag", "kafka_consumergroup_lag_seconds", "kafka_consumergroup_current_offset",
        "kafka_topic_partition_under_replicated_partition"}) {
    INFO(f);
    CHECK(tapped.count(f) == 0);
  }
  for (const std::string& f : TappedFamilies()) CHECK(tapped.count(f) == 1);

  CHECK(eval.Status().collectors.empty());
  const SysTime t0 = now;
  eval.OnRun(ClusterRun(3, 1, 0, 0));
  eval.OnRun(GroupsRun(12, 2, [](size_t i) { return static_cast<double>(i * 10); }));
  StatusView v = eval.Status();
  CHECK(v.rules == 0);
  CHECK(v.brokers == 3);
  CHECK(v.under_replicated == 1);
  CHECK(v.groups == 12);
  REQUIRE(v.top_groups.size() == kTopGroups);
  CHECK(v.top_groups[0].group == "group-11");
  CHECK(v.top_groups[0].lag == 220);
  CHECK(v.top_groups[0].lag_seconds == 11);
  CHECK(v.top_groups[0].status == "OK");
  CHECK(v.top_groups[9].group == "group-2");
  CHECK(eval.Current()->alerts.empty());

  // A failed run keeps the last samples and success time, and says it failed.
  now += seconds(30);
  RunInputs failed;
  failed.collector = "cluster";
  eval.OnRun(failed);
  v = eval.Status();
  CHECK(v.brokers == 3);
  REQUIRE(v.collectors.size() == 2);
  CHECK(v.collectors[0].name == "cluster");
  CHECK_FALSE(v.collectors[0].success);
  CHECK(v.collectors[0].last_run == t0 + seconds(30));
  CHECK(v.collectors[0].last_success == t0);
  CHECK(v.collectors[0].last_publish == t0);
  CHECK(v.collectors[1].name == "consumer_groups");
  CHECK(v.collectors[1].success);

  // The next published run replaces them as a whole: a family it lacks is gone.
  RunInputs partial = ClusterRun(2, 0, 0, 0);
  partial.samples.erase("kafka_cluster_under_min_isr_partitions");
  eval.OnRun(partial);
  v = eval.Status();
  CHECK(v.brokers == 2);
  CHECK(v.under_min_isr < 0);

  // A run that kept its published text: the samples stand, confirmed now.
  now += seconds(10);
  RunInputs kept;
  kept.collector = "cluster";
  kept.kept = true;
  kept.success = true;
  eval.OnRun(kept);
  v = eval.Status();
  CHECK(v.brokers == 2);
  CHECK(v.collectors[0].last_publish == now);
  CHECK(v.collectors[0].success);

  eval.Forget("cluster");
  v = eval.Status();
  CHECK(v.brokers < 0);
  REQUIRE(v.collectors.size() == 1);
  CHECK(v.collectors[0].name == "consumer_groups");
}

TEST_CASE("the status page escapes group names, labels and summaries from outside", "[status-page][http]") {
  AlertingConfig config;
  config.rules.at("KafkaConsumerGroupLagHigh").threshold = 100;
  config.rules.at("KafkaConsumerGroupLagHigh").for_duration = seconds(0);
  config.rules.at("KafkaConsumerGroupLagHigh").labels = {{"team", "<b>ops</b> & co"}};
  SysTime now = SysTime(seconds(1'700'000'000));
  Evaluator eval(config, nullptr, [&now] { return now; });
  const std::string evil = "<script>alert('x')</script>&payments";
  RunInputs run;
  run.collector = "consumer_groups";
  run.published = true;
  run.success = true;
  run.samples["kafka_consumergroup_lag_sum"] = {{{{"consumergroup", evil}, {"topic", "t"}}, 11500}};
  run.samples["kafka_consumergroup_max_lag_seconds"] = {{{{"consumergroup", evil}}, 95}};
  run.samples["kafka_consumergroup_status"] = {{{{"consumergroup", evil}, {"status", "ERR"}}, 1}};
  eval.OnRun(run);
  REQUIRE(eval.Current()->alerts.size() == 1);
  REQUIRE(eval.Current()->alerts[0].state == AlertState::kFiring);
  now += seconds(125);
  StatusPageOptions options;
  options.telemetry_path = "/m\"etrics";
  const std::string page = RenderStatusPage(eval.Status(), *eval.Current(), now, options);
  INFO(page);
  CHECK(page.find("<script") == std::string::npos);
  CHECK(page.find("<b>") == std::string::npos);
  const std::string escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;payments";
  // The group's row, the alert's labels and its summary.
  CHECK(page.find("<td>" + escaped +
                  "</td><td class=\"n\">11,500</td><td class=\"n\">1m 35s</td>"
                  "<td class=\"bad\">ERR</td>") != std::string::npos);
  CHECK(page.find("consumergroup=" + escaped) != std::string::npos);
  CHECK(page.find("team=&lt;b&gt;ops&lt;/b&gt; &amp; co") != std::string::npos);
  CHECK(page.find("Consumer group " + escaped + " lags more than 10,000 messages") != std::string::npos);
  CHECK(page.find("<td class=\"bad\">firing</td><td>KafkaConsumerGroupLagHigh</td><td>ticket</td>"
                  "<td class=\"n\" title=\"since 2023-11-14 22:13:20 UTC\">2m 5s</td>") != std::string::npos);
  CHECK(page.find("href=\"/m&quot;etrics\"") != std::string::npos);
  CHECK(page.find("<title>1 firing - dora-kafka-exporter</title>") != std::string::npos);
}

TEST_CASE("the status page: refresh, links, sections, and no external asset", "[status-page][http]") {
  SysTime now = SysTime(seconds(1'700'000'000));
  Evaluator eval(NoRules(), nullptr, [&now] { return now; });
  SECTION("before any run") {
    const std::string page = RenderStatusPage(eval.Status(), *eval.Current(), now);
    CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(page.find("<meta http-equiv=\"refresh\" content=\"10\">") != std::string::npos);
    for (const char* link :
         {"href=\"/metrics\"", "href=\"/healthz\"", "href=\"/ready\"", "href=\"/api/v1/alerts\""})
      CHECK(page.find(link) != std::string::npos);
    CHECK(page.find("The cluster collector has not run yet.") != std::string::npos);
    CHECK(page.find("No alert rule is evaluated") != std::string::npos);
    CHECK(page.find("No collector has finished a run yet.") != std::string::npos);
    // Unknown numbers are dashes, not zeros.
    CHECK(Count(page, "<td class=\"n note\">&#8212;</td>") == 4);
    // Nothing to fetch: no script, stylesheet, image or frame, no absolute URL.
    for (const char* tag : {"<script", "<link", "<img", "<iframe", "src=", "http://", "https://", "url("})
      CHECK(page.find(tag) == std::string::npos);
  }
  SECTION("after runs") {
    eval.OnRun(ClusterRun(3, 2, 1, 0));
    now += seconds(4);
    eval.OnRun(GroupsRun(3, 1, [](size_t i) { return static_cast<double>(1000 * (i + 1)); }));
    RunInputs probe;
    probe.collector = "probe";
    eval.OnRun(probe);  // failed, never succeeded
    now += seconds(1);
    const std::string page = RenderStatusPage(eval.Status(), *eval.Current(), now);
    INFO(page);
    CHECK(page.find("<table id=\"cluster\"><tr><th>Brokers</th><th>Under-replicated partitions</th>"
                    "<th>Under-min-ISR partitions</th><th>Offline partitions</th></tr><tr>"
                    "<td class=\"n\">3</td><td class=\"n bad\">2</td><td class=\"n bad\">1</td>"
                    "<td class=\"n\">0</td></tr></table>") != std::string::npos);
    CHECK(page.find("From the cluster collector&#39;s run") == std::string::npos);  // our text, not escaped
    CHECK(page.find("From the cluster collector's run of 5s ago.") != std::string::npos);
    CHECK(page.find("Consumer groups: the 3 most lagging of 3") != std::string::npos);
    CHECK(page.find("<td class=\"n\">1</td><td>group-2</td><td class=\"n\">3,000</td>") != std::string::npos);
    CHECK(page.find("<tr><td>probe</td><td class=\"bad\">failed <small>1s ago</small></td>"
                    "<td class=\"bad\">never</td></tr>") != std::string::npos);
    CHECK(page.find("<tr><td>cluster</td><td class=\"ok\">ok <small>5s ago</small></td>") !=
          std::string::npos);
  }
}

TEST_CASE("the status page at L: 2,000 groups and a storm of 2,000 firing alerts stay small",
          "[status-page][scale]") {
  AlertingConfig config;
  config.rules.at("KafkaConsumerGroupLagHigh").for_duration = seconds(0);
  SysTime now = SysTime(seconds(1'700'000'000));
  Evaluator eval(config, nullptr, [&now] { return now; });
  // 2,000 groups x 5 topics (the benchmark's L: 200,000 group-partitions), each above 10,000.
  eval.OnRun(GroupsRun(2000, 5, [](size_t i) { return static_cast<double>(2001 + i); }));
  eval.OnRun(ClusterRun(3, 0, 0, 0));
  now += seconds(60);
  const StatusView v = eval.Status();
  CHECK(v.groups == 2000);
  REQUIRE(v.top_groups.size() == kTopGroups);
  CHECK(v.top_groups[0].group == "group-1999");
  CHECK(v.top_groups[0].lag == 5 * 4000);
  REQUIRE(eval.Current()->alerts.size() == 2000);
  const std::string page = RenderStatusPage(v, *eval.Current(), now);
  WARN("status page at L with 2,000 firing alerts: " << page.size() << " bytes");
  CHECK(page.size() < 64 * 1024);
  CHECK(Count(page, "<td class=\"bad\">firing</td>") == 50);
  CHECK(page.find("1950 more: see <a href=\"/api/v1/alerts\">") != std::string::npos);
  CHECK(page.find("Alerts: <span class=\"bad\">2000 firing</span>, 0 pending") != std::string::npos);
  CHECK(Count(page, "</td><td>group-") == kTopGroups);  // the group rows
}
