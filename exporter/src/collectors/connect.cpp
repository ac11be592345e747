#include "collectors/connect.h"

#include <algorithm>
#include <cctype>
#include <regex>

#include "metrics/catalogue.h"
#include "util/log.h"
#include "util/secret.h"

namespace dora {

using Clock = std::chrono::steady_clock;
using EC = HttpErrorClass;

const char* const kConnectStates[6] = {"UNASSIGNED", "RUNNING", "PAUSED", "STOPPED", "FAILED", "RESTARTING"};

// Per Connect cluster, across runs. A probe thread owns it during a run;
// Collect reads it after RunBoundedProbes has joined the probe threads.
struct ConnectCollector::ClusterState {
  ConnectEndpoint endpoint;
  std::string label;
  double last_success_unix = 0;
  int failures = 0;  // consecutive failed probes
  EC last_class = EC::kNone;
  bool capped_logged = false;
  ConnectProbe probe;  // this run's outcome
};

namespace {

// Longest worker id, version, commit or cluster id kept in a label.
constexpr size_t kMaxShortLabel = 128;
// A trace is cut to this many bytes before anything else looks at it.
constexpr size_t kMaxTraceScan = 8192;

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A string field of `obj`, or `fallback`.
std::string Str(const nlohmann::json& obj, const char* key, const std::string& fallback = "") {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return fallback;
  return it->get<std::string>();
}

// Server-supplied short text in a label: printable ASCII, bounded, never empty.
std::string ShortLabel(const std::string& s) {
  std::string out = SanitizeText(s, kMaxShortLabel);
  return out.empty() ? "unknown" : out;
}

// Replaces every occurrence of `needle` in *s with "[redacted]".
void ReplaceAll(std::string* s, const std::string& needle) {
  if (needle.empty()) return;
  static const std::string kMark = "[redacted]";
  size_t pos = 0;
  for (int guard = 0; guard < 10000; ++guard) {
    pos = s->find(needle, pos);
    if (pos == std::string::npos) return;
    s->replace(pos, needle.size(), kMark);
    pos += kMark.size();
  }
}

}  // namespace

std::string ReduceTrace(const std::string& trace, const std::vector<std::string>& secret_values,
                        size_t max_length) {
  std::string line = trace.substr(0, std::min(trace.size(), kMaxTraceScan));
  size_t eol = line.find_first_of("\r\n");
  if (eol != std::string::npos) line.resize(eol);
  // Configured secrets first (the longest first, so one that contains another goes whole).
  std::vector<std::string> secrets;
  for (const auto& v : secret_values)
    if (v.size() >= 4) secrets.push_back(v);
  std::sort(secrets.begin(), secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& v : secrets) ReplaceAll(&line, v);
  RedactUrlCredentials(&line);
  // What follows is cut at max_length anyway; a short input also keeps
  // libstdc++'s recursive regex matcher shallow.
  if (line.size() > 2 * max_length + 64) line.resize(2 * max_length + 64);
  // Not util/secret.h's key markers: this runs over free text, where markers
  // such as "key.pem" or "private.key" would also take the word after an
  // ordinary "cannot read key.pem: ..." for a value.
  static const std::regex kPair(
      R"(((?:password|passwd|pwd|secret|token|credentials?|apikey|api_key)[A-Za-z0-9_.\-]*"?\s*[=:]\s*"?)([^\s&;,'"()\]\[]+))",
      std::regex::ECMAScript | std::regex::icase);
  line = std::regex_replace(line, kPair, "$1[redacted]");
  // "[redacted]" itself must survive the next step: it is printable ASCII.
  std::string out = SanitizeText(line, max_length);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool ParseConnectors(const nlohmann::json& body, size_t max_connectors, size_t max_trace_length,
                     ConnectProbe* probe, std::string* error) {
  if (!body.is_object()) {
    *error = body.is_array()
                 ? "GET /connectors: a list of names, not the expanded answer (Connect 2.3 or later needed)"
                 : "GET /connectors: expected a JSON object keyed by connector name";
    return false;
  }
  probe->connectors_total = body.size();
  probe->connectors.clear();
  // nlohmann::json objects iterate in key order: the first max_connectors by name.
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (probe->connectors.size() >= max_connectors) break;
    const nlohmann::json& entry = it.value();
    if (!entry.is_object()) {
      *error = "GET /connectors: an entry is not an object";
      return false;
    }
    static const nlohmann::json kEmpty = nlohmann::json::object();
    const nlohmann::json& status = entry.contains("status") ? entry["status"] : kEmpty;
    const nlohmann::json& info = entry.contains("info") ? entry["info"] : kEmpty;
    if (!status.is_object() || !info.is_object()) {
      *error = "GET /connectors: status or info is not an object";
      return false;
    }
    ConnectConnector c;
    c.name = it.key();
    std::vector<std::string> secrets;
    if (auto cfg = info.find("config"); cfg != info.end() && cfg->is_object()) {
      c.connector_class = ShortLabel(Str(*cfg, "connector.class", "unknown"));
      for (auto kv = cfg->begin(); kv != cfg->end(); ++kv) {
        if (kv.value().is_string() && IsSecretKey(kv.key())) secrets.push_back(kv.value().get<std::string>());
      }
    } else {
      c.connector_class = "unknown";
    }
    std::string type = Lower(Str(status, "type", Str(info, "type", "unknown")));
    c.type = (type == "source" || type == "sink") ? type : "unknown";
    const nlohmann::json& cs = status.contains("connector") ? status["connector"] : kEmpty;
    c.state = ShortLabel(Str(cs, "state", "unknown"));
    c.worker = ShortLabel(Str(cs, "worker_id", "unknown"));
    if (c.state == "FAILED") c.trace = ReduceTrace(Str(cs, "trace"), secrets, max_trace_length);
    if (auto tasks = status.find("tasks"); tasks != status.end() && tasks->is_array()) {
      for (const auto& t : *tasks) {
        if (!t.is_object()) continue;
        auto id = t.find("id");
        if (id == t.end() || !id->is_number_integer()) continue;
        const int64_t n = id->get<int64_t>();
        if (n < 0 || n > 1000000) continue;
        ConnectTask task;
        task.id = static_cast<int>(n);
        task.state = ShortLabel(Str(t, "state", "unknown"));
        task.worker = ShortLabel(Str(t, "worker_id", "unknown"));
        if (task.state == "FAILED") task.trace = ReduceTrace(Str(t, "trace"), secrets, max_trace_length);
        c.tasks.push_back(std::move(task));
      }
      std::sort(c.tasks.begin(), c.tasks.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    }
    probe->connectors.push_back(std::move(c));
  }
  return true;
}

void RenderConnectProbe(const std::string& label, const ConnectProbe& probe, double last_success_unix,
                        MetricsBuilder& out) {
  auto up = out.Family(DORA_METRIC("kafka_connect_up"));
  auto latency = out.Family(DORA_METRIC("kafka_connect_request_latency_seconds"));
  auto info = out.Family(DORA_METRIC("kafka_connect_info"));
  auto last_success = out.Family(DORA_METRIC("kafka_connect_last_success_timestamp_seconds"));
  auto last_error = out.Family(DORA_METRIC("kafka_connect_last_error"));
  auto connectors = out.Family(DORA_METRIC("kafka_connect_connectors"));
  auto connector_state = out.Family(DORA_METRIC("kafka_connect_connector_state"));
  auto connector_info = out.Family(DORA_METRIC("kafka_connect_connector_info"));
  auto connector_failure = out.Family(DORA_METRIC("kafka_connect_connector_failure_info"));
  auto task_state = out.Family(DORA_METRIC("kafka_connect_task_state"));
  auto task_info = out.Family(DORA_METRIC("kafka_connect_task_info"));
  auto task_failure = out.Family(DORA_METRIC("kafka_connect_task_failure_info"));
  auto worker_tasks = out.Family(DORA_METRIC("kafka_connect_worker_tasks"));

  const std::string& c = label;
  out.Add(up, {{"connect", c}}, probe.up ? 1 : 0);
  out.Add(last_success, {{"connect", c}}, last_success_unix);
  out.Add(last_error, {{"connect", c}, {"class", HttpErrorClassName(probe.up ? EC::kNone : probe.error)}}, 1);
  if (!probe.up) return;
  out.Add(latency, {{"connect", c}}, probe.latency_seconds);
  out.Add(info,
          {{"connect", c},
           {"version", probe.version},
           {"commit", probe.commit},
           {"kafka_cluster_id", probe.kafka_cluster_id}},
          1);
  out.Add(connectors, {{"connect", c}}, static_cast<double>(probe.connectors_total));
  std::map<std::string, int> per_worker;
  for (const auto& k : probe.connectors) {
    for (const char* s : kConnectStates)
      out.Add(connector_state, {{"connect", c}, {"connector", k.name}, {"state", s}}, k.state == s ? 1 : 0);
    out.Add(connector_info,
            {{"connect", c},
             {"connector", k.name},
             {"type", k.type},
             {"class", k.connector_class},
             {"worker", k.worker}},
            1);
    if (k.state == "FAILED")
      out.Add(connector_failure, {{"connect", c}, {"connector", k.name}, {"trace", k.trace}}, 1);
    for (const auto& t : k.tasks) {
      const std::string id = std::to_string(t.id);
      for (const char* s : kConnectStates)
        out.Add(task_state, {{"connect", c}, {"connector", k.name}, {"task", id}, {"state", s}},
                t.state == s ? 1 : 0);
      out.Add(task_info, {{"connect", c}, {"connector", k.name}, {"task", id}, {"worker", t.worker}}, 1);
      if (t.state == "FAILED")
        out.Add(task_failure, {{"connect", c}, {"connector", k.name}, {"task", id}, {"trace", t.trace}}, 1);
      ++per_worker[t.worker];
    }
  }
  for (const auto& [worker, n] : per_worker) out.Add(worker_tasks, {{"connect", c}, {"worker", worker}}, n);
}

namespace {

// One probe of one Connect cluster, bounded by `deadline`.
ConnectProbe ProbeCluster(const ConnectEndpoint& ep, Clock::time_point deadline, HttpCancel& cancel,
                          const ConnectCollectorConfig& config) {
  ConnectProbe p;
  auto fail = [&p](EC cls, std::string message) {
    p.up = false;
    p.error = cls;
    p.message = std::move(message);
    return p;
  };
  HttpSession session(ep, deadline, &cancel, "application/json");
  if (!session.ok()) return fail(session.error(), session.message());
  auto t0 = Clock::now();
  HttpSession::Reply root = session.Get("/");
  p.latency_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!root.ok) return fail(root.cls, root.message);
  if (!root.json.is_object() || !root.json.contains("version") || !root.json["version"].is_string())
    return fail(EC::kBadResponse, "GET /: expected an object with \"version\"");
  p.version = ShortLabel(Str(root.json, "version", "unknown"));
  p.commit = ShortLabel(Str(root.json, "commit", "unknown"));
  p.kafka_cluster_id = ShortLabel(Str(root.json, "kafka_cluster_id", "unknown"));
  HttpSession::Reply list = session.Get("/connectors?expand=status&expand=info");
  if (!list.ok) return fail(list.cls, list.message);
  std::string error;
  if (!ParseConnectors(list.json, static_cast<size_t>(config.max_connectors),
                       static_cast<size_t>(config.max_trace_length), &p, &error))
    return fail(EC::kBadResponse, error);
  p.up = true;
  p.error = EC::kNone;
  p.message.clear();
  return p;
}

}  // namespace

ConnectCollector::ConnectCollector(ConnectCollectorConfig config) : config_(std::move(config)) {
  auto log = GetLogger("collector.connect");
  for (const auto& ep : config_.clusters) {
    auto st = std::make_unique<ClusterState>();
    st->endpoint = ep;
    st->label = EndpointLabel(ep);
    if (auto u = ParseHttpUrl(ep.url); u && u->has_userinfo) {
      log->warn("connect cluster {}: credentials in the URL are ignored; use username and password_file",
                st->label);
    }
    if (ep.timeout > config_.timeout) {
      log->warn("connect cluster {}: timeout {} exceeds the collector timeout {}; probes end at the latter",
                st->label, FormatDuration(ep.timeout), FormatDuration(config_.timeout));
    }
    states_.push_back(std::move(st));
  }
}

ConnectCollector::~ConnectCollector() = default;

Status ConnectCollector::Collect(const CollectContext& ctx, MetricsBuilder& out) {
  auto log = GetLogger("collector.connect");
  // Leave a little of the collector's time for joining and rendering, so a
  // hanging worker never makes the run itself late.
  Millis margin = std::clamp(Millis(config_.timeout.count() / 10), Millis(10), Millis(250));
  const auto hard = ctx.deadline - margin;
  std::vector<Millis> timeouts;
  timeouts.reserve(states_.size());
  for (auto& st : states_) {
    st->probe = ConnectProbe{};
    timeouts.push_back(st->endpoint.timeout);
  }
  RunBoundedProbes(
      timeouts, hard, kMaxParallelProbes,
      [&](size_t i, Clock::time_point deadline, HttpCancel& cancel) {
        ClusterState* st = states_[i].get();
        ConnectProbe p;
        try {
          p = ProbeCluster(st->endpoint, deadline, cancel, config_);
        } catch (const std::exception& ex) {
          p = ConnectProbe{};
          p.error = EC::kBadResponse;
          p.message = std::string("unexpected error: ") + ex.what();
        } catch (...) {
          p = ConnectProbe{};
          p.error = EC::kBadResponse;
          p.message = "unexpected error";
        }
        st->probe = std::move(p);
      },
      "collector.connect");

  double now_unix =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (auto& st : states_) {
    const ConnectProbe& p = st->probe;
    const char* cls = HttpErrorClassName(p.error);
    if (p.up) {
      if (st->failures > 0) {
        log->info("connect cluster {} is available again after {} failed probe(s)", st->label, st->failures);
      }
      st->failures = 0;
      st->last_success_unix = now_unix;
      if (p.connectors_total > p.connectors.size() && !st->capped_logged) {
        log->warn(
            "connect cluster {}: {} connectors, only the first {} by name are exported (max_connectors)",
            st->label, p.connectors_total, p.connectors.size());
        st->capped_logged = true;
      }
    } else {
      if (st->failures == 0 || p.error != st->last_class) {
        log->warn("connect cluster {} is unavailable ({}): {}", st->label, cls, p.message);
      } else {
        log->debug("connect cluster {} still unavailable ({}): {}", st->label, cls, p.message);
      }
      ++st->failures;
    }
    st->last_class = p.up ? EC::kNone : p.error;
    RenderConnectProbe(st->label, p, st->last_success_unix, out);
  }
  // A Connect cluster being down is reported in its series, not as a collector failure.
  return Status::Ok();
}

}  // namespace dora
