#include "support/json_schema.h"

#include <regex>
#include <set>

namespace dora::test {
namespace {

using Json = nlohmann::json;

bool HasType(const Json& v, const std::string& type) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "integer") return v.is_number_integer();
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_boolean();
  if (type == "null") return v.is_null();
  return false;
}

// RFC 3339 date-time (JSON Schema's "date-time").
bool IsDateTime(const std::string& s) {
  static const std::regex kRe(
      R"(^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$)");
  return std::regex_match(s, kRe);
}

void Validate(const Json& schema, const Json& doc, const std::string& at, std::vector<std::string>* errors) {
  static const std::set<std::string> kIgnored = {"$schema", "$id", "title", "description"};
  static const std::set<std::string> kKnown = {"type",      "required", "properties", "additionalProperties",
                                               "items",     "enum",     "const",      "minimum",
                                               "minLength", "pattern",  "format"};
  auto fail = [&](const std::string& what) { errors->push_back((at.empty() ? "/" : at) + ": " + what); };
  for (const auto& [key, _] : schema.items()) {
    if (!kIgnored.count(key) && !kKnown.count(key))
      fail("schema keyword not supported by this validator: " + key);
  }
  if (schema.contains("type")) {
    const Json& t = schema["type"];
    bool ok = false;
    if (t.is_string()) ok = HasType(doc, t.get<std::string>());
    for (const auto& one : t.is_array() ? t : Json::array()) ok = ok || HasType(doc, one.get<std::string>());
    if (!ok) {
      fail("expected type " + t.dump() + ", got " + doc.dump());
      return;
    }
  }
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& v : schema["enum"]) found = found || v == doc;
    if (!found) fail(doc.dump() + " is not one of " + schema["enum"].dump());
  }
  if (schema.contains("const") && schema["const"] != doc)
    fail(doc.dump() + " is not " + schema["const"].dump());
  if (schema.contains("minimum") && doc.is_number() && doc.get<double>() < schema["minimum"].get<double>())
    fail(doc.dump() + " is below the minimum " + schema["minimum"].dump());
  if (doc.is_string()) {
    const std::string s = doc.get<std::string>();
    if (schema.contains("minLength") && s.size() < schema["minLength"].get<size_t>())
      fail("string too short");
    if (schema.contains("pattern") && !std::regex_search(s, std::regex(schema["pattern"].get<std::string>())))
      fail("\"" + s + "\" does not match " + schema["pattern"].get<std::string>());
    if (schema.contains("format")) {
      const std::string f = schema["format"].get<std::string>();
      if (f != "date-time")
        fail("format not supported by this validator: " + f);
      else if (!IsDateTime(s))
        fail("\"" + s + "\" is not an RFC 3339 date-time");
    }
  }
  if (doc.is_object()) {
    if (schema.contains("required")) {
      for (const auto& r : schema["required"])
        if (!doc.contains(r.get<std::string>())) fail("missing required member " + r.get<std::string>());
    }
    const Json props = schema.value("properties", Json::object());
    for (const auto& [key, value] : doc.items()) {
      const std::string where = at + "/" + key;
      if (props.contains(key)) {
        Validate(props[key], value, where, errors);
      } else if (schema.contains("additionalProperties")) {
        const Json& extra = schema["additionalProperties"];
        if (extra.is_boolean()) {
          if (!extra.get<bool>()) errors->push_back(where + ": member not allowed");
        } else {
          Validate(extra, value, where, errors);
        }
      }
    }
  }
  if (doc.is_array() && schema.contains("items")) {
    for (size_t i = 0; i < doc.size(); ++i)
      Validate(schema["items"], doc[i], at + "/" + std::to_string(i), errors);
  }
}

}  // namespace

std::vector<std::string> ValidateJsonSchema(const nlohmann::json& schema, const nlohmann::json& doc) {
  std::vector<std::string> errors;
  Validate(schema, doc, "", &errors);
  return errors;
}

}  // namespace dora::test
