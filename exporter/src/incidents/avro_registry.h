#pragma once
// Registers the incident events' Avro schema (incidents/avro.h) under its
// subject with a Confluent-compatible schema registry (POST
// /subjects/<subject>/versions) and keeps the id it answered. Registering the
// same schema again answers the same id; a schema the subject's compatibility
// rule refuses is an error (HTTP 409), never a forced new subject.
//
// Used from one thread at a time (the publisher's). Credentials are read at
// every registration (a rotated one is used at once) and never logged.
#include <cstdint>
#include <string>

#include "config/config.h"
#include "util/status.h"

namespace dora::incidents {

class AvroRegistration {
 public:
  AvroRegistration(HttpEndpoint registry, std::string subject);
  // The schema id: registers the schema first if this has not succeeded yet
  // (blocks up to the endpoint's timeout). Fails (reason "http" or
  // "timeout") with the registry's HTTP status; retried by the next call.
  Result<int32_t> Id();
  const std::string& subject() const { return subject_; }

 private:
  HttpEndpoint registry_;
  std::string subject_;
  int32_t id_ = -1;
};

}  // namespace dora::incidents
