#include "util/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cstdio>
#include <mutex>

namespace dora {
namespace {

std::mutex g_mu;
spdlog::sink_ptr g_sink;
spdlog::level::level_enum g_level = spdlog::level::info;
std::string g_format = "text";

// %* in the JSON pattern: the message, JSON-escaped.
class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string escaped = JsonEscape(std::string(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

std::unique_ptr<spdlog::formatter> MakeFormatter(const std::string& format) {
  auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (format == "json") {
    f->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n","msg":"%*"})");
  } else {
    f->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l [%n] %v");
  }
  return f;
}

spdlog::sink_ptr Sink() {
  if (!g_sink) {
    g_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    g_sink->set_formatter(MakeFormatter(g_format));
  }
  return g_sink;
}

}  // namespace

void FlushLogs() {
  try {
    if (g_sink) g_sink->flush();
  } catch (...) {
  }
  std::fflush(stderr);
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

bool SetupLogging(const std::string& level, const std::string& format) {
  auto lvl = spdlog::level::from_str(level);
  if (level != "off" && lvl == spdlog::level::off) return false;
  if (format != "text" && format != "json") return false;
  std::lock_guard<std::mutex> lock(g_mu);
  g_level = lvl;
  g_format = format;
  Sink()->set_formatter(MakeFormatter(format));
  spdlog::apply_all([&](std::shared_ptr<spdlog::logger> l) { l->set_level(lvl); });
  return true;
}

std::shared_ptr<spdlog::logger> GetLogger(const std::string& name) {
  if (auto l = spdlog::get(name)) return l;
  std::lock_guard<std::mutex> lock(g_mu);
  if (auto l = spdlog::get(name)) return l;
  auto l = std::make_shared<spdlog::logger>(name, Sink());
  l->set_level(g_level);
  l->set_error_handler([](const std::string&) {});  // never throw out of a log call
  spdlog::register_logger(l);
  return l;
}

}  // namespace dora
