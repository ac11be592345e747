#pragma once
// librdkafka's log and error callbacks, into an spdlog logger named by a
// template argument (the shared client and the probe's own handles log under
// different names). They run on librdkafka threads: they never call
// librdkafka and never throw.
#include <librdkafka/rdkafka.h>

namespace dora {

inline constexpr char kClientLogger[] = "librdkafka";
inline constexpr char kProbeLogger[] = "librdkafka.probe";
inline constexpr char kMirrorLogger[] = "librdkafka.mirror";

// Syslog levels 0-2 (emergency to critical) at warn, the rest at debug:
// connection churn while a broker is down is expected and reported by the
// collectors' metrics, so it stays out of the warn log.
void LogToSpdlog(const char* logger, int level, const char* fac, const char* buf) noexcept;
// librdkafka's error events, at debug (the collectors report what they cost).
void ErrorToSpdlog(const char* logger, int err, const char* reason) noexcept;

template <const char* Logger>
void LogCb(const rd_kafka_t* /*rk*/, int level, const char* fac, const char* buf) {
  LogToSpdlog(Logger, level, fac, buf);
}

template <const char* Logger>
void ErrorCb(rd_kafka_t* /*rk*/, int err, const char* reason, void* /*opaque*/) {
  ErrorToSpdlog(Logger, err, reason);
}

// Sets both callbacks on `conf`.
template <const char* Logger>
void SetLogCallbacks(rd_kafka_conf_t* conf) {
  rd_kafka_conf_set_log_cb(conf, LogCb<Logger>);
  rd_kafka_conf_set_error_cb(conf, ErrorCb<Logger>);
}

}  // namespace dora
