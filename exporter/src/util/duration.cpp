#include "util/duration.h"

#include <cctype>
#include <cstdint>

namespace dora {

std::optional<Millis> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text == "0") return Millis(0);
  int64_t total = 0;
  size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    int64_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      if (n > 1'000'000'000LL) return std::nullopt;
      ++i;
    }
    std::string_view unit;
    size_t start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    unit = text.substr(start, i - start);
    int64_t mult = 0;
    if (unit == "ms")
      mult = 1;
    else if (unit == "s")
      mult = 1000;
    else if (unit == "m")
      mult = 60'000;
    else if (unit == "h")
      mult = 3'600'000;
    else if (unit == "d")
      mult = 86'400'000;
    else
      return std::nullopt;
    total += n * mult;
    if (total > 1'000'000'000'000'000LL) return std::nullopt;  // ~31,700 years: no sum can overflow
    any = true;
  }
  if (!any) return std::nullopt;
  return Millis(total);
}

std::string FormatDuration(Millis d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  auto emit = [&](int64_t unit, const char* suffix) {
    if (ms >= unit) {
      out += std::to_string(ms / unit) + suffix;
      ms %= unit;
    }
  };
  emit(3'600'000, "h");
  emit(60'000, "m");
  emit(1000, "s");
  if (ms > 0) out += std::to_string(ms) + "ms";
  return out;
}

}  // namespace dora
