#pragma once
// Small error-or-value types used at module boundaries (Kafka, HTTP, config).
// No exception crosses a thread entry or a C callback; errors travel as values.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace dora {

// Why something failed: a closed set, declared here once. Its name is the
// `reason` label of kafka_exporter_collector_errors_total (ReasonName).
enum class Reason : uint8_t {
  kTimeout,      // a deadline passed before Kafka or a server answered
  kKafka,        // Kafka answered with an error, or a librdkafka call failed
  kUnavailable,  // what the collector reads is not there (yet): a file, a path, a partition list
  kConfig,       // the configuration cannot be used
  kHttp,         // an HTTP server (schema registry, Connect) failed or answered badly
  kBind,         // a listener could not be opened
  kInternal,     // a bug or an unexpected exception
};
inline constexpr Reason kAllReasons[] = {Reason::kTimeout, Reason::kKafka, Reason::kUnavailable,
                                         Reason::kConfig,  Reason::kHttp,  Reason::kBind,
                                         Reason::kInternal};

constexpr std::string_view ReasonName(Reason r) {
  switch (r) {
    case Reason::kTimeout:
      return "timeout";
    case Reason::kKafka:
      return "kafka";
    case Reason::kUnavailable:
      return "unavailable";
    case Reason::kConfig:
      return "config";
    case Reason::kHttp:
      return "http";
    case Reason::kBind:
      return "bind";
    case Reason::kInternal:
      return "internal";
  }
  return "internal";
}

// Status carries success, or a failure's reason plus a human message. A
// partial failure (Partial) still has a usable result: a collector's run
// publishes what it has, and `reason` keeps the real cause of what is missing.
struct Status {
  bool ok = true;
  bool partial = false;
  Reason reason = Reason::kInternal;  // meaningful when !ok
  std::string message;

  static Status Ok() { return {}; }
  static Status Error(Reason reason, std::string message) {
    return Status{false, false, reason, std::move(message)};
  }
  static Status Partial(Reason cause, std::string message) {
    return Status{false, true, cause, std::move(message)};
  }
  std::string_view reason_name() const { return ReasonName(reason); }
  explicit operator bool() const { return ok; }
};

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status error) : status_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace dora
