#include "alerting/notifier.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "alerting/format.h"
#include "alerting/send_queue.h"
#include "collectors/http_client.h"
#include "util/log.h"

namespace dora::alerting {

using Clock = std::chrono::steady_clock;

namespace {

constexpr char kPath[] = "/api/v2/alerts";
// How often a continuing failure or drop is logged again per Alertmanager.
constexpr auto kLogEvery = std::chrono::minutes(1);

// An alert's identity as one string: its labels, which are sorted.
std::string Key(const Labels& labels) {
  std::string key;
  for (const auto& [k, v] : labels) {
    key += k;
    key += '\xff';
    key += v;
    key += '\xfe';
  }
  return key;
}

// Alertmanager answers these for a batch it will never accept: retrying is pointless.
bool Rejected(int status) { return status == 400 || status == 413 || status == 422; }

}  // namespace

NotifierOptions NotifierOptionsFrom(const Config& c) {
  NotifierOptions o;
  o.alertmanagers = c.alerting.alertmanagers;
  o.resend_delay = c.alerting.resend_delay;
  o.external_labels = c.alerting.external_labels;
  o.initial_backoff = c.retry.initial_backoff;
  o.max_backoff = c.retry.max_backoff;
  const auto& cc = c.collectors;
  Millis longest{0};
  for (const CollectorCommon* common : std::initializer_list<const CollectorCommon*>{
           &cc.cluster, &cc.offsets, &cc.consumer_groups, &cc.log_dirs, &cc.probe, &cc.broker_stats,
           &cc.schema_registry, &cc.connect}) {
    if (common->enabled) longest = std::max(longest, common->interval);
  }
  if (longest.count() > 0) o.evaluation_interval = longest;
  return o;
}

struct Notifier::Instance {
  Instance(const AlertmanagerEndpoint& e, size_t capacity)
      : endpoint(e), label(EndpointLabel(e)), queue(capacity) {}
  const AlertmanagerEndpoint endpoint;
  const std::string label;
  std::mutex mu;
  std::condition_variable cv;
  SendQueue queue;
  Clock::time_point next_attempt{};
  Millis backoff{0};
  bool failing = false;
  Clock::time_point last_failure_log{};
  Clock::time_point last_drop_log{};
  size_t drops_unlogged = 0;
  HttpCancel cancel;
  std::thread thread;
};

Notifier::Notifier(const AlertSource* source, NotifierOptions options, NotifierMetrics* metrics)
    : source_(source), options_(std::move(options)), metrics_(metrics) {
  for (const auto& am : options_.alertmanagers) {
    instances_.push_back(std::make_unique<Instance>(am, options_.queue_capacity));
    if (metrics_) metrics_->Declare(instances_.back()->label);
  }
}

Notifier::~Notifier() { Stop(); }

void Notifier::Start() {
  for (auto& in : instances_) {
    Instance* p = in.get();
    in->thread = std::thread([this, p] { SendLoop(*p); });
  }
  dispatcher_ = std::thread([this] { DispatchLoop(); });
  GetLogger("notifier")
      ->info("sending alerts to {} Alertmanager(s), resend every {}", instances_.size(),
             FormatDuration(options_.resend_delay));
}

void Notifier::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

void Notifier::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_.store(true);
  }
  cv_.notify_all();
  for (auto& in : instances_) {
    { std::lock_guard<std::mutex> lock(in->mu); }
    in->cv.notify_all();
    in->cancel.Cancel();
  }
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& in : instances_) {
    if (in->thread.joinable()) in->thread.join();
  }
}

size_t Notifier::queued(size_t index) const {
  std::lock_guard<std::mutex> lock(instances_.at(index)->mu);
  return instances_[index]->queue.size();
}

void Notifier::DispatchLoop() {
  uint64_t generation = 0;
  bool first = true;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_.load() || woken_; });
      if (stopping_.load()) return;
      woken_ = false;
    }
    std::shared_ptr<const AlertsSnapshot> snapshot = source_->Current();
    if (snapshot && (first || snapshot->generation != generation)) {
      first = false;
      generation = snapshot->generation;
      if (metrics_) {
        metrics_->RecordStates(*snapshot);
        metrics_dirty_.store(true);
      }
    }
    if (snapshot) Dispatch(*snapshot, std::chrono::system_clock::now());
    if (metrics_dirty_.exchange(false) && options_.metrics_changed) options_.metrics_changed();
  }
}

std::string Notifier::Payload(const Alert& a, SysTime now) const {
  nlohmann::ordered_json j;
  j["labels"] = nlohmann::ordered_json::object();
  Labels labels = a.labels;
  for (const auto& [k, v] : options_.external_labels) labels.emplace(k, v);  // never overrides
  for (const auto& [k, v] : labels) j["labels"][k] = v;
  j["annotations"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : a.annotations) j["annotations"][k] = v;
  const SysTime starts = a.fired_at != SysTime{} ? a.fired_at : a.active_at;
  j["startsAt"] = Rfc3339Millis(starts);
  if (a.state == AlertState::kResolved) {
    j["endsAt"] = Rfc3339Millis(a.resolved_at);
  } else {
    const auto valid_for = 4 * std::max(options_.evaluation_interval, options_.resend_delay);
    j["endsAt"] = Rfc3339Millis(now + std::chrono::duration_cast<SysTime::duration>(valid_for));
  }
  if (!options_.generator_url.empty()) j["generatorURL"] = options_.generator_url;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void Notifier::Dispatch(const AlertsSnapshot& snapshot, SysTime now) {
  if (instances_.empty()) return;
  std::vector<SendQueue::Item> items;
  std::unordered_set<std::string> listed;
  for (const Alert& a : snapshot.alerts) {
    std::string key = Key(a.labels);
    listed.insert(key);
    if (a.state == AlertState::kPending) continue;
    auto it = sent_.find(key);
    const bool due = it == sent_.end() || it->second.state != a.state || it->second.fired_at != a.fired_at ||
                     it->second.last_sent + options_.resend_delay <= now;
    if (!due) continue;
    sent_[key] = SentRecord{now, a.state, a.fired_at};
    items.push_back({std::move(key), Payload(a, now)});
  }
  for (auto it = sent_.begin(); it != sent_.end();) {
    it = listed.count(it->first) ? std::next(it) : sent_.erase(it);
  }
  if (items.empty()) return;
  auto log = GetLogger("notifier");
  for (auto& in : instances_) {
    size_t dropped = 0;
    {
      std::lock_guard<std::mutex> lock(in->mu);
      dropped = in->queue.Push(items);
      if (metrics_) {
        metrics_->queue_length(in->label).Set(static_cast<double>(in->queue.size()));
        if (dropped) metrics_->dropped(in->label).Increment(static_cast<double>(dropped));
      }
      if (dropped) {
        in->drops_unlogged += dropped;
        const auto t = Clock::now();
        if (t - in->last_drop_log >= kLogEvery) {
          log->warn("Alertmanager {}: queue full ({} alerts), dropped the {} oldest", in->label,
                    in->queue.capacity(), in->drops_unlogged);
          in->drops_unlogged = 0;
          in->last_drop_log = t;
        }
      }
    }
    in->cv.notify_one();
  }
  metrics_dirty_.store(true);
}

void Notifier::SendLoop(Instance& in) {
  auto log = GetLogger("notifier");
  for (;;) {
    SendQueue::Batch batch;
    {
      std::unique_lock<std::mutex> lock(in.mu);
      for (;;) {
        if (stopping_.load()) return;
        if (in.queue.size() == 0) {
          in.cv.wait(lock);
        } else if (Clock::now() < in.next_attempt) {
          in.cv.wait_until(lock, in.next_attempt);
        } else {
          break;
        }
      }
      batch = in.queue.Front(options_.max_batch);
    }
    const auto start = Clock::now();
    HttpSession::Reply reply;
    {
      HttpSession session(in.endpoint, start + in.endpoint.timeout, &in.cancel, "application/json",
                          in.endpoint.bearer_token_file);
      reply = session.Post(kPath, batch.body, "application/json");
    }
    if (stopping_.load()) return;  // aborted by Stop(): neither a failure nor a drop
    const auto end = Clock::now();
    const double n = static_cast<double>(batch.size());
    std::unique_lock<std::mutex> lock(in.mu);
    if (metrics_ && reply.status != 0)
      metrics_->latency(in.label).Observe(std::chrono::duration<double>(end - start).count());
    if (reply.ok) {
      in.queue.Remove(batch);
      in.backoff = Millis(0);
      in.next_attempt = end;
      if (metrics_) metrics_->sent(in.label).Increment(n);
      if (in.failing) log->info("Alertmanager {}: sending again", in.label);
      in.failing = false;
    } else if (Rejected(reply.status)) {
      in.queue.Remove(batch);
      if (metrics_) {
        metrics_->failed(in.label).Increment(n);
        metrics_->dropped(in.label).Increment(n);
      }
      log->error("Alertmanager {}: rejected {} alert(s), dropped them: {}", in.label, batch.size(),
                 reply.message);
    } else {
      in.backoff =
          in.backoff.count() == 0 ? options_.initial_backoff : std::min(options_.max_backoff, in.backoff * 2);
      in.next_attempt = end + in.backoff;
      if (metrics_) metrics_->failed(in.label).Increment(n);
      if (!in.failing || end - in.last_failure_log >= kLogEvery) {
        log->warn("Alertmanager {}: sending {} alert(s) failed ({}: {}); {} queued, retrying in {}", in.label,
                  batch.size(), HttpErrorClassName(reply.cls), reply.message, in.queue.size(),
                  FormatDuration(in.backoff));
        in.last_failure_log = end;
      }
      in.failing = true;
    }
    if (metrics_) metrics_->queue_length(in.label).Set(static_cast<double>(in.queue.size()));
    metrics_dirty_.store(true);
  }
}

}  // namespace dora::alerting
