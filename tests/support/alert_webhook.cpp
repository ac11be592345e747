// GCC 12 at -O2 sees a null dereference inside nlohmann's getters (a false
// positive, as in test_alertmanager.cpp).
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "support/alert_webhook.h"

#include "support/daemon.h"

namespace dora::test {

using json = nlohmann::json;

std::vector<Notification> Notifications(const std::vector<HookServer::Post>& posts,
                                        HookClock::time_point since) {
  std::vector<Notification> out;
  for (const auto& p : posts) {
    if (p.at < since) continue;
    json body = json::parse(p.body, nullptr, false);
    if (!body.is_discarded() && body.is_object()) out.push_back({p.at, p.path, std::move(body)});
  }
  return out;
}

bool Matches(const json& alert, const std::string& name, const LabelMatch& want) {
  const json& l = alert["labels"];
  if (l.value("alertname", "") != name) return false;
  for (const auto& [k, v] : want)
    if (l.value(k, "") != v) return false;
  return true;
}

std::optional<Notification> First(const std::vector<HookServer::Post>& posts, HookClock::time_point since,
                                  const std::string& status, const std::string& name,
                                  const LabelMatch& want) {
  for (auto& n : Notifications(posts, since)) {
    if (n.body.value("status", "") != status) continue;
    for (const json& a : n.body["alerts"])
      if (a.value("status", "") == status && Matches(a, name, want)) return n;
  }
  return std::nullopt;
}

json AlertIn(const Notification& n, const std::string& name, const LabelMatch& want) {
  for (const json& a : n.body["alerts"])
    if (Matches(a, name, want)) return a;
  return nullptr;
}

std::set<std::string> AlertNames(const std::vector<HookServer::Post>& posts) {
  std::set<std::string> out;
  for (const auto& n : Notifications(posts, HookClock::time_point{}))
    for (const json& a : n.body["alerts"]) out.insert(a["labels"].value("alertname", ""));
  return out;
}

json DaemonAlerts(int port) {
  json body = json::parse(HttpGet(port, "/api/v1/alerts").body, nullptr, false);
  if (body.is_discarded() || !body.contains("data")) return json::array();
  return body["data"]["alerts"];
}

}  // namespace dora::test
