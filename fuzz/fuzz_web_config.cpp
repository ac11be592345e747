// Fuzzes the web config parser (ParseWebConfig, no files opened) and the basic
// auth header decoding (BasicAuth::CheckHeader with no users: base64 and
// splitting run, bcrypt does not).
#include <cstddef>
#include <cstdint>
#include <string>

#include "http/basic_auth.h"
#include "http/web_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  dora::ConfigErrors errors;
  dora::WebFileConfig c = dora::ParseWebConfig(text, "fuzz-web.yml", "/nonexistent", &errors);
  (void)c;
  (void)dora::IsBcryptHash(text);
  static dora::BasicAuth no_users({});
  (void)no_users.CheckHeader(text);
  (void)no_users.CheckHeader("Basic " + text);
  return 0;
}
