#pragma once
// Text forms of alert times and values, as Prometheus and Alertmanager write
// them: the /api/v1/alerts JSON (alerting/api_json.h) and the Alertmanager
// push (alerting/notifier.h).
#include <string>

#include "alerting/alert.h"

namespace dora::alerting {

// RFC 3339 in UTC with nanoseconds, trailing zeros (and a bare dot) cut:
// Go's time.RFC3339Nano, e.g. "2026-12-07T08:00:00.5Z", "2026-12-07T08:00:00Z".
std::string Rfc3339Nano(SysTime t);

// RFC 3339 in UTC with milliseconds, e.g. "2026-12-07T08:00:00.500Z" (what
// Prometheus's notifier sends as startsAt/endsAt).
std::string Rfc3339Millis(SysTime t);

// A sample value as Prometheus's API writes it: Go's FormatFloat(v, 'e', -1,
// 64), the shortest form that reads back exactly: "1e+04", "1.2345e+04",
// "0e+00", "+Inf", "-Inf", "NaN".
std::string PromValue(double v);

}  // namespace dora::alerting
