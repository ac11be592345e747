#include "http/status_page.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "version.h"

namespace dora {
namespace {

using alerting::Alert;
using alerting::AlertState;
using alerting::SysTime;

// Inline and small: the page must render without any other request.
constexpr char kStyle[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:80em}"
    "h1{font-size:1.4em;margin:0}h2{font-size:1.1em;margin:1.5em 0 .3em}"
    "table{border-collapse:collapse}th,td{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left;"
    "vertical-align:top}th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".bad{color:#b00020;font-weight:600}.warn{color:#9a5b00;font-weight:600}.ok{color:#1b7f3b}"
    ".note,small{color:#666}";

double Seconds(SysTime from, SysTime to) { return std::chrono::duration<double>(to - from).count(); }

std::string Utc(SysTime t) {
  const time_t secs = std::chrono::system_clock::to_time_t(t);
  tm parts{};
  gmtime_r(&secs, &parts);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &parts);
  return buf;
}

// 11500 -> "11,500"; what is not a whole number keeps one decimal.
std::string Count(double v) {
  if (!std::isfinite(v)) return v != v ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
  char buf[64];
  const double whole = std::floor(std::fabs(v));
  if (std::fabs(v) - whole > 1e-9 || whole >= 1e15) {
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.0f", whole);
  std::string digits = buf, out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

// A cluster number: unknown ones as a dash, those above 0 in red (brokers: as they are).
std::string NumberCell(double v, bool bad_above_zero) {
  if (v < 0) return "<td class=\"n note\">&#8212;</td>";
  return std::string("<td class=\"n") + (bad_above_zero && v > 0 ? " bad" : "") + "\">" + Count(v) + "</td>";
}

std::string StatusClass(const std::string& status) {
  if (status == "OK") return "ok";
  if (status == "WARN") return "warn";
  return status.empty() ? "note" : "bad";
}

const alerting::CollectorRun* RunOf(const alerting::StatusView& view, const std::string& name) {
  for (const auto& c : view.collectors)
    if (c.name == name) return &c;
  return nullptr;
}

// Where a section's numbers come from, and how old they are.
std::string SourceNote(const alerting::StatusView& view, const std::string& collector, SysTime now) {
  const alerting::CollectorRun* run = RunOf(view, collector);
  if (run == nullptr) return "<p class=\"note\">The " + collector + " collector has not run yet.</p>";
  if (run->last_publish == SysTime{})
    return "<p class=\"warn\">The " + collector + " collector has not published yet (its runs failed).</p>";
  std::string out = "<p class=\"note\">From the " + collector + " collector's run of " +
                    FormatAge(Seconds(run->last_publish, now)) + " ago";
  if (!run->success) out += "; <span class=\"warn\">its last run failed</span>";
  return out + ".</p>";
}

void Cluster(const alerting::StatusView& v, SysTime now, std::string& out) {
  out += "<h2>Cluster</h2>";
  out += SourceNote(v, "cluster", now);
  out +=
      "<table id=\"cluster\"><tr><th>Brokers</th><th>Under-replicated partitions</th>"
      "<th>Under-min-ISR partitions</th><th>Offline partitions</th></tr><tr>";
  out += NumberCell(v.brokers, false);
  out += NumberCell(v.under_replicated, true);
  out += NumberCell(v.under_min_isr, true);
  out += NumberCell(v.offline, true);
  out += "</tr></table>";
}

void Alerts(const alerting::StatusView& v, const alerting::AlertsSnapshot& snap, SysTime now,
            const StatusPageOptions& options, std::string& out) {
  std::vector<const Alert*> active;
  size_t firing = 0;
  for (const Alert& a : snap.alerts) {
    if (a.state == AlertState::kResolved) continue;
    active.push_back(&a);
    if (a.state == AlertState::kFiring) ++firing;
  }
  // Firing first, then the longest active; the labels break ties.
  std::sort(active.begin(), active.end(), [](const Alert* a, const Alert* b) {
    if (a->state != b->state) return a->state == AlertState::kFiring;
    if (a->active_at != b->active_at) return a->active_at < b->active_at;
    return a->labels < b->labels;
  });
  out += "<h2>Alerts: <span class=\"" + std::string(firing > 0 ? "bad" : "ok") + "\">" +
         std::to_string(firing) + " firing</span>, " + std::to_string(active.size() - firing) +
         " pending</h2>";
  if (v.rules == 0) {
    out +=
        "<p class=\"note\">No alert rule is evaluated (alerting.enabled is false, or every rule is "
        "disabled).</p>";
    if (active.empty()) return;
  } else if (active.empty()) {
    out +=
        "<p class=\"ok\">Nothing is firing or pending (" + std::to_string(v.rules) + " rules evaluated).</p>";
    return;
  }
  out +=
      "<table id=\"alerts\"><tr><th>State</th><th>Alert</th><th>Severity</th><th>Active for</th>"
      "<th>Summary</th><th>Labels</th></tr>";
  const size_t shown = std::min(active.size(), options.max_alerts);
  for (size_t i = 0; i < shown; ++i) {
    const Alert& a = *active[i];
    const bool is_firing = a.state == AlertState::kFiring;
    auto label = [&a](const char* name) {
      auto it = a.labels.find(name);
      return it == a.labels.end() ? std::string() : HtmlEscape(it->second);
    };
    auto summary = a.annotations.find("summary");
    out += "<tr><td class=\"" + std::string(is_firing ? "bad" : "warn") + "\">" +
           std::string(alerting::StateName(a.state)) + "</td><td>" + label("alertname") + "</td><td>" +
           label("severity") + "</td><td class=\"n\" title=\"since " + Utc(a.active_at) + "\">" +
           FormatAge(Seconds(a.active_at, now)) + "</td><td>" +
           (summary == a.annotations.end() ? std::string() : HtmlEscape(summary->second)) +
           "</td><td><small>";
    bool first = true;
    for (const auto& entry : a.labels) {
      if (entry.first == "alertname" || entry.first == "severity") continue;
      if (!first) out += ", ";
      first = false;
      out += HtmlEscape(entry.first) + "=" + HtmlEscape(entry.second);
    }
    out += "</small></td></tr>";
  }
  out += "</table>";
  if (shown < active.size())
    out += "<p class=\"note\">" + std::to_string(active.size() - shown) +
           " more: see <a href=\"/api/v1/alerts\">/api/v1/alerts</a>.</p>";
}

void Groups(const alerting::StatusView& v, SysTime now, std::string& out) {
  out += "<h2>Consumer groups: the " + std::to_string(v.top_groups.size()) + " most lagging of " +
         std::to_string(v.groups) + "</h2>";
  out += SourceNote(v, "consumer_groups", now);
  if (v.top_groups.empty()) {
    out += "<p class=\"note\">No group has a lag (no committed offsets seen).</p>";
    return;
  }
  out +=
      "<table id=\"groups\"><tr><th>#</th><th>Group</th><th>Lag (messages)</th><th>Lag (time)</th>"
      "<th>Status</th></tr>";
  for (size_t i = 0; i < v.top_groups.size(); ++i) {
    const alerting::GroupLag& g = v.top_groups[i];
    out += "<tr><td class=\"n\">" + std::to_string(i + 1) + "</td><td>" + HtmlEscape(g.group) +
           "</td><td class=\"n\">" + Count(g.lag) + "</td>";
    out += g.lag_seconds < 0 ? std::string("<td class=\"n note\">&#8212;</td>")
                             : "<td class=\"n\">" + FormatAge(g.lag_seconds) + "</td>";
    out += "<td class=\"" + StatusClass(g.status) + "\">" +
           (g.status.empty() ? std::string("&#8212;") : HtmlEscape(g.status)) + "</td></tr>";
  }
  out += "</table>";
}

void Collectors(const alerting::StatusView& v, SysTime now, std::string& out) {
  out += "<h2>Collectors</h2>";
  if (v.collectors.empty()) {
    out += "<p class=\"note\">No collector has finished a run yet.</p>";
    return;
  }
  out += "<table id=\"collectors\"><tr><th>Collector</th><th>Last run</th><th>Last success</th></tr>";
  for (const alerting::CollectorRun& c : v.collectors) {
    out += "<tr><td>" + HtmlEscape(c.name) + "</td><td class=\"" + (c.success ? "ok\">ok" : "bad\">failed") +
           " <small>" + FormatAge(Seconds(c.last_run, now)) + " ago</small></td>";
    if (c.last_success == SysTime{}) {
      out += "<td class=\"bad\">never</td></tr>";
    } else {
      out += "<td title=\"" + Utc(c.last_success) + "\">" + FormatAge(Seconds(c.last_success, now)) +
             " ago</td></tr>";
    }
  }
  out += "</table>";
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string FormatAge(double seconds) {
  if (!(seconds > 0)) return "0s";
  const long long s = static_cast<long long>(std::floor(std::min(seconds, 1e15)));
  const long long d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, sec = s % 60;
  if (d > 0) return std::to_string(d) + "d " + std::to_string(h) + "h";
  if (h > 0) return std::to_string(h) + "h " + std::to_string(m) + "m";
  if (m > 0) return std::to_string(m) + "m " + std::to_string(sec) + "s";
  return std::to_string(sec) + "s";
}

std::string RenderStatusPage(const alerting::StatusView& view, const alerting::AlertsSnapshot& alerts,
                             SysTime now, const StatusPageOptions& options) {
  size_t firing = 0;
  for (const Alert& a : alerts.alerts) firing += a.state == AlertState::kFiring ? 1 : 0;
  std::string out;
  out.reserve(16 * 1024);
  out +=
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" "
      "content=\"" +
      std::to_string(options.refresh.count()) +
      "\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>" +
      (firing > 0 ? std::to_string(firing) + " firing - " : std::string()) +
      "dora-kafka-exporter</title><style>" + kStyle + "</style></head><body><h1>dora-kafka-exporter</h1>";
  out += "<p class=\"note\">Version " + HtmlEscape(kVersion) + " (" + HtmlEscape(kRevision) +
         "). Status at " + Utc(now) + "; this page refreshes every " +
         std::to_string(options.refresh.count()) + " s.</p>";
  Cluster(view, now, out);
  Alerts(view, alerts, now, options, out);
  Groups(view, now, out);
  Collectors(view, now, out);
  const std::string metrics = HtmlEscape(options.telemetry_path);
  out += "<h2>Links</h2><ul><li><a href=\"" + metrics + "\">" + metrics +
         "</a> metrics</li><li><a href=\"/api/v1/alerts\">/api/v1/alerts</a> alerts (JSON)</li>"
         "<li><a href=\"/healthz\">/healthz</a> liveness</li><li><a href=\"/ready\">/ready</a> "
         "readiness</li></ul></body></html>\n";
  return out;
}

}  // namespace dora
