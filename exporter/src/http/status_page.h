#pragma once
// GET /: the status page. One server-rendered HTML document with inline CSS,
// no script and no external asset, refreshing itself (<meta http-equiv=
// "refresh">): the cluster's health, the firing and pending alerts with their
// age and summary, the most lagging consumer groups, each collector's last
// run, and the links to the other endpoints.
//
// Rendered from what the daemon already published (the evaluator's
// StatusView and AlertsSnapshot), never from Kafka; every text that comes
// from outside (group names, label values, summaries) is HTML-escaped.
// Pure functions.
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "alerting/alert.h"
#include "alerting/status_view.h"

namespace dora {

struct StatusPageOptions {
  std::string telemetry_path = "/metrics";
  std::chrono::seconds refresh{10};
  // Alert rows listed (firing first); the rest are counted and left to
  // /api/v1/alerts, so a storm of alerts keeps the page small.
  size_t max_alerts = 50;
};

std::string RenderStatusPage(const alerting::StatusView& view, const alerting::AlertsSnapshot& alerts,
                             alerting::SysTime now, const StatusPageOptions& options = {});

// `text` with & < > " ' as character references: safe in element content and
// in a quoted attribute value.
std::string HtmlEscape(std::string_view text);

// "42s", "3m 12s", "2h 5m", "4d 3h": a short age or duration (floored to whole
// seconds; negative: "0s").
std::string FormatAge(double seconds);

}  // namespace dora
