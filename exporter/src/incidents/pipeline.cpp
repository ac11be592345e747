#include "incidents/pipeline.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "util/log.h"

namespace dora::incidents {
namespace {

using Steady = std::chrono::steady_clock;

std::string HostName() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "unknown";
  return buf;
}

int64_t UnixMs(SysTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

SysTime FromMs(int64_t ms) { return SysTime(std::chrono::milliseconds(ms)); }

constexpr char kOpenFile[] = "open-incidents.json";

}  // namespace

Pipeline::Pipeline(PipelineOptions options, IncidentMetrics* metrics)
    : options_(std::move(options)),
      metrics_(metrics),
      instance_(options_.config.instance.empty() ? HostName() : options_.config.instance),
      backoff_(options_.initial_backoff) {}

Pipeline::~Pipeline() { Stop(); }

void Pipeline::Start() {
  OpenSpool(true);
  writer_ = std::thread([this] { WriterLoop(); });
}

bool Pipeline::OpenSpool(bool log_failure) {
  auto log = GetLogger("incidents");
  SpoolOptions so;
  so.directory = options_.config.spool.directory;
  so.max_bytes = static_cast<uint64_t>(options_.config.spool.max_bytes);
  std::vector<std::string> warnings;
  auto opened = Spool::Open(so, &warnings);
  for (const auto& w : warnings) log->warn("incident events: {}", w);
  if (!opened.ok()) {
    if (log_failure && !spool_failing_)
      log->error("incident events: cannot open the spool: {}; events wait in memory, retrying with backoff",
                 opened.status().message);
    spool_failing_ = true;
    retry_at_ = Steady::now() + backoff_;
    backoff_ = std::min(options_.max_backoff, backoff_ * 2);
    return false;
  }
  spool_ = std::move(opened.value());
  if (spool_failing_) log->info("incident events: spool {} open", so.directory);
  spool_failing_ = false;
  backoff_ = options_.initial_backoff;
  if (spool_->pending_records() > 0)
    log->info("incident events: {} events in the spool from before; delivering them first",
              spool_->pending_records());
  LoadOpen();
  publisher_ = std::make_unique<Publisher>(spool_.get(), options_.publisher, metrics_);
  publisher_->Start();
  return true;
}

void Pipeline::Submit(const alerting::Alert& alert, bool dropped) {
  Transition t{alert, dropped, options_.clock()};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() < options_.queue_capacity) {
      queue_.push_back(std::move(t));
      cv_.notify_one();
      return;
    }
  }
  // The writer is far behind (the disk hangs): this transition is lost.
  const bool closes = dropped || alert.state == alerting::AlertState::kResolved;
  CountDrop(closes ? EventType::kClosed : EventType::kOpened, kDropQueueFull);
}

void Pipeline::CountDrop(EventType t, const char* reason) {
  if (metrics_ != nullptr) metrics_->dropped(t, reason).Increment();
  std::lock_guard<std::mutex> lock(drop_mu_);
  ++dropped_;
  const auto now = Steady::now();
  if (last_drop_log_ != Steady::time_point{} && now - last_drop_log_ < std::chrono::minutes(1)) return;
  last_drop_log_ = now;
  GetLogger("incidents")
      ->error("incident events: dropped a {} event ({}); {} dropped since start", TypeName(t), reason,
              dropped_);
}

Pipeline::Ready Pipeline::Make(IncidentEvent e) {
  e.event_id = NewEventId();
  e.instance = instance_;
  if (options_.cluster_id) e.cluster_id = options_.cluster_id();
  if (metrics_ != nullptr) metrics_->events(e.type).Increment();
  Ready r;
  r.json = ToJson(e);
  r.event = std::move(e);
  return r;
}

void Pipeline::MakeRenotifications(SysTime now, std::deque<Ready>* out) {
  const Millis every = options_.config.renotify_interval;
  if (every.count() <= 0 || options_.alerts == nullptr || open_.empty()) return;
  std::shared_ptr<const alerting::AlertsSnapshot> snap;
  for (auto& entry : open_) {
    Open& o = entry.second;
    if (now - o.last_event < every) continue;
    if (!snap) snap = options_.alerts->Current();
    auto it =
        std::lower_bound(snap->alerts.begin(), snap->alerts.end(), entry.first,
                         [](const alerting::Alert& a, const alerting::Labels& l) { return a.labels < l; });
    // Only the same firing episode (its resolution may still be in the queue).
    if (it == snap->alerts.end() || it->labels != entry.first || it->state != alerting::AlertState::kFiring ||
        it->active_at != o.alert_active_at)
      continue;
    IncidentEvent e = EventFromAlert(EventType::kRenotified, *it, now);
    e.incident_id = o.incident_id;
    e.detected_at = o.detected_at;
    e.started_at = o.started_at;
    e.sequence = o.next_sequence++;
    o.last_event = now;
    o.value = it->value;
    o.annotations = it->annotations;
    open_dirty_ = true;
    out->push_back(Make(std::move(e)));
  }
}

void Pipeline::TryAppend(std::deque<Ready>* ready, bool final_try) {
  if (!spool_ && ((!final_try && Steady::now() < retry_at_) || !OpenSpool(true))) return;
  if (spool_failing_ && !final_try && Steady::now() < retry_at_) return;
  std::vector<Spool::Entry> entries;
  entries.reserve(ready->size());
  for (const Ready& r : *ready)
    entries.push_back({r.event.incident_id, r.json, r.event.type == EventType::kRenotified});
  const Spool::AppendResult result = spool_->Append(entries, UnixMs(options_.clock()));
  auto log = GetLogger("incidents");
  if (!result.status.ok) {
    if (!spool_failing_) {
      log->error(
          "incident events: cannot write the spool: {}; {} events wait in memory, retrying with backoff",
          result.status.message, ready->size());
    }
    spool_failing_ = true;
    retry_at_ = Steady::now() + backoff_;
    backoff_ = std::min(options_.max_backoff, backoff_ * 2);
    return;
  }
  if (spool_failing_) log->info("incident events: spool writable again");
  spool_failing_ = false;
  backoff_ = options_.initial_backoff;
  for (size_t i = 0; i < ready->size(); ++i) {
    const EventType t = (*ready)[i].event.type;
    if (result.accepted[i]) {
      accepted_.fetch_add(1);
      if (metrics_ != nullptr) metrics_->spooled(t).Increment();
    } else {
      CountDrop(t, kDropSpoolFull);
    }
  }
  ready->clear();
  if (publisher_) publisher_->Wake();
  if (open_dirty_) StoreOpen();
}

void Pipeline::CloseOrphans(SysTime now, std::deque<Ready>* out) {
  if (orphans_.empty() || now < orphan_deadline_) return;
  std::shared_ptr<const alerting::AlertsSnapshot> snap =
      options_.alerts != nullptr ? options_.alerts->Current() : std::make_shared<alerting::AlertsSnapshot>();
  for (auto it = orphans_.begin(); it != orphans_.end();) {
    auto a =
        std::lower_bound(snap->alerts.begin(), snap->alerts.end(), it->first,
                         [](const alerting::Alert& x, const alerting::Labels& l) { return x.labels < l; });
    const bool active =
        a != snap->alerts.end() && a->labels == it->first &&
        (a->state == alerting::AlertState::kPending || a->state == alerting::AlertState::kFiring);
    if (active) {  // pending again (a long `for`), or its firing transition is on its way
      ++it;
      continue;
    }
    const Open& o = it->second;
    alerting::Alert last;
    last.labels = it->first;
    last.annotations = o.annotations;
    last.value = o.value;
    last.active_at = o.detected_at;
    last.fired_at = o.started_at;
    last.state = alerting::AlertState::kResolved;
    last.resolved_at = now;
    IncidentEvent e = EventFromAlert(EventType::kClosed, last, now);
    e.incident_id = o.incident_id;
    e.sequence = o.next_sequence;
    e.close_reason = "restart";
    out->push_back(Make(std::move(e)));
    it = orphans_.erase(it);
    open_dirty_ = true;
  }
}

void Pipeline::StoreOpen() {
  nlohmann::json list = nlohmann::json::array();
  for (const auto* table : {&open_, &orphans_}) {
    for (const auto& entry : *table) {
      const Open& o = entry.second;
      list.push_back({{"labels", entry.first},
                      {"annotations", o.annotations},
                      {"incident_id", o.incident_id},
                      {"detected_at_ms", UnixMs(o.detected_at)},
                      {"started_at_ms", UnixMs(o.started_at)},
                      {"next_sequence", o.next_sequence},
                      {"value", std::isfinite(o.value) ? nlohmann::json(o.value) : nlohmann::json()}});
    }
  }
  const std::string text = nlohmann::json{{"version", 1}, {"incidents", list}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (Status st = spool_->StoreFile(kOpenFile, text); !st.ok) {
    GetLogger("incidents")->warn("incident events: cannot record the open incidents ({})", st.message);
    return;
  }
  open_dirty_ = false;
}

void Pipeline::LoadOpen() {
  auto log = GetLogger("incidents");
  auto text = spool_->LoadFile(kOpenFile);
  if (!text.ok()) {
    log->warn("incident events: {}; incidents open before the restart are not continued",
              text.status().message);
    return;
  }
  if (text.value().empty()) return;
  try {
    const nlohmann::json j = nlohmann::json::parse(text.value());
    for (const auto& item : j.at("incidents")) {
      Open o;
      o.incident_id = item.at("incident_id").get<std::string>();
      o.detected_at = FromMs(item.at("detected_at_ms").get<int64_t>());
      o.started_at = FromMs(item.at("started_at_ms").get<int64_t>());
      o.next_sequence = item.at("next_sequence").get<uint64_t>();
      o.annotations = item.at("annotations").get<Labels>();
      o.value = item.at("value").is_number() ? item.at("value").get<double>() : 0.0;
      orphans_[item.at("labels").get<Labels>()] = std::move(o);
    }
  } catch (const std::exception& e) {
    log->warn("incident events: {}/{} unreadable ({}); incidents open before the restart are not continued",
              spool_->directory(), kOpenFile, e.what());
    orphans_.clear();
    return;
  }
  orphan_deadline_ = options_.clock() + options_.orphan_grace;
  if (!orphans_.empty())
    log->info("incident events: {} incidents open before the restart; continued if their alert fires again",
              orphans_.size());
}

void Pipeline::WriterLoop() {
  std::deque<Ready> ready;  // made (event id assigned), not yet accepted
  for (;;) {
    std::deque<Transition> batch;
    bool stopping = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto until = Steady::now() + std::chrono::seconds(1);
      if (!ready.empty() && retry_at_ > Steady::now()) until = std::min(until, retry_at_);
      cv_.wait_until(lock, until, [&] { return !queue_.empty() || stopping_; });
      batch.swap(queue_);
      stopping = stopping_;
    }
    for (Transition& t : batch) {
      const alerting::Alert& a = t.alert;
      open_dirty_ = true;
      if (a.state == alerting::AlertState::kFiring && !t.dropped) {
        auto orphan = orphans_.find(a.labels);
        if (orphan != orphans_.end()) {
          // Open before the restart and firing again: the same incident goes on.
          Open o = std::move(orphan->second);
          orphans_.erase(orphan);
          IncidentEvent e = EventFromAlert(EventType::kRenotified, a, t.at);
          e.incident_id = o.incident_id;
          e.detected_at = o.detected_at;
          e.started_at = o.started_at;
          e.sequence = o.next_sequence++;
          o.alert_active_at = a.active_at;
          o.last_event = t.at;
          o.annotations = a.annotations;
          o.value = a.value;
          open_[a.labels] = std::move(o);
          ready.push_back(Make(std::move(e)));
          continue;
        }
        IncidentEvent e = EventFromAlert(EventType::kOpened, a, t.at);
        e.sequence = 0;
        open_[a.labels] =
            Open{e.incident_id, a.active_at, a.fired_at, a.active_at, 1, t.at, a.annotations, a.value};
        ready.push_back(Make(std::move(e)));
        continue;
      }
      IncidentEvent e = EventFromAlert(EventType::kClosed, a, t.at);
      auto it = open_.find(a.labels);
      if (it != open_.end() && it->second.alert_active_at == a.active_at) {
        e.incident_id = it->second.incident_id;
        e.detected_at = it->second.detected_at;
        e.started_at = it->second.started_at;
        e.sequence = it->second.next_sequence;
      } else {
        e.sequence = 1;  // its opened event was lost (counted when it was dropped)
      }
      if (it != open_.end()) open_.erase(it);
      ready.push_back(Make(std::move(e)));
    }
    // A spool that could not be opened may hold events of an earlier run:
    // retried without waiting for a new event.
    if (!spool_ && Steady::now() >= retry_at_) OpenSpool(true);
    MakeRenotifications(options_.clock(), &ready);
    CloseOrphans(options_.clock(), &ready);
    // Bounded while the spool cannot be written: re-notifications go first,
    // then the newest.
    while (ready.size() > options_.queue_capacity) {
      auto renotified = std::find_if(ready.begin(), ready.end(),
                                     [](const Ready& r) { return r.event.type == EventType::kRenotified; });
      auto victim = renotified != ready.end() ? renotified : std::prev(ready.end());
      CountDrop(victim->event.type, kDropQueueFull);
      ready.erase(victim);
    }
    if (!ready.empty()) TryAppend(&ready, stopping);
    if (stopping) {
      if (!ready.empty())
        GetLogger("incidents")
            ->error("incident events: {} events not accepted at shutdown (the spool failed)", ready.size());
      return;
    }
  }
}

void Pipeline::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (writer_.joinable()) writer_.join();
  if (publisher_) publisher_->Stop();
  publisher_.reset();
  spool_.reset();
}

}  // namespace dora::incidents
