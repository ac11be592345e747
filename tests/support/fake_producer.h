#pragma once
// A fake EventProducer (kafka/event_producer.h) over a FakeTopic: what a
// broker would have written, kept in memory, for the incident pipeline's unit
// tests (the real-broker integration tests are the proof). The topic is
// shared by every producer the factory makes, so a producer rebuilt after a
// fatal error writes to the same log. Thread-safe.
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kafka/event_producer.h"

namespace dora::test {

struct FakeTopic {
  enum class Mode {
    kUp,      // every message is written and acknowledged at the next Poll
    kDown,    // nothing is answered (a cluster that is down: librdkafka keeps retrying)
    kReject,  // every message in flight fails with an error report
  };
  struct Message {
    std::string key;
    std::string payload;
  };
  void SetMode(Mode m);
  // The next Poll of the current producer reports this fatal error.
  void SetFatal(const std::string& error);
  std::vector<Message> messages() const;
  int producers_made() const;

  mutable std::mutex mu;
  Mode mode = Mode::kUp;
  std::string fatal;
  std::vector<Message> log;
  int made = 0;
  bool fail_create = false;  // the factory fails (as a refused config would)
};

// make_producer for PublisherOptions.
std::function<Result<std::unique_ptr<EventProducer>>()> FakeProducerFactory(std::shared_ptr<FakeTopic> topic);

}  // namespace dora::test
