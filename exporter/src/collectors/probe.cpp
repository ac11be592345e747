#include "collectors/probe.h"

// The collector: builds the transport and the three threads on its first run,
// renders the tracker on every run. The threads' work is in collectors/probe/,
// the librdkafka handles in kafka/probe_transport.h.
#include <random>
#include <thread>
#include <vector>

#include "collectors/probe/consumer.h"
#include "collectors/probe/payload.h"
#include "collectors/probe/producer.h"
#include "collectors/probe/shared_state.h"
#include "collectors/probe/topic.h"
#include "kafka/probe_transport.h"
#include "util/log.h"

namespace dora {
namespace {

// Window of kafka_probe_success_ratio.
constexpr Millis kRatioWindow{300000};

}  // namespace

struct ProbeCollector::Impl {
  ProbeCollectorConfig config;
  KafkaConfig kafka_config;
  std::shared_ptr<KafkaApi> admin;
  std::shared_ptr<ProbeTracker> tracker;
  std::shared_ptr<spdlog::logger> log = GetLogger("collector.probe");
  uint64_t instance = 0;

  std::unique_ptr<ProbeSharedState> state;
  // Reset by Stop(), which ~Impl runs before any member goes: the threads that
  // use them are joined first, and the producer's purged reports still find
  // the tracker.
  std::unique_ptr<ProbeProducer> producer;
  std::unique_ptr<ProbeConsumer> consumer;
  std::unique_ptr<ProbeSender> sender;
  std::unique_ptr<ProbeReceiver> receiver;
  std::unique_ptr<ProbeTopicMaintainer> maintainer;
  std::vector<std::thread> threads;

  ~Impl() { Stop(); }

  Status Start() {
    std::random_device rd;
    instance = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(ProbeUnixMicros());
    state = std::make_unique<ProbeSharedState>(config.topic);
    auto p = ProbeProducer::Create(kafka_config, config.topic, config.sla, ProbeDeliveryHandler(tracker));
    if (!p.ok()) return p.status();
    producer = std::move(p.value());
    auto c = ProbeConsumer::Create(kafka_config);
    if (!c.ok()) return c.status();
    consumer = std::move(c.value());
    sender = std::make_unique<ProbeSender>(*state, *tracker, *producer, config.interval, instance);
    receiver = std::make_unique<ProbeReceiver>(*state, *tracker, *consumer, instance);
    maintainer = std::make_unique<ProbeTopicMaintainer>(config, *state, admin, *producer, *consumer);
    threads.emplace_back([this] { Guard("sender", [this] { sender->Run(); }); });
    threads.emplace_back([this] { Guard("receiver", [this] { receiver->Run(); }); });
    threads.emplace_back([this] { Guard("maintainer", [this] { maintainer->Run(); }); });
    log->info("probe started on topic {} (instance {:016x}, interval {}, sla {})", config.topic, instance,
              FormatDuration(config.interval), FormatDuration(config.sla));
    return Status::Ok();
  }

  // No exception leaves a thread entry.
  template <typename F>
  void Guard(const char* what, F f) {
    try {
      f();
    } catch (const std::exception& ex) {
      state->Fatal(std::string("probe ") + what + " thread stopped: " + ex.what());
    } catch (...) {
      state->Fatal(std::string("probe ") + what + " thread stopped");
    }
  }

  void Stop() {
    if (state) state->Stop();
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
    threads.clear();
    maintainer.reset();
    receiver.reset();
    sender.reset();
    producer.reset();  // outstanding messages fail now instead of holding up destroy
    consumer.reset();
  }

  Status Problem() const { return state ? state->Problem() : Status::Ok(); }
};

ProbeCollector::ProbeCollector(ProbeCollectorConfig config, KafkaConfig kafka_config,
                               std::shared_ptr<KafkaApi> kafka)
    : config_(std::move(config)),
      kafka_config_(std::move(kafka_config)),
      kafka_(std::move(kafka)),
      tracker_(std::make_shared<ProbeTracker>(config_.sla, kRatioWindow)) {}

ProbeCollector::~ProbeCollector() = default;  // Impl's destructor stops the threads

Status ProbeCollector::Collect(const CollectContext& /*ctx*/, MetricsBuilder& out) {
  if (!impl_) {
    auto impl = std::make_unique<Impl>();
    impl->config = config_;
    impl->kafka_config = kafka_config_;
    impl->admin = kafka_;
    impl->tracker = tracker_;
    Status s = impl->Start();
    if (!s.ok) return s;  // the partly built Impl stops and frees what it made
    impl_ = std::move(impl);
  }
  tracker_->Render(out, std::chrono::steady_clock::now());
  return impl_->Problem();
}

}  // namespace dora
