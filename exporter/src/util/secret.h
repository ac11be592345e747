#pragma once
// The one secret resolver: a value the config points at in a file
// (kafka.property_files, password_file) or an environment variable
// (kafka.property_env, password_env). One policy for every caller:
//   - a file must be a regular file, read whole with every read checked
//     (util/file.h); a directory, a FIFO or a failed read is an error;
//   - trailing "\n" and "\r" are cut (editors and `echo` add them), nothing else;
//   - an empty file or an empty variable is an empty value, not an error;
//   - an error starts with the config key, names the file or the variable and
//     the cause, and never contains the value.
// Also the one list of "secret-looking" key names (redaction in config dumps,
// in librdkafka errors and in Kafka Connect traces).
#include <cstddef>
#include <string>

#include "util/status.h"

namespace dora {

constexpr size_t kMaxSecretFileBytes = 16u << 20;

// `key` is the config key that named the file, e.g. "kafka.property_files.sasl.password".
Result<std::string> ReadSecretFile(const std::string& key, const std::string& path,
                                   size_t max_bytes = kMaxSecretFileBytes);
// `key` is the config key that named the variable, e.g. "kafka.property_env.sasl.password".
Result<std::string> ReadSecretEnv(const std::string& key, const std::string& variable);

// The same checks without keeping the value (config validation): same messages.
Status CheckSecretFile(const std::string& key, const std::string& path);
Status CheckSecretEnv(const std::string& key, const std::string& variable);

// True when a configuration key's name says its value is a secret
// ("sasl.password", "ssl.key.pem", "sasl.jaas.config", "aws.secret.access.key"...).
// Case-insensitive; matches a marker anywhere in the name.
bool IsSecretKey(const std::string& key);

// Replaces the user:password@ of every URL in the text with "[redacted]@"
// (error texts, traces and config dumps).
void RedactUrlCredentials(std::string* s);

}  // namespace dora
