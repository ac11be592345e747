#include "config/flatten.h"

#include <charconv>

#include "config/loader.h"
#include "config/schema.h"
#include "util/secret.h"

namespace dora {
namespace {

std::string List(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out + "]";
}

std::string Map(const std::map<std::string, std::string>& m, bool redact_secrets) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : m) {
    out += (first ? "" : ", ") + k + ": " + (redact_secrets && IsSecretKey(k) ? "<redacted>" : v);
    first = false;
  }
  return out + "}";
}

std::string D(Millis d) { return FormatDuration(d); }

std::string Redacted(std::string s) {
  RedactUrlCredentials(&s);
  return s;
}

// One (path, value) per declared key (config/schema.h), in declaration order.
class FlattenVisitor {
 public:
  explicit FlattenVisitor(FlatConfig* out) : out_(out) {}
  template <typename F>
  void Section(const char* key, F&& body) {
    path_.In(key, body);
  }
  void Bool(const char* k, const bool& v) { Put(k, v ? "true" : "false"); }
  void Int(const char* k, const int& v, const Check& = {}) { Put(k, std::to_string(v)); }
  void Double(const char* k, const double& v) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    Put(k, std::string(buf, r.ptr));
  }
  void Duration(const char* k, const Millis& v, const Check& = {}) { Put(k, D(v)); }
  // A URL's user:password@ never reaches a dump.
  void String(const char* k, const std::string& v, const Check& = {}) { Put(k, Redacted(v)); }
  void StringList(const char* k, const std::vector<std::string>& v, const Check& = {}) { Put(k, List(v)); }
  void StringMap(const char* k, const std::map<std::string, std::string>& v, bool secret_values) {
    Put(k, Map(v, secret_values));
  }
  // Name and URL only: the rest is credentials and TLS files.
  template <typename E>
  void Endpoints(const char* k, const std::vector<E>& list, Millis, const char*) {
    std::string out = "[";
    for (size_t i = 0; i < list.size(); ++i)
      out +=
          (i ? ", " : "") + std::string("{name: ") + list[i].name + ", url: " + Redacted(list[i].url) + "}";
    Put(k, out + "]");
  }
  // An empty list is one key ("[]"); otherwise each item's keys, under "<key>[i]".
  template <typename T, typename F>
  void Items(const char* k, const std::vector<T>& list, const char*, F&& body) {
    if (list.empty()) Put(k, "[]");
    for (size_t i = 0; i < list.size(); ++i)
      path_.In(std::string(k) + "[" + std::to_string(i) + "]", [&] { body(list[i]); });
  }

 private:
  void Put(const char* key, std::string value) { out_->emplace_back(path_.Of(key), std::move(value)); }
  FlatConfig* out_;
  KeyPath path_;
};

}  // namespace

FlatConfig FlattenConfig(const Config& c) {
  FlatConfig f;
  FlattenVisitor v(&f);
  VisitConfig(v, c);
  return f;
}

}  // namespace dora
