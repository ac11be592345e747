#pragma once
// Reading what a real Alertmanager sent to a HookServer (support/alertmanager.h)
// in the fault -> page tests (integration/test_alert_faults*.cpp): the
// webhook notifications, which alerts they carry in which status, and the
// daemon's own pending and firing alerts.
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "support/alertmanager.h"

namespace dora::test {

using HookClock = std::chrono::steady_clock;

inline double Seconds(HookClock::duration d) { return std::chrono::duration<double>(d).count(); }

// One webhook notification from Alertmanager.
struct Notification {
  HookClock::time_point at;
  std::string path;
  nlohmann::json body;
};

// The notifications (JSON objects) that arrived at or after `since`.
std::vector<Notification> Notifications(const std::vector<HookServer::Post>& posts,
                                        HookClock::time_point since);

// Labels an alert must carry (a subset of its labels).
using LabelMatch = std::map<std::string, std::string>;

bool Matches(const nlohmann::json& alert, const std::string& name, const LabelMatch& want);

// The first notification since `since` whose status is `status` and that holds
// an alert of `name` with labels `want` in that status.
std::optional<Notification> First(const std::vector<HookServer::Post>& posts, HookClock::time_point since,
                                  const std::string& status, const std::string& name, const LabelMatch& want);

// The alert of `name` with labels `want` in that notification (null if none).
nlohmann::json AlertIn(const Notification& n, const std::string& name, const LabelMatch& want);

// Every alertname any notification carried.
std::set<std::string> AlertNames(const std::vector<HookServer::Post>& posts);

// The alerts of the daemon's /api/v1/alerts (pending and firing).
nlohmann::json DaemonAlerts(int port);

}  // namespace dora::test
