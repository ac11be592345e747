#include "incidents/publisher.h"

#include <algorithm>
#include <deque>
#include <iterator>

#include "util/log.h"

namespace dora::incidents {
namespace {

using Clock = std::chrono::steady_clock;

enum class State { kQueued, kDelivered, kFailed };

struct InFlight {
  Spool::Record record;
  uint64_t id = 0;
  State state = State::kQueued;
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Publisher::Publisher(Spool* spool, PublisherOptions options, IncidentMetrics* metrics)
    : spool_(spool), options_(std::move(options)), metrics_(metrics) {}

Publisher::~Publisher() { Stop(); }

void Publisher::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Publisher::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

void Publisher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_.store(true);
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Publisher::Loop() {
  auto log = GetLogger("incidents");
  std::unique_ptr<EventProducer> producer;
  std::deque<InFlight> window;         // produced, in spool order; ids grow along it
  std::deque<Spool::Record> buffered;  // read, not produced yet
  SpoolPosition read_pos = spool_->acknowledged();
  uint64_t next_id = 1;
  Clock::time_point retry_at{};
  Millis backoff = options_.initial_backoff;
  bool failing = false;  // for the log: state changes at warn/info, repeats at debug
  bool rewind = false;  // a delivery failed: once the window has all its reports, from the ack position again
  SpoolPosition ack_pos = read_pos;
  uint64_t ack_records = 0;
  bool ack_dirty = false;
  Clock::time_point last_ack = Clock::now();
  Clock::time_point last_metrics{};
  Clock::time_point drain_until{};

  auto queued = [&] {
    return std::any_of(window.begin(), window.end(),
                       [](const InFlight& f) { return f.state == State::kQueued; });
  };
  auto fail = [&](const std::string& what) {
    if (!failing) {
      log->warn("incident events: {}; retrying with backoff", what);
    } else {
      log->debug("incident events: {}", what);
    }
    failing = true;
    retry_at = Clock::now() + backoff;
    backoff = std::min(options_.max_backoff, backoff * 2);
  };
  auto flush_acks = [&](bool force) {
    if (!ack_dirty || (!force && Clock::now() - last_ack < options_.ack_interval)) return;
    if (Status s = spool_->Acknowledge(ack_pos, ack_records); !s.ok) {
      log->warn("incident events: cannot record delivered events ({}); they are sent again after a restart",
                s.message);
    }
    ack_records = 0;
    ack_dirty = false;
    last_ack = Clock::now();
  };
  // The delivered prefix of the window leaves the spool; with nothing in
  // flight or read ahead, so do the damaged bytes and segment ends read past.
  auto advance = [&] {
    while (!window.empty() && window.front().state == State::kDelivered) {
      ack_pos = window.front().record.next;
      ++ack_records;
      ack_dirty = true;
      window.pop_front();
    }
    if (window.empty() && buffered.empty() && ack_pos < read_pos) {
      ack_pos = read_pos;
      ack_dirty = true;
    }
  };
  auto restart_from_ack = [&] {
    flush_acks(true);
    window.clear();
    buffered.clear();
    read_pos = spool_->acknowledged();
  };
  double published[4] = {-1, -1, -1, -1};  // what the self metrics last showed
  auto publish_metrics = [&](bool force) {
    if (metrics_ == nullptr) return;
    const auto now = Clock::now();
    if (!force && now - last_metrics < std::chrono::seconds(1)) return;
    last_metrics = now;
    int64_t oldest = 0;
    if (!window.empty()) {
      oldest = window.front().record.appended_ms;
    } else if (!buffered.empty()) {
      oldest = buffered.front().appended_ms;
    }
    const double values[4] = {
        static_cast<double>(spool_->bytes()), static_cast<double>(spool_->pending_records()),
        oldest > 0 ? std::max(0.0, static_cast<double>(NowMs() - oldest) / 1000.0) : 0.0,
        static_cast<double>(delivered_.load())};
    metrics_->spool_bytes().Set(values[0]);
    metrics_->spool_events().Set(values[1]);
    metrics_->oldest_age().Set(values[2]);
    // Republished only when something changed: an idle spool costs no renders.
    if (!std::equal(std::begin(values), std::end(values), std::begin(published)) && options_.metrics_changed)
      options_.metrics_changed();
    std::copy(std::begin(values), std::end(values), std::begin(published));
  };

  for (;;) {
    const bool stopping = stopping_.load();
    if (stopping && drain_until == Clock::time_point{}) drain_until = Clock::now() + options_.drain;
    if (stopping && (!producer || !queued() || Clock::now() >= drain_until)) break;

    if (!producer && !stopping && Clock::now() >= retry_at) {
      auto made = options_.make_producer();
      if (made.ok()) {
        producer = std::move(made.value());
      } else {
        fail("cannot create the producer: " + made.status().message);
      }
    }
    // Read on while the window has room (also without a producer: the
    // oldest waiting event's age is known).
    if (!stopping && buffered.empty() && window.size() < options_.window) {
      Spool::ReadResult r = spool_->Read(read_pos);
      for (const std::string& skipped : r.skipped) {
        log->warn("incident events: spool damaged, {}; the records around it are delivered", skipped);
        if (metrics_ != nullptr) metrics_->skipped().Increment();
      }
      for (auto& rec : r.records) buffered.push_back(std::move(rec));
      read_pos = r.next;
    }
    bool blocked = false;  // the producer's local queue refused a record
    if (producer && !stopping && !rewind && Clock::now() >= retry_at) {
      while (!buffered.empty() && window.size() < options_.window) {
        const uint64_t id = next_id++;
        if (Status s = producer->Produce(id, buffered.front().key, buffered.front().payload); !s.ok) {
          log->debug("incident events: produce: {}", s.message);
          blocked = true;
          break;
        }
        window.push_back({std::move(buffered.front()), id, State::kQueued});
        buffered.pop_front();
      }
    }

    bool polled = false;
    if (producer) {
      polled = queued();
      for (const EventDelivery& d : producer->Poll(polled ? Millis(100) : Millis(0))) {
        auto it = std::lower_bound(window.begin(), window.end(), d.id,
                                   [](const InFlight& f, uint64_t id) { return f.id < id; });
        if (it == window.end() || it->id != d.id)
          continue;  // produced before a restart from the ack position
        if (d.ok) {
          it->state = State::kDelivered;
          delivered_.fetch_add(1);
          if (metrics_ != nullptr) metrics_->delivered().Increment();
          if (failing) log->info("incident events: delivering again");
          failing = false;
          backoff = options_.initial_backoff;
        } else {
          it->state = State::kFailed;
          rewind = true;
          if (metrics_ != nullptr) metrics_->failed().Increment();
          fail("delivery failed: " + d.error);
        }
      }
      if (const std::string fatal = producer->FatalError(); !fatal.empty()) {
        log->error(
            "incident events: the producer failed ({}); a new one sends again from the oldest unacknowledged "
            "event",
            fatal);
        producer.reset();  // purges what is outstanding
        advance();
        restart_from_ack();
        rewind = false;
        fail("producer failed: " + fatal);
        continue;
      }
    }
    advance();
    flush_acks(window.empty());
    if (rewind && !queued()) {
      // Every record in flight has its report: the failed ones (and what
      // follows them) are produced again, in order, after the backoff.
      restart_from_ack();
      rewind = false;
    }
    publish_metrics(false);

    if (polled) continue;  // Poll waited
    const bool ready = producer && !buffered.empty() && !blocked && !rewind && Clock::now() >= retry_at;
    if (ready) continue;
    std::unique_lock<std::mutex> lock(mu_);
    auto until = Clock::now() + (blocked ? std::chrono::milliseconds(100) : std::chrono::milliseconds(1000));
    if (retry_at > Clock::now()) until = std::min(until, retry_at);
    cv_.wait_until(lock, until, [&] { return woken_ || stopping_.load(); });
    woken_ = false;
  }
  // Stopped: what was delivered leaves the spool; the rest is sent after the restart.
  advance();
  flush_acks(true);
  producer.reset();
  publish_metrics(true);
}

}  // namespace dora::incidents
