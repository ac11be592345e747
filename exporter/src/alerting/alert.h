#pragma once
// The alerts the daemon evaluates itself, as the rest of the daemon reads
// them: the Alertmanager push, the status page and /api/v1/alerts, the
// ALERTS series and incident events. The evaluator (alerting/evaluator.h)
// publishes an AlertsSnapshot after each evaluation; readers take the
// current one from an AlertSource and never wait on the evaluator.
//
// Semantics are Prometheus's: an alert's identity is its labels (alertname,
// the input series' labels, then the rule's labels, which win); it is pending
// from the first true evaluation, firing once the rule's `for` has elapsed,
// and resolved when the condition no longer holds (after `keep_firing_for`).
// A pending alert that turns false is dropped; a resolved one is listed for
// kResolvedRetention so that its resolution is sent again.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dora::alerting {

using Labels = std::map<std::string, std::string>;  // sorted: equal identities compare equal
using SysTime = std::chrono::system_clock::time_point;

inline constexpr std::chrono::minutes kResolvedRetention{15};

enum class AlertState { kPending, kFiring, kResolved };

// "pending", "firing", "resolved" (Prometheus's alertstate values, plus ours
// for a kept resolved alert).
constexpr std::string_view StateName(AlertState s) {
  switch (s) {
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
    case AlertState::kResolved:
      return "resolved";
  }
  return "pending";
}

struct Alert {
  Labels labels;       // identity; includes alertname and severity
  Labels annotations;  // summary, description, runbook_url: rendered with the value and labels
  AlertState state = AlertState::kPending;
  double value = 0;       // the condition's value at its last true evaluation
  SysTime active_at{};    // first true evaluation (the pending start: when it was detected)
  SysTime fired_at{};     // when it became firing; epoch while pending
  SysTime resolved_at{};  // when it resolved; epoch unless resolved
  const std::string& name() const {
    static const std::string kNone;
    auto it = labels.find("alertname");
    return it == labels.end() ? kNone : it->second;
  }
};

// A snapshot's alerts, read-only. Each alert is shared: an evaluation that
// changed one alert makes a new list of pointers and one new Alert, and the
// snapshots of evaluations that changed no alert share the list itself
// (copying 10,000 alerts was most of an evaluation).
class AlertList {
 public:
  using Item = std::shared_ptr<const Alert>;
  using Items = std::vector<Item>;
  // Random access over the alerts themselves (lower_bound works on it).
  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = Alert;
    using difference_type = std::ptrdiff_t;
    using pointer = const Alert*;
    using reference = const Alert&;
    const_iterator() = default;
    explicit const_iterator(Items::const_iterator it) : it_(it) {}
    reference operator*() const { return **it_; }
    pointer operator->() const { return it_->get(); }
    reference operator[](difference_type n) const { return *it_[n]; }
    const_iterator& operator++() {
      ++it_;
      return *this;
    }
    const_iterator operator++(int) {
      auto t = *this;
      ++it_;
      return t;
    }
    const_iterator& operator--() {
      --it_;
      return *this;
    }
    const_iterator operator--(int) {
      auto t = *this;
      --it_;
      return t;
    }
    const_iterator& operator+=(difference_type n) {
      it_ += n;
      return *this;
    }
    const_iterator& operator-=(difference_type n) {
      it_ -= n;
      return *this;
    }
    friend const_iterator operator+(const_iterator a, difference_type n) { return a += n; }
    friend const_iterator operator+(difference_type n, const_iterator a) { return a += n; }
    friend const_iterator operator-(const_iterator a, difference_type n) { return a -= n; }
    friend difference_type operator-(const const_iterator& a, const const_iterator& b) {
      return a.it_ - b.it_;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) { return a.it_ == b.it_; }
    friend bool operator!=(const const_iterator& a, const const_iterator& b) { return a.it_ != b.it_; }
    friend bool operator<(const const_iterator& a, const const_iterator& b) { return a.it_ < b.it_; }
    friend bool operator>(const const_iterator& a, const const_iterator& b) { return a.it_ > b.it_; }
    friend bool operator<=(const const_iterator& a, const const_iterator& b) { return a.it_ <= b.it_; }
    friend bool operator>=(const const_iterator& a, const const_iterator& b) { return a.it_ >= b.it_; }

   private:
    Items::const_iterator it_;
  };
  using value_type = Alert;
  using iterator = const_iterator;
  AlertList() = default;
  AlertList(const std::vector<Alert>& alerts) {  // NOLINT(google-explicit-constructor): a list is its alerts
    auto items = std::make_shared<Items>();
    items->reserve(alerts.size());
    for (const Alert& a : alerts) items->push_back(std::make_shared<const Alert>(a));
    list_ = std::move(items);
  }
  AlertList(std::initializer_list<Alert> alerts) : AlertList(std::vector<Alert>(alerts)) {}
  explicit AlertList(std::shared_ptr<const Items> list) : list_(std::move(list)) {}
  const_iterator begin() const { return const_iterator(items().begin()); }
  const_iterator end() const { return const_iterator(items().end()); }
  size_t size() const { return items().size(); }
  bool empty() const { return items().empty(); }
  const Alert& operator[](size_t i) const { return *items()[i]; }
  std::vector<Alert> ToVector() const { return std::vector<Alert>(begin(), end()); }
  // The shared list (null for an empty one): equal in two snapshots when
  // the later evaluation changed no alert.
  const std::shared_ptr<const Items>& shared() const { return list_; }

 private:
  const Items& items() const {
    static const Items kEmpty;
    return list_ ? *list_ : kEmpty;
  }
  std::shared_ptr<const Items> list_;
};

struct AlertsSnapshot {
  AlertList alerts;  // pending, firing and kept resolved ones, ordered by labels
  SysTime evaluated_at{};
  uint64_t generation = 0;  // grows with every evaluation
  // alertname -> when its rule was last evaluated (a rule whose collector
  // failed is not evaluated: its alerts keep their state and this time).
  std::map<std::string, SysTime> rules_evaluated;
};

// Where readers get the current alerts.
class AlertSource {
 public:
  virtual ~AlertSource() = default;
  // Never null (an empty snapshot before the first evaluation).
  virtual std::shared_ptr<const AlertsSnapshot> Current() const = 0;
};

}  // namespace dora::alerting
