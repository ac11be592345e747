#include "support/kafka_handle.h"

#include <cstdio>
#include <stdexcept>

namespace dora::test {

rd_kafka_t* NewHandle(rd_kafka_type_t type, const std::map<std::string, std::string>& props,
                      bool log_errors) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error("conf " + k + ": " + err);
    }
  }
  if (log_errors) {
    rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int level, const char* fac, const char* buf) {
      if (level <= 3) std::fprintf(stderr, "librdkafka %s: %s\n", fac, buf);
    });
  } else {
    rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("rd_kafka_new: ") + err);
  }
  return rk;
}

}  // namespace dora::test
