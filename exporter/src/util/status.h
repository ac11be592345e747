#pragma once
// Small error-or-value types used at module boundaries (Kafka, HTTP, config).
// No exception crosses a thread entry or a C callback; errors travel as values.
#include <optional>
#include <string>
#include <utility>

namespace dora {

// Status carries success or a short machine-readable reason plus a human message.
// `reason` is a bounded vocabulary (it becomes a label value): "timeout",
// "kafka", "unavailable", "config", "partial", "http", "internal".
struct Status {
  bool ok = true;
  std::string reason;
  std::string message;

  static Status Ok() { return {}; }
  static Status Error(std::string reason, std::string message) {
    return Status{false, std::move(reason), std::move(message)};
  }
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
