#include "alerting/api_json.h"

#include <nlohmann/json.hpp>

#include "alerting/format.h"

namespace dora::alerting {

std::string RenderAlertsApi(const AlertsSnapshot& snapshot) {
  // Ordered: the members come in Prometheus's order (labels, annotations,
  // state, activeAt, value); label names sort (Labels is a std::map).
  nlohmann::ordered_json alerts = nlohmann::ordered_json::array();
  for (const Alert& a : snapshot.alerts) {
    if (a.state == AlertState::kResolved) continue;
    nlohmann::ordered_json item;
    item["labels"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : a.labels) item["labels"][k] = v;
    item["annotations"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : a.annotations) item["annotations"][k] = v;
    item["state"] = std::string(StateName(a.state));
    item["activeAt"] = Rfc3339Nano(a.active_at);
    item["value"] = PromValue(a.value);
    alerts.push_back(std::move(item));
  }
  nlohmann::ordered_json root;
  root["status"] = "success";
  root["data"]["alerts"] = std::move(alerts);
  // Invalid UTF-8 in a label value (from a topic name) is replaced, never thrown.
  return root.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace dora::alerting
