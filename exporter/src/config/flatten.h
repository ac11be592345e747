#pragma once
// A canonical flat view of a Config: one (key path, value) per leaf key, in
// file order. Used to keep config/exporter.yaml equal to the defaults (tests)
// and for a config dump in which secret-bearing values are redacted.
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"

namespace dora {

using FlatConfig = std::vector<std::pair<std::string, std::string>>;

// Lists render as [a, b], maps as {k: v} (values of secret-named keys as
// <redacted>), the user:password@ of URLs as [redacted]@, durations in
// FormatDuration form.
FlatConfig FlattenConfig(const Config& config);

}  // namespace dora
