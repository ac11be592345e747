#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace dora {

using Millis = std::chrono::milliseconds;

// Parses Prometheus-style durations: "250ms", "15s", "5m", "1h", "1h30m", "0".
// Returns nullopt for anything else (including negative values).
std::optional<Millis> ParseDuration(std::string_view text);

// Formats a duration the way ParseDuration reads it back ("1m30s", "250ms").
std::string FormatDuration(Millis d);

}  // namespace dora
