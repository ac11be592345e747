#include "http/event_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "util/log.h"

namespace dora {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kListenTag = 0;
constexpr uint64_t kWakeTag = 1;
constexpr uint64_t kFirstConnId = 2;
constexpr size_t kReadChunk = 16384;
constexpr size_t kWriteBudget = 1 << 20;  // bytes per connection per wakeup: no client starves the others
constexpr auto kSweepEvery = std::chrono::milliseconds(100);
constexpr auto kLingerFor = std::chrono::milliseconds(2000);
constexpr auto kLimitLogEvery = std::chrono::seconds(30);

enum class State {
  kHandshake,  // TLS handshake under way
  kReading,    // waiting for a complete request (none sent yet, partial, or idle keep-alive)
  kBusy,       // a worker has its request
  kWriting,    // the response is being sent
  kLingering,  // our side is shut down; reading until the client closes, so it gets the whole response
};

// Which eviction list a connection is on: idle ones go first, then the ones
// that have not finished a request; busy and writing ones are never evicted.
enum class Pool { kNone, kIdle, kPending };

struct Conn {
  uint64_t id = 0;
  int fd = -1;
  SSL* ssl = nullptr;
  std::string addr;
  State state = State::kReading;
  Clock::time_point deadline;
  std::string in;      // received, not yet consumed
  size_t scanned = 0;  // bytes of `in` already searched for the end of the head
  size_t need = 0;     // nonzero: the size of the complete request (head + body) being awaited
  int served = 0;
  bool close_after = false;  // close once the current response is out
  bool peer_closed = false;  // the client sent EOF (a half-close may still get its answer)
  bool tls_wants_write = false;
  uint32_t events = 0;
  bool registered = false;
  Pool pool = Pool::kNone;
  std::list<Conn*>::iterator pool_it;
  std::list<Conn*>::iterator addr_it;
  // The response being written: pieces over `out_head`, `out_body` or the shared body.
  std::string out_head, out_body;
  std::shared_ptr<const ExpositionBody> out_shared;
  std::vector<std::string_view> pieces;
  size_t piece = 0, piece_off = 0;
};

struct Job {
  uint64_t id;
  HttpRequest request;
  int error_status;  // nonzero: answer this status without the handler
  bool close;
  bool head_only;
};

struct Done {
  uint64_t id;
  std::string head;
  std::string body;
  std::shared_ptr<const ExpositionBody> shared;
  bool send_body;
};

std::string AddressOf(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {  // one client, one address, whichever stack it came by
      inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], buf, sizeof buf);
    } else {
      inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    }
  }
  return buf;
}

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "connection closed";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

struct EventServer::Impl {
  Impl(std::string n, ConnectionLimits l, size_t w, Handler h, Finisher f)
      : name(std::move(n)),
        limits(l),
        worker_count(w == 0 ? 1 : w),
        handler(std::move(h)),
        finisher(std::move(f)),
        log(GetLogger("http")) {
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
  ~Impl() {
    if (listen_fd >= 0) close(listen_fd);
    if (wake_fd >= 0) close(wake_fd);
    if (ctx) SSL_CTX_free(ctx);
  }

  const std::string name;
  const ConnectionLimits limits;
  const size_t worker_count;
  const Handler handler;
  const Finisher finisher;
  std::shared_ptr<spdlog::logger> log;

  int listen_fd = -1;
  int wake_fd = -1;
  int epoll_fd = -1;
  int port = 0;
  SSL_CTX* ctx = nullptr;
  std::atomic<bool> stop{false};
  std::atomic<size_t> open{0};

  // Loop thread only.
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
  std::unordered_map<std::string, std::list<Conn*>> by_addr;  // oldest first
  std::list<Conn*> idle, pending;                             // oldest first
  uint64_t next_id = kFirstConnId;
  bool accept_paused = false;
  Clock::time_point accept_resume;
  Clock::time_point next_limit_log;
  uint64_t evicted = 0, refused = 0;

  // Workers.
  std::mutex job_mu;
  std::condition_variable job_cv;
  std::deque<Job> jobs;
  bool workers_stop = false;
  std::vector<std::thread> workers;
  std::mutex done_mu;
  std::vector<Done> done;

  // ---- epoll bookkeeping

  void SetInterest(Conn* c, uint32_t events) {
    if (c->registered && c->events == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = c->id;
    epoll_ctl(epoll_fd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev);
    c->registered = true;
    c->events = events;
  }

  void PutInPool(Conn* c, Pool p) {
    if (c->pool == p) return;
    TakeFromPool(c);
    if (p == Pool::kNone) return;
    auto& list = p == Pool::kIdle ? idle : pending;
    c->pool_it = list.insert(list.end(), c);
    c->pool = p;
  }

  void TakeFromPool(Conn* c) {
    if (c->pool == Pool::kNone) return;
    (c->pool == Pool::kIdle ? idle : pending).erase(c->pool_it);
    c->pool = Pool::kNone;
  }

  void Close(Conn* c) {
    TakeFromPool(c);
    auto a = by_addr.find(c->addr);
    if (a != by_addr.end()) {
      a->second.erase(c->addr_it);
      if (a->second.empty()) by_addr.erase(a);
    }
    if (c->registered) epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, nullptr);
    if (c->ssl) SSL_free(c->ssl);
    close(c->fd);
    const uint64_t id = c->id;
    conns.erase(id);  // frees c
    open.store(conns.size());
  }

  void NoteLimit(bool was_evicted, const char* which) {
    (was_evicted ? evicted : refused) += 1;
    auto now = Clock::now();
    if (now < next_limit_log) return;
    next_limit_log = now + kLimitLogEvery;
    log->warn(
        "{} listener: {} reached ({} connections open, max_connections {}, max_connections_per_address {}); "
        "{} idle or incomplete connections closed and {} new ones refused so far",
        name, which, conns.size(), limits.max_connections, limits.max_connections_per_address, evicted,
        refused);
  }

  // Closes the oldest connection of the best class among `candidates` (or all).
  bool EvictOldest(const std::list<Conn*>* of_address) {
    Conn* victim = nullptr;
    if (of_address) {
      for (Conn* c : *of_address) {
        if (c->pool == Pool::kIdle) {
          victim = c;
          break;
        }
        if (c->pool == Pool::kPending && !victim) victim = c;
      }
    } else if (!idle.empty()) {
      victim = idle.front();
    } else if (!pending.empty()) {
      victim = pending.front();
    }
    if (!victim) return false;
    log->debug("{} listener: closing {} connection from {} to make room", name,
               victim->pool == Pool::kIdle ? "an idle" : "an incomplete", victim->addr);
    Close(victim);
    return true;
  }

  // ---- accept

  void AcceptAll() {
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) return;
        if (e == EINTR || e == ECONNABORTED || e == EPROTO) continue;
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
          // Out of descriptors: make room, or stop accepting for a moment
          // (the listening socket would otherwise wake the loop in a spin).
          if (EvictOldest(nullptr)) {
            NoteLimit(true, "the open-file limit");
            continue;
          }
          NoteLimit(false, "the open-file limit");
          PauseAccept();
          return;
        }
        log->warn("{} listener: accept failed: {}", name, std::strerror(e));
        PauseAccept();
        return;
      }
      std::string addr = AddressOf(ss);
      auto& of_addr = by_addr[addr];
      if (static_cast<int>(of_addr.size()) >= limits.max_connections_per_address) {
        if (!EvictOldest(&of_addr)) {
          if (of_addr.empty()) by_addr.erase(addr);
          NoteLimit(false, "max_connections_per_address");
          close(fd);
          continue;
        }
        NoteLimit(true, "max_connections_per_address");
      }
      if (static_cast<int>(conns.size()) >= limits.max_connections) {
        if (!EvictOldest(nullptr)) {
          auto it = by_addr.find(addr);
          if (it != by_addr.end() && it->second.empty()) by_addr.erase(it);
          NoteLimit(false, "max_connections");
          close(fd);
          continue;
        }
        NoteLimit(true, "max_connections");
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto conn = std::make_unique<Conn>();
      Conn* c = conn.get();
      c->id = next_id++;
      c->fd = fd;
      c->addr = addr;
      c->deadline = Clock::now() + limits.header_timeout;
      auto& list = by_addr[addr];  // `of_addr` may have been erased by an eviction
      c->addr_it = list.insert(list.end(), c);
      conns.emplace(c->id, std::move(conn));
      open.store(conns.size());
      PutInPool(c, Pool::kPending);
      if (ctx) {
        c->ssl = SSL_new(ctx);
        if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
          log->warn("{} listener: cannot set up TLS for a connection: {}", name, OpenSslError());
          Close(c);
          continue;
        }
        SSL_set_accept_state(c->ssl);
        c->state = State::kHandshake;
      }
      SetInterest(c, EPOLLIN);
    }
  }

  void PauseAccept() {
    if (accept_paused) return;
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
    accept_paused = true;
    accept_resume = Clock::now() + std::chrono::milliseconds(100);
  }

  void ResumeAccept() {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenTag;
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
    accept_paused = false;
  }

  // ---- per-connection steps

  void OnEvent(Conn* c, uint32_t events) {
    switch (c->state) {
      case State::kHandshake:
        Handshake(c);
        return;
      case State::kReading:
        Read(c);
        return;
      case State::kWriting:
        Write(c);
        return;
      case State::kLingering:
        Linger(c);
        return;
      case State::kBusy:
        // No interest is registered: only an error or hang-up wakes us.
        if (events & (EPOLLERR | EPOLLHUP)) Close(c);
        return;
    }
  }

  void Handshake(Conn* c) {
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
      c->state = State::kReading;
      Read(c);  // the request may have come with the client's Finished
      return;
    }
    int err = SSL_get_error(c->ssl, r);
    if (err == SSL_ERROR_WANT_READ) {
      SetInterest(c, EPOLLIN);
    } else if (err == SSL_ERROR_WANT_WRITE) {
      SetInterest(c, EPOLLOUT);
    } else {
      log->debug("{} listener: TLS handshake with {} failed: {}", name, c->addr, OpenSslError());
      Close(c);
    }
  }

  size_t ReadCap() const { return limits.max_head_bytes + limits.max_body_bytes + kReadChunk; }

  void Read(Conn* c) {
    bool got = false;
    c->tls_wants_write = false;
    for (int i = 0; i < 16 && !c->peer_closed && c->in.size() < ReadCap(); ++i) {
      char buf[kReadChunk];
      if (c->ssl) {
        ERR_clear_error();
        int n = SSL_read(c->ssl, buf, sizeof buf);
        if (n > 0) {
          c->in.append(buf, static_cast<size_t>(n));
          got = true;
          continue;
        }
        int err = SSL_get_error(c->ssl, n);
        if (err == SSL_ERROR_WANT_READ) break;
        if (err == SSL_ERROR_WANT_WRITE) {
          c->tls_wants_write = true;
          break;
        }
        if (err == SSL_ERROR_ZERO_RETURN) {
          c->peer_closed = true;
          break;
        }
        log->debug("{} listener: TLS read from {} failed: {}", name, c->addr, OpenSslError());
        Close(c);
        return;
      }
      ssize_t n = recv(c->fd, buf, sizeof buf, 0);
      if (n > 0) {
        c->in.append(buf, static_cast<size_t>(n));
        got = true;
        continue;
      }
      if (n == 0) {
        c->peer_closed = true;
        break;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Close(c);
      return;
    }
    if (got && c->pool == Pool::kIdle) {
      // An idle keep-alive connection starts a request: the header deadline runs from now.
      c->deadline = Clock::now() + limits.header_timeout;
      PutInPool(c, Pool::kPending);
    }
    TryDispatch(c);
  }

  void WaitForMore(Conn* c) {
    if (c->peer_closed) {
      Close(c);
      return;
    }
    SetInterest(c, c->tls_wants_write ? EPOLLOUT : EPOLLIN);
  }

  // Parses only once the head can be complete (an empty line arrived, or it
  // is over the limit) and, while a body comes, once all of it is here: a head
  // trickled a byte at a time is scanned once, not once per byte.
  void TryDispatch(Conn* c) {
    if (c->need > 0 && c->in.size() < c->need) return WaitForMore(c);
    if (c->need == 0) {
      size_t from = c->scanned >= 3 ? c->scanned - 3 : 0;
      bool end =
          c->in.find("\n\n", from) != std::string::npos || c->in.find("\n\r\n", from) != std::string::npos;
      c->scanned = c->in.size();
      if (!end && c->in.size() <= limits.max_head_bytes) return WaitForMore(c);
    }
    HttpRequest req;
    size_t head = 0;
    int status = 0;
    ParseOutcome outcome = ParseRequestHead(c->in, limits.max_head_bytes, &req, &head, &status);
    if (outcome == ParseOutcome::kIncomplete) return WaitForMore(c);  // e.g. only leading empty lines
    c->scanned = 0;
    c->need = 0;
    Job job{c->id, HttpRequest{}, 0, true, false};
    if (outcome == ParseOutcome::kError) {
      job.error_status = status;
      c->in.clear();
    } else if (req.content_length > limits.max_body_bytes) {
      job.error_status = 413;
      c->in.clear();
    } else if (c->in.size() < head + req.content_length) {
      c->need = head + req.content_length;  // the body is still coming, within the same deadline
      return WaitForMore(c);
    } else {
      c->in.erase(0, head + req.content_length);
      ++c->served;
      req.remote_addr = c->addr;
      job.close =
          !req.keep_alive || c->peer_closed || c->served >= limits.max_requests_per_connection || stop.load();
      job.head_only = req.method == "HEAD";
      job.request = std::move(req);
    }
    c->close_after = job.close;
    c->state = State::kBusy;
    TakeFromPool(c);
    SetInterest(c, 0);
    {
      std::lock_guard<std::mutex> lock(job_mu);
      jobs.push_back(std::move(job));
    }
    job_cv.notify_one();
  }

  void StartWrite(Conn* c, Done&& d) {
    c->out_head = std::move(d.head);
    c->out_body = std::move(d.body);
    c->out_shared = std::move(d.shared);
    c->pieces.clear();
    c->pieces.emplace_back(c->out_head);
    if (d.send_body) {
      if (c->out_shared) {
        for (const auto& part : c->out_shared->parts) {
          if (part && !part->empty()) c->pieces.emplace_back(*part);
        }
      } else if (!c->out_body.empty()) {
        c->pieces.emplace_back(c->out_body);
      }
    }
    c->piece = 0;
    c->piece_off = 0;
    c->state = State::kWriting;
    c->deadline = Clock::now() + limits.write_timeout;
    Write(c);
  }

  void Write(Conn* c) {
    size_t budget = kWriteBudget;
    bool progressed = false;
    uint32_t wait_for = EPOLLOUT;
    while (c->piece < c->pieces.size() && budget > 0) {
      if (c->ssl) {
        std::string_view p = c->pieces[c->piece].substr(c->piece_off);
        int len = static_cast<int>(std::min<size_t>(p.size(), kReadChunk));
        ERR_clear_error();
        int n = SSL_write(c->ssl, p.data(), len);
        if (n <= 0) {
          int err = SSL_get_error(c->ssl, n);
          if (err == SSL_ERROR_WANT_WRITE) break;
          if (err == SSL_ERROR_WANT_READ) {
            wait_for = EPOLLIN;
            break;
          }
          log->debug("{} listener: TLS write to {} failed: {}", name, c->addr, OpenSslError());
          Close(c);
          return;
        }
        Advance(c, static_cast<size_t>(n));
        budget -= std::min(budget, static_cast<size_t>(n));
        progressed = true;
        continue;
      }
      iovec iov[16];
      int count = 0;
      for (size_t i = c->piece; i < c->pieces.size() && count < 16; ++i, ++count) {
        std::string_view p = c->pieces[i].substr(i == c->piece ? c->piece_off : 0);
        iov[count].iov_base = const_cast<char*>(p.data());
        iov[count].iov_len = std::min(p.size(), budget);
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(count);
      ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        Close(c);
        return;
      }
      Advance(c, static_cast<size_t>(n));
      budget -= std::min(budget, static_cast<size_t>(n));
      progressed = true;
    }
    if (progressed) c->deadline = Clock::now() + limits.write_timeout;
    if (c->piece < c->pieces.size()) {
      SetInterest(c, wait_for);
      return;
    }
    FinishResponse(c);
  }

  static void Advance(Conn* c, size_t n) {
    while (n > 0 && c->piece < c->pieces.size()) {
      size_t left = c->pieces[c->piece].size() - c->piece_off;
      if (n < left) {
        c->piece_off += n;
        return;
      }
      n -= left;
      ++c->piece;
      c->piece_off = 0;
    }
  }

  void FinishResponse(Conn* c) {
    c->pieces.clear();
    c->out_head.clear();
    c->out_body.clear();
    c->out_shared.reset();
    if (c->close_after || stop.load()) {
      StartClose(c);
      return;
    }
    c->state = State::kReading;
    if (c->in.empty()) {
      c->deadline = Clock::now() + limits.idle_timeout;
      PutInPool(c, Pool::kIdle);
    } else {  // a pipelined request is (partly) here
      c->deadline = Clock::now() + limits.header_timeout;
      PutInPool(c, Pool::kPending);
    }
    Read(c);  // also takes what TLS has buffered, and dispatches a pipelined request
  }

  // Sends the TLS close_notify and a FIN, then drops what the client still
  // sends until it closes: closing with unread data would reset the
  // connection and could destroy the response before the client read it.
  void StartClose(Conn* c) {
    if (c->ssl) {
      ERR_clear_error();
      SSL_shutdown(c->ssl);
    }
    shutdown(c->fd, SHUT_WR);
    c->state = State::kLingering;
    c->in.clear();
    c->deadline = Clock::now() + std::min<Clock::duration>(kLingerFor, limits.header_timeout);
    PutInPool(c, Pool::kIdle);
    SetInterest(c, EPOLLIN);
    Linger(c);
  }

  void Linger(Conn* c) {
    char buf[kReadChunk];
    for (int i = 0; i < 4; ++i) {
      ssize_t n = recv(c->fd, buf, sizeof buf, 0);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      break;
    }
    Close(c);
  }

  void Sweep(Clock::time_point now) {
    std::vector<Conn*> expired;
    for (auto& [id, c] : conns) {
      if (c->state != State::kBusy && now >= c->deadline) expired.push_back(c.get());
    }
    for (Conn* c : expired) {
      const char* why = c->state == State::kWriting ? "response write made no progress within write_timeout"
                        : c->state == State::kLingering ? "closing"
                        : c->pool == Pool::kIdle        ? "idle longer than idle_timeout"
                                                        : "request not complete within header_timeout";
      log->debug("{} listener: closing connection from {}: {}", name, c->addr, why);
      Close(c);
    }
  }

  void TakeDone() {
    uint64_t value = 0;
    while (read(wake_fd, &value, sizeof value) > 0) {
    }
    std::vector<Done> ready;
    {
      std::lock_guard<std::mutex> lock(done_mu);
      ready.swap(done);
    }
    for (auto& d : ready) {
      auto it = conns.find(d.id);
      if (it == conns.end() || it->second->state != State::kBusy) continue;  // closed meanwhile
      StartWrite(it->second.get(), std::move(d));
    }
  }

  // ---- workers

  void WorkerLoop() {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(job_mu);
        job_cv.wait(lock, [this] { return workers_stop || !jobs.empty(); });
        if (workers_stop) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      Done d{job.id, {}, {}, nullptr, !job.head_only};
      HttpResponse res;
      if (job.error_status != 0) {
        res.status = job.error_status;
        res.SetContent(std::string(StatusReason(res.status)) + "\n", "text/plain; charset=utf-8");
      } else {
        try {
          handler(job.request, &res);
        } catch (const std::exception& e) {
          log->error("request {} {} failed: {}", job.request.method, job.request.path, e.what());
          res = HttpResponse{};
          res.status = 500;
          res.SetContent("internal error\n", "text/plain");
        } catch (...) {
          log->error("request {} {} failed: unknown error", job.request.method, job.request.path);
          res = HttpResponse{};
          res.status = 500;
          res.SetContent("internal error\n", "text/plain");
        }
      }
      if (finisher) {
        try {
          finisher(&res);
        } catch (...) {
        }
      }
      d.head = SerializeResponseHead(res, job.close, !job.close && job.request.minor_version == 0);
      d.body = std::move(res.body);
      d.shared = std::move(res.shared);
      {
        std::lock_guard<std::mutex> lock(done_mu);
        done.push_back(std::move(d));
      }
      uint64_t one = 1;
      ssize_t w = write(wake_fd, &one, sizeof one);
      (void)w;
    }
  }

  bool Loop() {
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0 || wake_fd < 0 || listen_fd < 0) return false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeTag;
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev);
    ResumeAccept();
    for (size_t i = 0; i < worker_count; ++i) workers.emplace_back([this] { WorkerLoop(); });
    bool ok = true;
    auto next_sweep = Clock::now() + kSweepEvery;
    epoll_event events[256];
    while (!stop.load()) {
      int n = epoll_wait(epoll_fd, events, 256, static_cast<int>(kSweepEvery.count()));
      if (n < 0) {
        if (errno == EINTR) continue;
        log->error("{} listener: epoll_wait failed: {}", name, std::strerror(errno));
        ok = false;
        break;
      }
      for (int i = 0; i < n; ++i) {
        uint64_t tag = events[i].data.u64;
        if (tag == kListenTag) {
          AcceptAll();
        } else if (tag == kWakeTag) {
          TakeDone();
        } else {
          auto it = conns.find(tag);
          if (it != conns.end()) OnEvent(it->second.get(), events[i].events);
        }
      }
      auto now = Clock::now();
      if (now >= next_sweep) {
        Sweep(now);
        next_sweep = now + kSweepEvery;
      }
      if (accept_paused && now >= accept_resume) ResumeAccept();
    }
    {
      std::lock_guard<std::mutex> lock(job_mu);
      workers_stop = true;
    }
    job_cv.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
    while (!conns.empty()) Close(conns.begin()->second.get());
    close(epoll_fd);
    epoll_fd = -1;
    close(listen_fd);
    listen_fd = -1;
    return ok;
  }
};

EventServer::EventServer(std::string name, ConnectionLimits limits, size_t workers, Handler handler,
                         Finisher finisher)
    : impl_(std::make_unique<Impl>(std::move(name), limits, workers, std::move(handler),
                                   std::move(finisher))) {}

EventServer::~EventServer() = default;

Status EventServer::Listen(const std::string& host, int port, const std::string& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int gai = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (gai != 0) return Status::Error(Reason::kBind, "cannot listen on " + address + ": " + gai_strerror(gai));
  int last_errno = 0;
  int fd = -1;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    // SO_REUSEADDR only: SO_REUSEPORT would let a second exporter silently
    // share the port instead of failing to start.
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0) break;
    last_errno = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    std::string cause = last_errno == EADDRINUSE || last_errno == 0
                            ? "address already in use or not available"
                            : std::strerror(last_errno);
    return Status::Error(Reason::kBind, "cannot listen on " + address + ": " + cause);
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  impl_->port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (impl_->listen_fd >= 0) close(impl_->listen_fd);
  impl_->listen_fd = fd;
  return Status::Ok();
}

int EventServer::port() const { return impl_->port; }

void EventServer::UseTls(SSL_CTX* ctx) {
  if (impl_->ctx) SSL_CTX_free(impl_->ctx);
  impl_->ctx = ctx;
  // Idle connections give their TLS read/write buffers back.
  SSL_CTX_set_mode(
      ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

bool EventServer::Run() {
  if (impl_->stop.load()) return true;
  // TLS writes go through OpenSSL's socket BIO, which has no MSG_NOSIGNAL: a
  // client that went away must not raise SIGPIPE in the process. Blocked for
  // this thread while it serves; any pending one is taken before unblocking.
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  bool ok = impl_->Loop();
  timespec zero{0, 0};
  for (int i = 0; i < 16 && sigtimedwait(&pipe_set, nullptr, &zero) > 0; ++i) {
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return ok;
}

void EventServer::Stop() {
  impl_->stop.store(true);
  uint64_t one = 1;
  ssize_t w = write(impl_->wake_fd, &one, sizeof one);
  (void)w;
}

size_t EventServer::open_connections() const { return impl_->open.load(); }

}  // namespace dora
