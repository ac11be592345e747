#include "kafka/log_callbacks.h"

#include "util/log.h"

namespace dora {

void LogToSpdlog(const char* logger, int level, const char* fac, const char* buf) noexcept {
  try {
    auto lvl = level <= 2 ? spdlog::level::warn : spdlog::level::debug;
    GetLogger(logger)->log(lvl, "{}: {}", fac ? fac : "", buf ? buf : "");
  } catch (...) {
  }
}

void ErrorToSpdlog(const char* logger, int err, const char* reason) noexcept {
  try {
    GetLogger(logger)->debug("error {}: {}", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)),
                             reason ? reason : "");
  } catch (...) {
  }
}

}  // namespace dora
