#include "collectors/schema_registry.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "collectors/http_client.h"
#include "metrics/catalogue.h"
#include "util/log.h"

namespace dora {

using Clock = std::chrono::steady_clock;

// Per registry, across runs. A probe thread owns it during a run; Collect
// reads it after RunBoundedProbes has joined the probe threads.
struct SchemaRegistryCollector::RegistryState {
  SchemaRegistryEndpoint endpoint;
  std::string label;

  double last_success_unix = 0;
  int failures = 0;  // consecutive failed probes
  RegistryErrorClass last_class = RegistryErrorClass::kNone;
  struct VersionCount {
    uint64_t count = 0;
    uint64_t refreshed_run = 0;
  };
  std::map<std::string, VersionCount> versions;  // subject -> versions
  uint64_t run = 0;

  RegistryProbe probe;  // this run's outcome
};

namespace {

using State = SchemaRegistryCollector::RegistryState;
using EC = RegistryErrorClass;

// Mode and compatibility values become label values: keep them bounded.
std::string EnumLabel(const nlohmann::json& v) {
  if (!v.is_string()) return "";
  std::string s = v.get<std::string>();
  if (s.empty() || s.size() > 40) return "unknown";
  for (auto& c : s) {
    if (!std::isalpha(static_cast<unsigned char>(c)) && c != '_') return "unknown";
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return s;
}

// One probe of one registry, bounded by `deadline`.
class Prober {
 public:
  Prober(State& st, Clock::time_point deadline, HttpCancel& cancel)
      : st_(st), deadline_(deadline), cancel_(cancel) {}

  RegistryProbe Run() {
    RegistryProbe p;
    HttpSession session(st_.endpoint, deadline_, &cancel_,
                        "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, "
                        "application/json");
    if (!session.ok()) return Fail(p, session.error(), session.message());
    session_ = &session;
    ProbeWith(p);
    session_ = nullptr;
    return p;
  }

 private:
  using Reply = HttpSession::Reply;

  static RegistryProbe Fail(RegistryProbe& p, EC cls, std::string message) {
    p.up = false;
    p.error = cls;
    p.message = std::move(message);
    return p;
  }

  Reply Get(const std::string& path) { return session_->Get(path); }

  // GET path and read one string field; a 404 or 403 (endpoint missing in this
  // implementation, or not readable with these credentials) leaves "unknown".
  bool ReadSetting(const std::string& path, std::initializer_list<const char*> fields, std::string* value,
                   RegistryProbe& p) {
    Reply r = Get(path);
    if (!r.ok) {
      if (r.status == 404 || r.status == 403) {
        *value = "unknown";
        return true;
      }
      Fail(p, r.cls, r.message);
      return false;
    }
    if (r.json.is_object()) {
      for (const char* f : fields) {
        auto it = r.json.find(f);
        if (it != r.json.end() && it->is_string()) {
          *value = EnumLabel(*it);
          return true;
        }
      }
    }
    Fail(p, EC::kBadResponse, "GET " + path + ": expected an object with \"" + *fields.begin() + "\"");
    return false;
  }

  void ProbeWith(RegistryProbe& p) {
    auto t0 = Clock::now();
    Reply subjects = Get("/subjects");
    p.latency_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!subjects.ok) {
      Fail(p, subjects.cls, subjects.message);
      return;
    }
    std::vector<std::string> names;
    bool valid = subjects.json.is_array();
    if (valid) {
      names.reserve(subjects.json.size());
      for (const auto& s : subjects.json) {
        if (!s.is_string()) {
          valid = false;
          break;
        }
        names.push_back(s.get<std::string>());
      }
    }
    if (!valid) {
      Fail(p, EC::kBadResponse, "GET /subjects: expected a JSON array of subject names");
      return;
    }
    p.subjects = names.size();
    if (!ReadSetting("/mode", {"mode"}, &p.mode, p)) return;
    if (!ReadSetting("/config", {"compatibilityLevel", "compatibility"}, &p.compatibility, p)) return;
    p.up = true;
    p.error = EC::kNone;
    p.message.clear();
    CountVersions(names, p);
  }

  // Refreshes at most kMaxVersionRequestsPerRun subject version counts, never
  // counted first, then the oldest; reports the total only when every current
  // subject has a count. A failure here only stops counting for this run.
  void CountVersions(const std::vector<std::string>& names, RegistryProbe& p) {
    auto& cache = st_.versions;
    uint64_t run = ++st_.run;
    std::set<std::string> current(names.begin(), names.end());
    for (auto it = cache.begin(); it != cache.end();) {
      it = current.count(it->first) ? std::next(it) : cache.erase(it);
    }
    std::vector<std::pair<uint64_t, const std::string*>> order;
    order.reserve(current.size());
    for (const auto& s : current) {
      auto it = cache.find(s);
      order.emplace_back(it == cache.end() ? 0 : it->second.refreshed_run, &s);
    }
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    int budget = SchemaRegistryCollector::kMaxVersionRequestsPerRun;
    auto log = GetLogger("collector.schema_registry");
    for (const auto& [refreshed, subject] : order) {
      if (budget-- <= 0 || Clock::now() >= deadline_) break;
      const std::string path = "/subjects/" + EncodePathSegment(*subject) + "/versions";
      Reply r = Get(path);
      if (r.ok && r.json.is_array()) {
        cache[*subject] = {r.json.size(), run};
      } else if (r.status == 404) {
        cache[*subject] = {0, run};  // deleted since the listing
      } else {
        log->debug("schema registry {}: version count stopped: {}", st_.label,
                   r.ok ? "GET " + path + ": expected a JSON array" : r.message);
        break;
      }
    }
    uint64_t total = 0;
    for (const auto& s : current) {
      auto it = cache.find(s);
      if (it == cache.end()) return;  // incomplete: absent rather than wrong
      total += it->second.count;
    }
    p.schema_versions = total;
  }

  State& st_;
  Clock::time_point deadline_;
  HttpCancel& cancel_;
  HttpSession* session_ = nullptr;
};

}  // namespace

void RenderRegistryProbe(const std::string& label, const RegistryProbe& probe, double last_success_unix,
                         MetricsBuilder& out) {
  auto up = out.Family(DORA_METRIC("kafka_schema_registry_up"));
  auto latency = out.Family(DORA_METRIC("kafka_schema_registry_request_latency_seconds"));
  auto subjects = out.Family(DORA_METRIC("kafka_schema_registry_subjects"));
  auto versions = out.Family(DORA_METRIC("kafka_schema_registry_schema_versions"));
  auto info = out.Family(DORA_METRIC("kafka_schema_registry_info"));
  auto last_success = out.Family(DORA_METRIC("kafka_schema_registry_last_success_timestamp_seconds"));
  auto last_error = out.Family(DORA_METRIC("kafka_schema_registry_last_error"));
  const std::string& r = label;
  out.Add(up, {{"registry", r}}, probe.up ? 1 : 0);
  if (probe.up) {
    out.Add(latency, {{"registry", r}}, probe.latency_seconds);
    out.Add(subjects, {{"registry", r}}, static_cast<double>(probe.subjects));
    if (probe.schema_versions)
      out.Add(versions, {{"registry", r}}, static_cast<double>(*probe.schema_versions));
    out.Add(info, {{"registry", r}, {"mode", probe.mode}, {"compatibility", probe.compatibility}}, 1);
  }
  out.Add(last_success, {{"registry", r}}, last_success_unix);
  out.Add(last_error,
          {{"registry", r}, {"class", RegistryErrorClassName(probe.up ? EC::kNone : probe.error)}}, 1);
}

SchemaRegistryCollector::SchemaRegistryCollector(SchemaRegistryCollectorConfig config)
    : config_(std::move(config)) {
  auto log = GetLogger("collector.schema_registry");
  for (const auto& ep : config_.registries) {
    auto st = std::make_unique<RegistryState>();
    st->endpoint = ep;
    st->label = RegistryLabel(ep);
    if (auto u = ParseRegistryUrl(ep.url); u && u->has_userinfo) {
      log->warn("schema registry {}: credentials in the URL are ignored; use username and password_file",
                st->label);
    }
    if (ep.timeout > config_.timeout) {
      log->warn("schema registry {}: timeout {} exceeds the collector timeout {}; probes end at the latter",
                st->label, FormatDuration(ep.timeout), FormatDuration(config_.timeout));
    }
    states_.push_back(std::move(st));
  }
}

SchemaRegistryCollector::~SchemaRegistryCollector() = default;

Status SchemaRegistryCollector::Collect(const CollectContext& ctx, MetricsBuilder& out) {
  auto log = GetLogger("collector.schema_registry");
  const size_t n = states_.size();
  // Leave a little of the collector's time for joining and rendering, so a
  // hanging registry never makes the run itself late.
  Millis margin = std::clamp(Millis(config_.timeout.count() / 10), Millis(10), Millis(250));
  const auto hard = ctx.deadline - margin;

  std::vector<Millis> timeouts;
  timeouts.reserve(n);
  for (auto& st : states_) {
    st->probe = RegistryProbe{};
    timeouts.push_back(st->endpoint.timeout);
  }
  RunBoundedProbes(
      timeouts, hard, kMaxParallelProbes,
      [&](size_t i, Clock::time_point deadline, HttpCancel& cancel) {
        State* st = states_[i].get();
        RegistryProbe p;
        try {
          p = Prober(*st, deadline, cancel).Run();
        } catch (const std::exception& ex) {
          p = RegistryProbe{};
          p.error = EC::kBadResponse;
          p.message = std::string("unexpected error: ") + ex.what();
        } catch (...) {
          p = RegistryProbe{};
          p.error = EC::kBadResponse;
          p.message = "unexpected error";
        }
        st->probe = std::move(p);
      },
      "collector.schema_registry");

  double now_unix =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (auto& st : states_) {
    const RegistryProbe& p = st->probe;
    const char* cls = RegistryErrorClassName(p.error);
    if (p.up) {
      if (st->failures > 0) {
        log->info("schema registry {} is available again after {} failed probe(s)", st->label, st->failures);
      }
      st->failures = 0;
      st->last_success_unix = now_unix;
    } else {
      if (st->failures == 0 || p.error != st->last_class) {
        log->warn("schema registry {} is unavailable ({}): {}", st->label, cls, p.message);
      } else {
        log->debug("schema registry {} still unavailable ({}): {}", st->label, cls, p.message);
      }
      ++st->failures;
    }
    st->last_class = p.up ? EC::kNone : p.error;
    RenderRegistryProbe(st->label, p, st->last_success_unix, out);
  }
  // A registry being down is reported in its series, not as a collector failure.
  return Status::Ok();
}

}  // namespace dora
