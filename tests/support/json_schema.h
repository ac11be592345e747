#pragma once
// A JSON Schema validator for the subset docs/incident-event.schema.json
// uses (type, required, properties, additionalProperties, items, enum, const,
// minimum, minLength, pattern, format date-time; annotations ignored). A
// keyword outside that subset is itself an error, so the schema cannot grow a
// rule the tests silently skip.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dora::test {

// Every violation of `schema` by `doc`, each as "<json pointer>: <what>";
// empty when valid.
std::vector<std::string> ValidateJsonSchema(const nlohmann::json& schema, const nlohmann::json& doc);

}  // namespace dora::test
