#pragma once
// The process's open-file limit (RLIMIT_NOFILE).
#include <cstdint>

namespace dora {

// Raises the soft limit to the hard limit, so the endpoint's connection limits
// (web.max_connections, 1,024 by default) fit beside Kafka's sockets: many
// systems start processes with a soft limit of 1,024. Returns the soft limit
// in force afterwards (unchanged if raising failed).
uint64_t RaiseOpenFileLimit();
// The soft limit in force.
uint64_t OpenFileLimit();

}  // namespace dora
