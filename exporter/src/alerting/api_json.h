#pragma once
// GET /api/v1/alerts: the daemon's pending and firing alerts in the JSON shape
// of Prometheus's /api/v1/alerts, so tools that read Prometheus read it too:
//   {"status":"success","data":{"alerts":[{"labels":{...},"annotations":{...},
//    "state":"firing","activeAt":"<RFC 3339>","value":"1e+04"}]}}
// Rendered from the snapshot the evaluator published, never from Kafka.
// Resolved alerts (kept for re-sending to Alertmanager) are not listed, as in
// Prometheus.
#include <string>

#include "alerting/alert.h"

namespace dora::alerting {

std::string RenderAlertsApi(const AlertsSnapshot& snapshot);

}  // namespace dora::alerting
