// Fuzzes the exporter's YAML config loader (ParseConfig): any input must give
// a Config plus errors, never a crash, hang or leak. ValidateConfig is left
// out on purpose: it opens files the input names and compiles its regexes
// with std::regex, whose recursion on hostile patterns is a libstdc++ limit,
// not a loader bug (the config is trusted input).
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  dora::ConfigErrors errors;
  dora::Config c = dora::ParseConfig(text, "fuzz.yaml", &errors);
  (void)errors.Joined();
  std::string host;
  int port = 0;
  dora::ParseListenAddress(c.web.listen_address, &host, &port);
  dora::ParseListenAddress(text, &host, &port);
  return 0;
}
