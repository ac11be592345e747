// ICT incident events against a real broker (docs/incident-events.md): a
// lagging group opens an incident on incident-events and its recovery closes
// it; events spooled while the broker is down survive a SIGKILL of the daemon
// and arrive once, after deduplication by event id, in order per incident; a
// torn spool tail is reported and every complete record delivered.

// GCC 12 at -O2 sees a null dereference inside nlohmann's getters (a false
// positive, as in test_alertmanager.cpp).
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "incidents/spool_record.h"
#include "support/daemon.h"
#include "support/fake_registry.h"
#include "support/json_schema.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"
#include "support/kafka_handle.h"
#include "support/small_fs.h"
#include "support/temp_dir.h"

using namespace dora::test;
using namespace std::chrono_literals;
using Json = nlohmann::json;

namespace {

constexpr char kTopic[] = "incident-events";

std::string Tail(const std::string& s, size_t n = 6000) { return s.size() > n ? s.substr(s.size() - n) : s; }

Json Schema() {
  std::ifstream in(std::string(DORA_SOURCE_DIR) + "/docs/incident-event.schema.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return Json::parse(ss.str());
}

// "2026-12-07T08:00:00.250Z" -> unix milliseconds.
int64_t Ms(const std::string& rfc3339) {
  std::tm tm{};
  int ms = 0;
  REQUIRE(std::sscanf(rfc3339.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                      &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) == 7);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

std::string ClusterId(const std::string& bootstrap) {
  rd_kafka_t* rk = NewHandle(RD_KAFKA_PRODUCER, {{"bootstrap.servers", bootstrap}});
  char* id = rd_kafka_clusterid(rk, 10000);
  std::string out = id != nullptr ? id : "";
  if (id != nullptr) rd_kafka_mem_free(rk, id);
  rd_kafka_destroy(rk);
  return out;
}

struct Event {
  TopicRecord record;
  Json json;
};

// Every event on the topic now (read from the start).
std::vector<Event> ReadEvents(const std::string& bootstrap) {
  std::vector<Event> out;
  for (auto& r : ReadTopic(bootstrap, kTopic, 0, 30s, 1000ms)) {
    Json j = Json::parse(r.value);
    out.push_back({std::move(r), std::move(j)});
  }
  return out;
}

// Reads until `pred` holds for the events on the topic (bounded by `timeout`).
bool WaitForEvents(const std::string& bootstrap, const std::function<bool(const std::vector<Event>&)>& pred,
                   std::chrono::seconds timeout, std::vector<Event>* last) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  do {
    *last = ReadEvents(bootstrap);
    if (pred(*last)) return true;
    std::this_thread::sleep_for(500ms);
  } while (std::chrono::steady_clock::now() < end);
  return false;
}

const Event* Find(const std::vector<Event>& events, const std::string& type, const std::string& alertname,
                  const std::string& label, const std::string& value) {
  for (const Event& e : events) {
    const Json& l = e.json["labels"];
    if (e.json["event_type"] == type && e.json["alertname"] == alertname && l.contains(label) &&
        l[label] == value)
      return &e;
  }
  return nullptr;
}

// The first copy of each event, in topic order, and how many copies were extra.
std::vector<Event> Deduplicated(const std::vector<Event>& events, size_t* extra = nullptr) {
  std::set<std::string> seen;
  std::vector<Event> out;
  for (const Event& e : events)
    if (seen.insert(e.json["event_id"].get<std::string>()).second) out.push_back(e);
  if (extra != nullptr) *extra = events.size() - out.size();
  return out;
}

// Every incident's events in first-copy order: sequence grows, opened first,
// closed (if any) last, one partition, keyed by the incident id.
void CheckOrderPerIncident(const std::vector<Event>& deduplicated) {
  std::map<std::string, std::vector<const Event*>> by_incident;
  for (const Event& e : deduplicated) by_incident[e.json["incident_id"]].push_back(&e);
  for (const auto& entry : by_incident) {
    INFO("incident " << entry.first);
    const auto& evs = entry.second;
    for (size_t i = 0; i < evs.size(); ++i) {
      CHECK(evs[i]->record.key == entry.first);
      CHECK(evs[i]->record.partition == evs[0]->record.partition);
      if (i > 0) CHECK(evs[i]->json["sequence"].get<int>() > evs[i - 1]->json["sequence"].get<int>());
      if (evs[i]->json["event_type"] == "closed") CHECK(i + 1 == evs.size());
    }
  }
}

// Every complete record in the spool directory's segment files: event id -> record.
std::map<std::string, dora::incidents::ScannedRecord> SpoolRecords(const std::string& dir) {
  std::map<std::string, dora::incidents::ScannedRecord> out;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().filename().string().rfind("segment-", 0) != 0) continue;
    std::ifstream in(f.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    for (auto& r : dora::incidents::ScanRecords(ss.str()).records)
      out[Json::parse(r.payload)["event_id"].get<std::string>()] = r;
  }
  return out;
}

double Metric(const std::vector<Sample>& s, const std::string& name,
              const std::map<std::string, std::string>& labels = {}) {
  auto v = Find(s, name, labels);
  return v ? *v : -1;
}

// REQUIREs `ok`, with the daemon's log as it is now when it fails.
void RequireWithLog(bool ok, Daemon& d) {
  if (ok) return;
  INFO(Tail(d.Log()));
  REQUIRE(ok);
}

std::string WriteConfig(const std::string& path, const std::string& body) {
  std::ofstream(path) << body;
  return path;
}

}  // namespace

TEST_CASE("a lagging group opens an incident on incident-events and its recovery closes it",
          "[kafka][incidents]") {
  auto kafka = KafkaCluster::Start(1);
  const std::string bootstrap = kafka->bootstrap();
  kafka->CreateTopic(kTopic, 3, 1);
  kafka->CreateTopic("orders", 1, 1);
  REQUIRE(ProduceMessages(bootstrap, "orders", 12000) == 12000);
  REQUIRE(ConsumeAndCommit(bootstrap, "orders", "lagging", 500) == 500);  // lag 11,500
  TempDir dir("dora-incidents");
  const std::string cfg = WriteConfig(dir.P("exporter.yaml"),
                                      "collectors:\n"
                                      "  cluster: {interval: 1s, timeout: 5s}\n"
                                      "  offsets: {interval: 1s, timeout: 5s}\n"
                                      "  consumer_groups: {interval: 1s, timeout: 8s}\n"
                                      "alerting:\n"
                                      "  rules:\n"
                                      "    KafkaConsumerGroupLagHigh: {for: 2s}\n"
                                      "incidents:\n"
                                      "  enabled: true\n"
                                      "  instance: it-0\n"
                                      "  renotify_interval: 0s\n"
                                      "  spool: {directory: " +
                                          dir.P("spool") + "}\n");
  Daemon d({"--config", cfg, "--kafka.server=" + bootstrap});
  REQUIRE(d.WaitHealthy());
  const auto start = std::chrono::steady_clock::now();
  std::vector<Event> events;
  const bool opened = WaitForEvents(
      bootstrap,
      [](const auto& ev) {
        return Find(ev, "opened", "KafkaConsumerGroupLagHigh", "consumergroup", "lagging");
      },
      60s, &events);
  INFO(Tail(d.Log()));
  REQUIRE(opened);
  WARN("opened event on " << kTopic << " "
                          << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
                          << " s after the daemon was healthy (interval 1s, for 2s)");
  const Event o = *Find(events, "opened", "KafkaConsumerGroupLagHigh", "consumergroup", "lagging");
  INFO(o.json.dump(2));
  const Json schema = Schema();
  CHECK(ValidateJsonSchema(schema, o.json).empty());
  CHECK(o.record.key == o.json["incident_id"]);
  CHECK(o.json["sequence"] == 0);
  CHECK(o.json["severity"] == "ticket");
  CHECK(o.json["labels"]["alertname"] == "KafkaConsumerGroupLagHigh");
  CHECK(o.json["annotations"]["summary"] == "Consumer group lagging lags more than 10,000 messages");
  CHECK(o.json["annotations"]["runbook_url"].get<std::string>().find("#kafkaconsumergrouplaghigh") !=
        std::string::npos);
  CHECK(o.json["value"] == 11500.0);
  const int64_t detected = Ms(o.json["detected_at"]);
  const int64_t started = Ms(o.json["started_at"]);
  CHECK(started - detected >= 2000);
  CHECK(started - detected < 10000);
  CHECK(Ms(o.json["awareness_deadline"]) == detected + 24 * 3600 * 1000);
  CHECK(o.json["resolved_at"].is_null());
  CHECK(o.json["cluster_id"] == ClusterId(bootstrap));
  CHECK(o.json["instance"] == "it-0");
  CHECK(o.json["affected"]["consumer_groups"] == Json::array({"lagging"}));
  CHECK(o.json["affected"]["topics"].empty());

  // Recovery: the group catches up, the alert resolves, the incident closes.
  REQUIRE(ConsumeAndCommit(bootstrap, "orders", "lagging", 11500) == 11500);
  const bool closed = WaitForEvents(
      bootstrap,
      [](const auto& ev) {
        return Find(ev, "closed", "KafkaConsumerGroupLagHigh", "consumergroup", "lagging");
      },
      60s, &events);
  REQUIRE(closed);
  const Event c = *Find(events, "closed", "KafkaConsumerGroupLagHigh", "consumergroup", "lagging");
  INFO(c.json.dump(2));
  CHECK(ValidateJsonSchema(schema, c.json).empty());
  CHECK(c.json["incident_id"] == o.json["incident_id"]);
  CHECK(c.json["event_id"] != o.json["event_id"]);
  CHECK(c.record.partition == o.record.partition);
  CHECK(c.record.offset > o.record.offset);
  CHECK(c.json["sequence"] == 1);
  CHECK(c.json["close_reason"] == "resolved");
  CHECK(c.json["detected_at"] == o.json["detected_at"]);
  const int64_t resolved = Ms(c.json["resolved_at"]);
  CHECK(resolved > started);
  CHECK(c.json["duration_seconds"].get<double>() == Approx((resolved - detected) / 1000.0).margin(0.002));
  CheckOrderPerIncident(Deduplicated(events));

  // The consumer of docs/incident-events.md, on what the broker returned (each
  // event twice, plus a record of another producer).
  {
    std::ifstream in(std::string(DORA_SOURCE_DIR) + "/docs/incident-events.md");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string doc = ss.str();
    const size_t at = doc.find("```python\n", doc.find("## A consumer"));
    REQUIRE(at != std::string::npos);
    const size_t from = at + 10;
    const std::string code = doc.substr(from, doc.find("```", from) - from);
    std::ofstream(dir.P("register.py")) << code;
    {
      std::ofstream lines(dir.P("events.txt"));
      lines << "not an incident event\n";
      for (int copy = 0; copy < 2; ++copy)
        for (const Event& e : events) lines << e.record.value << "\n";
    }
    const std::string cmd = "timeout 30 python3 " + dir.P("register.py") + " < " + dir.P("events.txt") +
                            " > " + dir.P("register.out");
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream out(dir.P("register.out"));
    std::vector<Json> notes;
    for (std::string line; std::getline(out, line);) notes.push_back(Json::parse(line));
    REQUIRE(notes.size() == 1);  // one opened incident, each event delivered twice
    CHECK(notes[0]["incident_reference"] == o.json["incident_id"]);
    CHECK(notes[0]["detection_datetime"] == o.json["detected_at"]);
    CHECK(notes[0]["affected_services"] == Json::array({"lagging"}));
    CHECK(notes[0]["description"].get<std::string>().find("Consumer group lagging lags more than 10,000") ==
          0);
    CHECK(notes[0]["classification"].is_null());
    CHECK(notes[0]["initial_notification_due_if_major"] == o.json["awareness_deadline"]);
  }
  std::vector<Sample> s;
  CHECK(d.WaitFor(
      [](const auto& x) {
        return Metric(x, "kafka_exporter_incident_events_delivered_total") >= 2 &&
               Metric(x, "kafka_exporter_incident_spool_events") == 0;
      },
      10s, &s));
  CHECK(Metric(s, "kafka_exporter_incident_events_spooled_total", {{"type", "opened"}}) >= 1);
  CHECK(Metric(s, "kafka_exporter_incident_events_dropped_total",
               {{"type", "opened"}, {"reason", "spool_full"}}) == 0);
  d.Signal(SIGTERM);
  CHECK(d.Wait(20s) == 0);
}

// It failed 2 of about 6 runs while the consumer_groups collector could
// report success with the broker down (fixed in kafka/groups.cpp; the
// "[groups-down]" fault test guards that). The offsets collector is off:
// when the cluster collector's last metadata caught the stopping broker's
// partitions without a leader, offsets had no partition to ask and reported
// success, so its alert did not always fire (docs/design.md; open).
TEST_CASE("events spooled while the broker is down survive a SIGKILL and arrive once each, in order",
          "[kafka][incidents][incidents-restart]") {
  auto kafka = KafkaCluster::Start(1);
  const std::string bootstrap = kafka->bootstrap();
  kafka->CreateTopic(kTopic, 3, 1);
  FakeRegistry registry;
  REQUIRE(registry.running());
  registry.SetSubject("orders-value", 1);
  TempDir dir("dora-incidents");
  const std::string spool = dir.P("spool");
  const std::string cfg = WriteConfig(
      dir.P("exporter.yaml"),
      "collectors:\n"
      "  cluster: {interval: 1s, timeout: 2s}\n"
      "  offsets: {enabled: false}\n"
      "  consumer_groups: {interval: 1s, timeout: 2s}\n"
      "  schema_registry:\n    interval: 1s\n    timeout: 1s\n    registries:\n      - {name: main, url: '" +
          registry.url() +
          "'}\n"
          "alerting:\n"
          "  rules:\n"
          "    KafkaExporterCollectorFailing: {for: 2s}\n"
          "    KafkaSchemaRegistryDown: {for: 1s}\n"
          "incidents:\n"
          "  enabled: true\n"
          "  renotify_interval: 0s\n"
          "  spool: {directory: " +
          spool + "}\n");
  auto spooled = [](const std::vector<Sample>& x, const char* type) {
    return Metric(x, "kafka_exporter_incident_events_spooled_total", {{"type", type}});
  };
  std::map<std::string, dora::incidents::ScannedRecord> accepted;
  {
    Daemon a({"--config", cfg, "--kafka.server=" + bootstrap});
    REQUIRE(a.WaitHealthy());
    std::vector<Sample> s;
    REQUIRE(a.WaitFor(
        [](const auto& x) {
          return Metric(x, "kafka_exporter_collector_success", {{"collector", "consumer_groups"}}) == 1;
        },
        30s, &s));
    // The broker stops: the Kafka collectors fail and their alerts fire; the
    // events cannot be delivered.
    const auto stopping = std::chrono::steady_clock::now();
    kafka->StopNode(1);
    WARN("graceful stop of the broker took "
         << std::chrono::duration<double>(std::chrono::steady_clock::now() - stopping).count() << " s");
    RequireWithLog(a.WaitFor([&](const auto& x) { return spooled(x, "opened") >= 2; }, 60s, &s), a);
    // Meanwhile the registry fails and recovers twice: incidents that open and close while Kafka is down.
    for (int round = 0; round < 2; ++round) {
      const double opened = spooled(s, "opened"), closed = spooled(s, "closed");
      registry.SetFailure(FakeRegistry::Failure::kHttp500);
      RequireWithLog(a.WaitFor([&](const auto& x) { return spooled(x, "opened") > opened; }, 30s, &s), a);
      registry.SetFailure(FakeRegistry::Failure::kNone);
      RequireWithLog(a.WaitFor([&](const auto& x) { return spooled(x, "closed") > closed; }, 30s, &s), a);
    }
    // The spool gauges are refreshed by the publisher once a second.
    CHECK(a.WaitFor([](const auto& x) { return Metric(x, "kafka_exporter_incident_spool_events") >= 6; }, 5s,
                    &s));
    CHECK(Metric(s, "kafka_exporter_incident_events_delivered_total") == 0);
    a.Signal(SIGKILL);
    REQUIRE(a.Wait(10s) != -1);
    accepted = SpoolRecords(spool);
    INFO("spooled: opened " << spooled(s, "opened") << ", closed " << spooled(s, "closed"));
    REQUIRE(accepted.size() >= static_cast<size_t>(spooled(s, "opened") + spooled(s, "closed")));
  }
  // Restarted while the broker is still down, then the broker comes back.
  Daemon b({"--config", cfg, "--kafka.server=" + bootstrap});
  REQUIRE(b.WaitHealthy());
  // Its collector alerts fire again: the incidents the killed daemon left open go on.
  const bool refired = b.WaitFor(
      [](const auto& x) {
        return FindAll(x, "ALERTS",
                       {{"alertname", "KafkaExporterCollectorFailing"}, {"alertstate", "firing"}})
                   .size() >= 2;
      },
      30s);
  RequireWithLog(refired, b);
  kafka->StartNode(1);
  const auto back = std::chrono::steady_clock::now();
  std::vector<Sample> s;
  const bool drained = b.WaitFor(
      [&](const auto& x) {
        return Metric(x, "kafka_exporter_incident_events_delivered_total") >=
                   static_cast<double>(accepted.size()) &&
               Metric(x, "kafka_exporter_incident_spool_events") == 0 &&
               FindAll(x, "ALERTS", {{"alertstate", "firing"}}).empty();
      },
      120s, &s);
  INFO(Tail(b.Log()));
  INFO("delivered " << Metric(s, "kafka_exporter_incident_events_delivered_total") << ", waiting "
                    << Metric(s, "kafka_exporter_incident_spool_events") << ", firing "
                    << FindAll(s, "ALERTS", {{"alertstate", "firing"}}).size());
  REQUIRE(drained);
  WARN(accepted.size() << " events spooled before the SIGKILL; all acknowledged "
                       << std::chrono::duration<double>(std::chrono::steady_clock::now() - back).count()
                       << " s after the broker was back");
  std::vector<Event> events;
  REQUIRE(WaitForEvents(
      bootstrap,
      [&](const auto& ev) {
        std::set<std::string> ids;
        for (const Event& e : ev) ids.insert(e.json["event_id"].get<std::string>());
        for (const auto& entry : accepted)
          if (!ids.count(entry.first)) return false;
        return true;
      },
      60s, &events));
  size_t extra = 0;
  const auto unique = Deduplicated(events, &extra);
  std::string listing;
  for (const Event& e : unique)
    listing += e.json["event_type"].get<std::string>() + " " + e.json["alertname"].get<std::string>() + " " +
               e.json["labels"].dump() + " " + e.json["incident_id"].get<std::string>() + " " +
               e.json["close_reason"].dump() + "\n";
  INFO(listing);
  WARN(events.size() << " events on the topic, " << unique.size() << " after deduplication by event_id ("
                     << extra << " re-deliveries)");
  // Every event accepted by the killed daemon is there, byte for byte.
  for (const auto& entry : accepted) {
    bool found = false;
    for (const Event& e : unique)
      if (e.json["event_id"] == entry.first) {
        found = true;
        CHECK(e.record.value == entry.second.payload);
        CHECK(e.record.key == entry.second.key);
      }
    CHECK(found);
  }
  // Nothing twice after deduplication; the registry's two incidents opened and closed.
  std::set<std::string> incidents;
  for (const Event& e : unique) {
    CHECK(ValidateJsonSchema(Schema(), e.json).empty());
    if (e.json["alertname"] == "KafkaSchemaRegistryDown") incidents.insert(e.json["incident_id"]);
  }
  CHECK(incidents.size() == 2);
  CheckOrderPerIncident(unique);
  // Every incident is closed; the collectors' ones, open at the SIGKILL, were
  // continued by the restarted daemon (renotified, same id) and closed by it.
  std::map<std::string, std::vector<std::string>> types;
  std::map<std::string, std::string> names;
  for (const Event& e : unique) {
    types[e.json["incident_id"]].push_back(e.json["event_type"]);
    names[e.json["incident_id"]] = e.json["alertname"];
  }
  size_t continued = 0;
  for (const auto& entry : types) {
    INFO(names[entry.first] << " " << entry.first);
    CHECK(entry.second.back() == "closed");
    if (names[entry.first] == "KafkaExporterCollectorFailing" && entry.second.front() == "opened" &&
        accepted.size() > 0) {
      CHECK(entry.second == std::vector<std::string>{"opened", "renotified", "closed"});
      ++continued;
    }
  }
  CHECK(continued >= 2);
  b.Signal(SIGTERM);
  CHECK(b.Wait(20s) == 0);
}

// Fills the file system holding `path` to its last byte with the file `path`
// (bounded: 64 MiB). Returns the bytes written.
size_t FillDisk(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  size_t written = 0;
  for (size_t chunk : {size_t{64 * 1024}, size_t{4096}, size_t{1}}) {
    const std::string data(chunk, 'f');
    for (int i = 0; i < 100000 && written < (size_t{64} << 20); ++i) {
      const ssize_t n = ::write(fd, data.data(), data.size());
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
  }
  ::fsync(fd);
  ::close(fd);
  return written;
}

// A full disk (docs/incident-events.md, "The spool"), on a real file system
// filled to its last byte: the event cannot be accepted, waits in memory and
// the append is retried; once there is room it is spooled, then delivered.
TEST_CASE("a full spool disk: the event waits in memory, then is spooled and delivered once there is room",
          "[kafka][incidents][disk-full]") {
  SmallFs small;
  if (!small.mounted) {
    WARN("cannot mount a loop or tmpfs file system here (not root?): skipped");
    return;
  }
  INFO(small.kind);
  auto kafka = KafkaCluster::Start(1);
  const std::string bootstrap = kafka->bootstrap();
  kafka->CreateTopic(kTopic, 3, 1);
  const std::string spool = small.dir + "/spool";
  std::filesystem::create_directories(spool);
  const size_t filled = FillDisk(small.dir + "/filler");
  REQUIRE(filled > 0);
  REQUIRE(StatvfsUsed(small.dir) > 0.99);
  TempDir dir("dora-incidents");
  // A registry nobody listens on: KafkaSchemaRegistryDown fires at once.
  const std::string cfg =
      WriteConfig(dir.P("exporter.yaml"),
                  "collectors:\n"
                  "  cluster: {interval: 1s, timeout: 2s}\n"
                  "  offsets: {enabled: false}\n"
                  "  consumer_groups: {enabled: false}\n"
                  "  schema_registry:\n    interval: 1s\n    timeout: 1s\n    registries:\n"
                  "      - {name: main, url: 'http://127.0.0.1:" +
                      std::to_string(FreePort()) +
                      "'}\n"
                      "retry: {initial_backoff: 200ms, max_backoff: 1s}\n"
                      "alerting:\n  rules:\n    KafkaSchemaRegistryDown: {for: 0s}\n"
                      "incidents:\n  enabled: true\n  renotify_interval: 0s\n  spool: {directory: " +
                      spool + "}\n");
  Daemon d({"--config", cfg, "--kafka.server=" + bootstrap});
  REQUIRE(d.WaitHealthy());
  std::vector<Sample> s;
  // The alert fired (one transition), nothing could be spooled, and scrapes are answered meanwhile.
  RequireWithLog(d.WaitFor(
                     [](const auto& x) {
                       return Metric(x, "kafka_exporter_incident_events_total", {{"type", "opened"}}) >= 1;
                     },
                     30s, &s),
                 d);
  std::this_thread::sleep_for(3s);  // several retries (backoff at most 1 s)
  s = d.Samples();
  CHECK(Metric(s, "kafka_exporter_incident_events_spooled_total", {{"type", "opened"}}) == 0);
  CHECK(Metric(s, "kafka_exporter_incident_events_delivered_total") == 0);
  CHECK(Metric(s, "kafka_exporter_incident_events_dropped_total",
               {{"type", "opened"}, {"reason", "spool_full"}}) <= 0);
  CHECK(d.Log().find("incident events: cannot write the spool") != std::string::npos);
  // Room again: the waiting event is spooled and delivered.
  const auto freed = std::chrono::steady_clock::now();
  std::filesystem::remove(small.dir + "/filler");
  RequireWithLog(d.WaitFor(
                     [](const auto& x) {
                       return Metric(x, "kafka_exporter_incident_events_spooled_total",
                                     {{"type", "opened"}}) >= 1 &&
                              Metric(x, "kafka_exporter_incident_events_delivered_total") >= 1;
                     },
                     30s, &s),
                 d);
  WARN("a " << filled << "-byte filler held the event; spooled and delivered "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - freed).count()
            << " s after it was removed");
  CHECK(d.Log().find("incident events: spool writable again") != std::string::npos);
  std::vector<Event> events;
  REQUIRE(WaitForEvents(
      bootstrap,
      [](const auto& ev) {
        return Find(ev, "opened", "KafkaSchemaRegistryDown", "registry", "main") != nullptr;
      },
      30s, &events));
  const Event* opened = Find(events, "opened", "KafkaSchemaRegistryDown", "registry", "main");
  CHECK(ValidateJsonSchema(Schema(), opened->json).empty());
  CHECK(opened->record.key == opened->json["incident_id"].get<std::string>());
  d.Signal(SIGTERM);
  CHECK(d.Wait(20s) == 0);
}

TEST_CASE("a torn spool tail is reported and every complete record is delivered", "[kafka][incidents]") {
  TempDir dir("dora-incidents");
  const std::string spool = dir.P("spool");
  const std::string incidents =
      "incidents:\n  enabled: true\n  renotify_interval: 0s\n  spool: {directory: " + spool + "}\n";
  // No broker at all: the Kafka collectors fail, their alerts fire, the events stay spooled.
  const std::string offline =
      WriteConfig(dir.P("offline.yaml"),
                  "collectors:\n"
                  "  cluster: {interval: 1s, timeout: 1s}\n"
                  "  offsets: {interval: 1s, timeout: 1s}\n"
                  "  consumer_groups: {interval: 1s, timeout: 1s}\n"
                  "alerting:\n  rules:\n    KafkaExporterCollectorFailing: {for: 1s}\n" +
                      incidents);
  {
    Daemon a({"--config", offline, DeadBroker()});
    REQUIRE(a.WaitHealthy());
    RequireWithLog(
        a.WaitFor(
            [](const auto& x) {
              return Metric(x, "kafka_exporter_incident_events_spooled_total", {{"type", "opened"}}) >= 3;
            },
            60s),
        a);
    a.Signal(SIGKILL);
    REQUIRE(a.Wait(10s) != -1);
  }
  // A crash in the middle of the last record's write.
  std::string segment;
  for (const auto& f : std::filesystem::directory_iterator(spool))
    if (f.path().filename().string().rfind("segment-", 0) == 0 && f.file_size() > 0)
      segment = f.path().string();
  REQUIRE_FALSE(segment.empty());
  std::string bytes;
  {
    std::ifstream in(segment, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    bytes = ss.str();
  }
  const auto scan = dora::incidents::ScanRecords(bytes);
  REQUIRE(scan.records.size() >= 3);
  REQUIRE(scan.skipped.empty());
  const auto& last = scan.records.back();
  REQUIRE(::truncate(segment.c_str(), static_cast<off_t>(last.offset + 30)) == 0);
  std::set<std::string> complete;
  for (size_t i = 0; i + 1 < scan.records.size(); ++i)
    complete.insert(Json::parse(scan.records[i].payload)["event_id"].get<std::string>());
  const std::string torn = Json::parse(last.payload)["event_id"];

  auto kafka = KafkaCluster::Start(1);
  const std::string bootstrap = kafka->bootstrap();
  kafka->CreateTopic(kTopic, 3, 1);
  const std::string online = WriteConfig(dir.P("online.yaml"), incidents);
  Daemon b({"--config", online, "--kafka.server=" + bootstrap});
  REQUIRE(b.WaitHealthy());
  std::vector<Event> events;
  const bool delivered = WaitForEvents(
      bootstrap, [&](const auto& ev) { return Deduplicated(ev).size() >= complete.size(); }, 60s, &events);
  INFO(Tail(b.Log()));
  REQUIRE(delivered);
  std::set<std::string> ids;
  for (const Event& e : Deduplicated(events)) ids.insert(e.json["event_id"].get<std::string>());
  CHECK(ids == complete);
  CHECK(ids.count(torn) == 0);
  const std::string report = segment + ": skipped 30 bytes at offset " + std::to_string(last.offset) +
                             ": torn record: ends past the end of the file";
  CHECK(b.Log().find(report) != std::string::npos);
  std::vector<Sample> s;
  CHECK(b.WaitFor(
      [](const auto& x) {
        return Metric(x, "kafka_exporter_incident_spool_skipped_total") == 1 &&
               Metric(x, "kafka_exporter_incident_spool_events") == 0;
      },
      10s, &s));
  b.Signal(SIGTERM);
  CHECK(b.Wait(20s) == 0);
  // Delivered past the torn bytes: the damaged segment is gone.
  CHECK_FALSE(std::filesystem::exists(segment));
}

namespace {

// Decodes one message with python3-avro (Debian's, an Avro implementation
// independent of libavro): the Confluent framing, the schema fetched from the
// registry by its id, the record as JSON (times in unix milliseconds).
const char kAvroDecoder[] = R"(
import io, json, struct, sys, urllib.request
import avro.io, avro.schema
registry, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
assert data[0] == 0, "magic byte %d" % data[0]
schema_id = struct.unpack(">i", data[1:5])[0]
with urllib.request.urlopen("%s/schemas/ids/%d" % (registry, schema_id), timeout=10) as r:
    schema = avro.schema.parse(json.load(r)["schema"])
record = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(data[5:])))
def plain(o):
    if hasattr(o, "timestamp"):
        return round(o.timestamp() * 1000)
    return str(o)
print(json.dumps({"schema_id": schema_id, "schema_name": schema.fullname, "record": record}, default=plain))
)";

}  // namespace

TEST_CASE("an Avro incident event decodes with python3-avro and the schema fetched by its id",
          "[kafka][incidents][avro]") {
  REQUIRE(std::system("/usr/bin/python3 -c 'import avro.io' 2>/dev/null") ==
          0);  // python3-avro: install-deps.sh
  auto kafka = KafkaCluster::Start(1);
  const std::string bootstrap = kafka->bootstrap();
  kafka->CreateTopic(kTopic, 3, 1);
  kafka->CreateTopic("orders", 1, 1);
  REQUIRE(ProduceMessages(bootstrap, "orders", 200) == 200);
  REQUIRE(ConsumeAndCommit(bootstrap, "orders", "lagging", 50) == 50);  // lag 150
  FakeRegistry registry;
  REQUIRE(registry.running());
  TempDir dir("dora-incidents");
  const std::string cfg = WriteConfig(dir.P("exporter.yaml"),
                                      "collectors:\n"
                                      "  cluster: {interval: 1s}\n"
                                      "  offsets: {interval: 1s}\n"
                                      "  consumer_groups: {interval: 1s}\n"
                                      "alerting:\n"
                                      "  rules:\n"
                                      "    KafkaConsumerGroupLagHigh: {threshold: 100, for: 0s}\n"
                                      "incidents:\n"
                                      "  enabled: true\n"
                                      "  format: avro\n"
                                      "  instance: it-avro\n"
                                      "  schema_registry: {url: '" +
                                          registry.url() +
                                          "'}\n"
                                          "  spool: {directory: " +
                                          dir.P("spool") + "}\n");
  Daemon d({"--config", cfg, "--kafka.server=" + bootstrap});
  REQUIRE(d.WaitHealthy());
  std::vector<TopicRecord> records;
  for (int i = 0; i < 60 && records.empty(); ++i) records = ReadTopic(bootstrap, kTopic, 1, 2s, 500ms);
  RequireWithLog(!records.empty(), d);
  const TopicRecord& m = records.front();
  REQUIRE(m.value.size() > 5);
  CHECK(m.value[0] == '\0');
  const auto registered = registry.Registered();
  REQUIRE(registered.size() == 1);
  CHECK(registered[0].first == "incident-events-value");
  std::ofstream(dir.P("decode.py")) << kAvroDecoder;
  std::ofstream(dir.P("message.bin"), std::ios::binary) << m.value;
  const std::string cmd = "timeout 30 /usr/bin/python3 " + dir.P("decode.py") + " " + registry.url() + " " +
                          dir.P("message.bin") + " > " + dir.P("decoded.json") + " 2> " + dir.P("decode.err");
  const int rc = std::system(cmd.c_str());
  std::ifstream err_in(dir.P("decode.err"));
  std::stringstream err;
  err << err_in.rdbuf();
  INFO(err.str());
  REQUIRE(rc == 0);
  std::ifstream in(dir.P("decoded.json"));
  std::stringstream ss;
  ss << in.rdbuf();
  const Json out = Json::parse(ss.str());
  INFO(out.dump(2));
  CHECK(out["schema_id"] == 100);
  CHECK(out["schema_name"] == "dora.kafka.exporter.IncidentEvent");
  const Json& r = out["record"];
  CHECK(r["schema_version"] == 1);
  CHECK(r["event_type"] == "opened");
  CHECK(r["incident_id"] == m.key);
  CHECK(r["alertname"] == "KafkaConsumerGroupLagHigh");
  CHECK(r["severity"] == "ticket");
  CHECK(r["labels"]["consumergroup"] == "lagging");
  CHECK(r["value"] == 150.0);
  CHECK(r["resolved_at"].is_null());
  CHECK(r["awareness_deadline"].get<int64_t>() == r["detected_at"].get<int64_t>() + 24LL * 3600 * 1000);
  CHECK(r["cluster_id"] == ClusterId(bootstrap));
  CHECK(r["instance"] == "it-avro");
  CHECK(r["affected"]["consumer_groups"] == Json::array({"lagging"}));
  d.Signal(SIGTERM);
  CHECK(d.Wait(20s) == 0);
}
