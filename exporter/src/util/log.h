#pragma once
// Named spdlog loggers sharing one sink. Logging never throws into callers.
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace dora {

// Configures the shared stderr sink: level trace..error, format text|json.
// Returns false for an unknown level or format (callers validate first).
bool SetupLogging(const std::string& level, const std::string& format);

// Logger for a component ("app", "http", "collector.cluster", "librdkafka").
std::shared_ptr<spdlog::logger> GetLogger(const std::string& name);

// Flushes the shared sink (before a process exit that skips destructors).
void FlushLogs();

// Escapes a string for a JSON string literal (no surrounding quotes).
std::string JsonEscape(const std::string& s);

}  // namespace dora
