#pragma once
// The one way the daemon reads a file it was pointed at (config, web config,
// topics file, property files, secrets): it must be a regular file, and every
// read must succeed. A directory, a FIFO, a device or a failed read is an
// error, never an empty text (an empty text would be a valid, insecure config).
#include <cstddef>
#include <string>

#include "util/status.h"

namespace dora {

// Reads all of `path` (at most `max_bytes`). An error (reason "config")
// carries the cause alone ("is a directory", "Permission denied"): callers
// name the path and the key that pointed to it.
Result<std::string> ReadRegularFile(const std::string& path, size_t max_bytes = 16u << 20);

// Checks that `path` names a readable regular file, without reading it.
Status CheckRegularFile(const std::string& path);

}  // namespace dora
