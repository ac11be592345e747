#include "incidents/avro_registry.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "collectors/http_client.h"
#include "incidents/avro.h"

namespace dora::incidents {
namespace {

// Subjects hold topic names and record names: percent-encode whatever is not unreserved.
std::string PathSegment(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

AvroRegistration::AvroRegistration(HttpEndpoint registry, std::string subject)
    : registry_(std::move(registry)), subject_(std::move(subject)) {}

Result<int32_t> AvroRegistration::Id() {
  if (id_ >= 0) return id_;
  const auto deadline = std::chrono::steady_clock::now() + registry_.timeout;
  HttpSession session(registry_, deadline, nullptr, "application/vnd.schemaregistry.v1+json");
  if (!session.ok()) return Status::Error(Reason::kConfig, "schema registry: " + session.message());
  const std::string body = nlohmann::json{{"schema", AvroSchemaJson()}}.dump();
  const HttpSession::Reply r = session.Post("/subjects/" + PathSegment(subject_) + "/versions", body,
                                            "application/vnd.schemaregistry.v1+json");
  if (!r.ok) {
    return Status::Error(r.cls == HttpErrorClass::kTimeout ? Reason::kTimeout : Reason::kHttp,
                         "schema registry: registering under " + subject_ + ": " + r.message);
  }
  if (!r.json.is_object() || !r.json.contains("id") || !r.json["id"].is_number_integer())
    return Status::Error(Reason::kHttp,
                         "schema registry: registering under " + subject_ + ": no schema id in the answer");
  id_ = r.json["id"].get<int32_t>();
  return id_;
}

}  // namespace dora::incidents
