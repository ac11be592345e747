#include "support/fake_producer.h"

#include <thread>

namespace dora::test {
namespace {

class FakeProducer : public EventProducer {
 public:
  explicit FakeProducer(std::shared_ptr<FakeTopic> topic) : topic_(std::move(topic)) {}
  Status Produce(uint64_t id, const std::string& key, const std::string& payload) override {
    pending_.push_back({id, {key, payload}});
    return Status::Ok();
  }
  std::vector<EventDelivery> Poll(Millis wait) override {
    std::vector<EventDelivery> out;
    {
      std::lock_guard<std::mutex> lock(topic_->mu);
      if (!topic_->fatal.empty()) {
        fatal_ = topic_->fatal;
        topic_->fatal.clear();
      }
      if (fatal_.empty() && topic_->mode != FakeTopic::Mode::kDown) {
        for (auto& p : pending_) {
          EventDelivery d;
          d.id = p.first;
          d.ok = topic_->mode == FakeTopic::Mode::kUp;
          if (d.ok) {
            d.partition = 0;
            d.offset = static_cast<int64_t>(topic_->log.size());
            topic_->log.push_back(p.second);
          } else {
            d.error = "Broker: Topic authorization failed";
          }
          out.push_back(std::move(d));
        }
        pending_.clear();
      }
    }
    if (out.empty()) std::this_thread::sleep_for(std::min(wait, Millis(20)));
    return out;
  }
  std::string FatalError() override { return fatal_; }
  int Outstanding() override { return static_cast<int>(pending_.size()); }

 private:
  std::shared_ptr<FakeTopic> topic_;
  std::vector<std::pair<uint64_t, FakeTopic::Message>> pending_;
  std::string fatal_;
};

}  // namespace

void FakeTopic::SetMode(Mode m) {
  std::lock_guard<std::mutex> lock(mu);
  mode = m;
}

void FakeTopic::SetFatal(const std::string& error) {
  std::lock_guard<std::mutex> lock(mu);
  fatal = error;
}

std::vector<FakeTopic::Message> FakeTopic::messages() const {
  std::lock_guard<std::mutex> lock(mu);
  return log;
}

int FakeTopic::producers_made() const {
  std::lock_guard<std::mutex> lock(mu);
  return made;
}

std::function<Result<std::unique_ptr<EventProducer>>()> FakeProducerFactory(
    std::shared_ptr<FakeTopic> topic) {
  return [topic]() -> Result<std::unique_ptr<EventProducer>> {
    std::lock_guard<std::mutex> lock(topic->mu);
    if (topic->fail_create) return Status::Error(Reason::kConfig, "fake: cannot create the producer");
    ++topic->made;
    return std::unique_ptr<EventProducer>(new FakeProducer(topic));
  };
}

}  // namespace dora::test
