#include "alerting/format.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace dora::alerting {
namespace {

// "YYYY-MM-DDTHH:MM:SS" of t's whole seconds, and its nanoseconds (floor, so
// times before 1970 keep a non-negative fraction).
std::string Seconds(SysTime t, long long* nanos) {
  const long long ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  long long secs = ns / 1000000000;
  long long frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  *nanos = frac;
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

}  // namespace

std::string Rfc3339Nano(SysTime t) {
  long long nanos = 0;
  std::string out = Seconds(t, &nanos);
  if (nanos != 0) {
    char frac[32];
    std::snprintf(frac, sizeof frac, ".%09lld", nanos);
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

std::string Rfc3339Millis(SysTime t) {
  long long nanos = 0;
  std::string out = Seconds(t, &nanos);
  char frac[32];
  std::snprintf(frac, sizeof frac, ".%03lld", nanos / 1000000);
  return out + frac + "Z";
}

std::string PromValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  for (int precision = 0; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*e", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;  // C's %e writes at least two exponent digits, as Go does
}

}  // namespace dora::alerting
