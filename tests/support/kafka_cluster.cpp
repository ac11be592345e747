#include "support/kafka_cluster.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef DORA_SOURCE_DIR
#error "kafka_cluster.cpp needs -DDORA_SOURCE_DIR=\"<repo root>\""
#endif

extern char** environ;

namespace dora::test {

namespace {

using Clock = std::chrono::steady_clock;

std::string Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// Resolves a program name against PATH (before fork: execv in the child is then
// the only thing left to do).
std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  std::string path = Getenv("PATH");
  if (path.empty()) path = "/usr/local/bin:/usr/bin:/bin";
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) dir = ".";
    std::string full = dir + "/" + name;
    if (access(full.c_str(), X_OK) == 0) return full;
  }
  return name;
}

std::string Join(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

// Value of a top-level string field in cluster.json ("key": "value"); enough for
// the flat strings kafkactl writes (no escapes in them).
std::string JsonString(const std::string& text, const std::string& key) {
  std::string needle = "\"" + key + "\"";
  auto p = text.find(needle);
  if (p == std::string::npos) return "";
  p = text.find(':', p + needle.size());
  if (p == std::string::npos) return "";
  p = text.find('"', p);
  if (p == std::string::npos) return "";
  auto e = text.find('"', p + 1);
  if (e == std::string::npos) return "";
  return text.substr(p + 1, e - p - 1);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Describe(const std::vector<std::string>& args, const CtlRun& r) {
  std::string msg = "kafkactl " + Join(args);
  if (r.timed_out)
    msg += " timed out";
  else
    msg += " failed (exit " + std::to_string(r.exit_code) + ")";
  if (!r.err.empty()) msg += ":\n" + r.err;
  if (!r.out.empty()) msg += "\n[stdout]\n" + r.out;
  return msg;
}

}  // namespace

std::string KafkactlPath() {
  std::string over = Getenv("DORA_KAFKACTL");
  if (!over.empty()) return over;
  return std::string(DORA_SOURCE_DIR) + "/tests/kafka/kafkactl.py";
}

CtlRun RunKafkactl(const std::vector<std::string>& args, std::chrono::seconds timeout,
                   const std::string& dir) {
  CtlRun r;
  std::string python = Getenv("DORA_PYTHON");
  python = FindProgram(python.empty() ? "python3" : python);
  std::string script = KafkactlPath();

  // argv / envp are built before fork(): the child only calls async-signal-safe functions.
  std::vector<std::string> argv_s = {python, script};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; e && *e; ++e) {
    if (!dir.empty() && std::strncmp(*e, "DORA_KAFKA_DIR=", 15) == 0) continue;
    env_s.emplace_back(*e);
  }
  if (!dir.empty()) env_s.push_back("DORA_KAFKA_DIR=" + dir);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2: " + std::string(strerror(errno)));
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    throw std::runtime_error("pipe2: " + std::string(strerror(errno)));
  }
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], devnull})
      if (fd >= 0) close(fd);
    throw std::runtime_error("fork: " + std::string(strerror(e)));
  }
  if (pid == 0) {
    // Own process group: a timeout kills kafkactl and the tool JVMs it runs, and the
    // terminal's ctrl-C goes to the test runner only (the watchdog cleans up then).
    setpgid(0, 0);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    execve(argv[0], argv.data(), envp.data());
    static const char kMsg[] = "kafkactl: exec of python failed\n";
    ssize_t ignored = write(2, kMsg, sizeof kMsg - 1);
    (void)ignored;
    _exit(127);
  }
  setpgid(pid, pid);  // also from the parent: no race with the kill below
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (devnull >= 0) close(devnull);

  auto deadline = Clock::now() + timeout;
  int fds[2] = {out_pipe[0], err_pipe[0]};
  std::string* bufs[2] = {&r.out, &r.err};
  bool open_fd[2] = {true, true};
  bool exited = false;
  int status = 0;
  Clock::time_point drain_until{};
  char buf[8192];
  while (open_fd[0] || open_fd[1] || !exited) {
    auto now = Clock::now();
    if (now >= deadline) {
      r.timed_out = true;
      break;
    }
    if (!exited) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        exited = true;
        // A grandchild might still hold the pipes: drain briefly, never forever.
        drain_until = now + std::chrono::seconds(2);
      }
    }
    if (exited && now >= drain_until) break;
    if (!open_fd[0] && !open_fd[1]) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    pollfd pfd[2];
    int n = 0, idx[2];
    for (int i = 0; i < 2; ++i) {
      if (!open_fd[i]) continue;
      pfd[n] = {fds[i], POLLIN, 0};
      idx[n++] = i;
    }
    int pr = poll(pfd, n, 100);
    if (pr < 0 && errno != EINTR) break;
    for (int k = 0; k < n && pr > 0; ++k) {
      if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(pfd[k].fd, buf, sizeof buf);
      if (got > 0) {
        bufs[idx[k]]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        open_fd[idx[k]] = false;
      }
    }
  }
  close(out_pipe[0]);
  close(err_pipe[0]);
  if (r.timed_out) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
  }
  if (!exited) {
    // Bounded: after SIGKILL (or a closed pipe) the child goes away promptly.
    auto end = Clock::now() + std::chrono::seconds(r.timed_out ? 10 : 30);
    while (Clock::now() < end) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid || (w < 0 && errno == ECHILD)) {
        exited = w == pid;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!exited && !r.timed_out) {
      r.timed_out = true;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
  }
  if (r.timed_out) {
    r.exit_code = -1;
    r.err += "\n(kafkactl killed after " + std::to_string(timeout.count()) + "s timeout)";
  } else if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.exit_code = 128 + WTERMSIG(status);
  }
  return r;
}

std::string KafkaCluster::DefaultVersion() {
  std::string v = Getenv("DORA_KAFKA_VERSION");
  return v.empty() ? "3.9.1" : v;
}

KafkaCluster::KafkaCluster(std::string dir, std::string version, int nodes)
    : dir_(std::move(dir)), version_(std::move(version)), nodes_(nodes) {}

std::unique_ptr<KafkaCluster> KafkaCluster::Start(int nodes, const std::string& version,
                                                  const std::vector<std::string>& broker_configs) {
  std::string tmp = Getenv("TMPDIR");
  if (tmp.empty()) tmp = "/tmp";
  std::string templ = tmp + "/dora-kafka-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp " + templ + ": " + strerror(errno));
  std::string dir(buf.data());

  std::vector<std::string> args = {"start",
                                   "--dir",
                                   dir,
                                   "--nodes",
                                   std::to_string(nodes),
                                   "--version",
                                   version,
                                   "--watch-pid",
                                   std::to_string(getpid())};
  for (const auto& c : broker_configs) {
    args.push_back("--config");
    args.push_back(c);
  }
  // Generous: the first run also downloads the jars (kafkactl bounds the readiness wait itself).
  CtlRun r = RunKafkactl(args, std::chrono::seconds(900), dir);
  if (r.exit_code != 0) {
    // kafkactl already stopped whatever it started; make sure, then clean up.
    RunKafkactl({"stop", "--dir", dir, "--kill"}, std::chrono::seconds(60), dir);
    std::string msg = Describe(args, r);
    if (Getenv("DORA_KAFKA_KEEP").empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    } else {
      msg += "\n(kept " + dir + ")";
    }
    throw std::runtime_error(msg);
  }
  std::unique_ptr<KafkaCluster> c(new KafkaCluster(dir, version, nodes));
  c->bootstrap_ = JsonString(ReadAll(dir + "/cluster.json"), "bootstrap");
  if (c->bootstrap_.empty())
    throw std::runtime_error("kafkactl start: no bootstrap in " + dir + "/cluster.json");
  return c;
}

KafkaCluster::~KafkaCluster() {
  try {
    // SIGKILL: the data is discarded anyway, and a graceful stop of a 3-node
    // KRaft quorum takes several seconds (the last controller waits for voters).
    CtlRun r = RunKafkactl({"stop", "--dir", dir_, "--kill"}, std::chrono::seconds(60), dir_);
    if (r.exit_code != 0) fprintf(stderr, "%s\n", Describe({"stop", "--dir", dir_, "--kill"}, r).c_str());
  } catch (const std::exception& e) {
    fprintf(stderr, "KafkaCluster: stop failed: %s\n", e.what());
  }
  if (Getenv("DORA_KAFKA_KEEP").empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  } else {
    fprintf(stderr, "KafkaCluster: kept %s\n", dir_.c_str());
  }
}

std::string KafkaCluster::Ctl(const std::vector<std::string>& args, std::chrono::seconds timeout) const {
  CtlRun r = RunKafkactl(args, timeout, dir_);
  if (r.exit_code != 0) throw std::runtime_error(Describe(args, r));
  return r.out;
}

void KafkaCluster::StopNode(int id, bool kill) {
  std::vector<std::string> a = {"stop-node", "--dir", dir_, "--id", std::to_string(id)};
  if (kill) a.push_back("--kill");
  Ctl(a, std::chrono::seconds(90));
}

void KafkaCluster::StartNode(int id) {
  Ctl({"start-node", "--dir", dir_, "--id", std::to_string(id)}, std::chrono::seconds(180));
}

void KafkaCluster::FreezeNode(int id) { Ctl({"freeze-node", "--dir", dir_, "--id", std::to_string(id)}); }

void KafkaCluster::ThawNode(int id) { Ctl({"thaw-node", "--dir", dir_, "--id", std::to_string(id)}); }

void KafkaCluster::CreateTopic(const std::string& name, int partitions, int rf,
                               const std::vector<std::string>& configs) {
  std::vector<std::string> a = {
      "topic-create", "--dir",           dir_, "--name", name, "--partitions", std::to_string(partitions),
      "--rf",         std::to_string(rf)};
  for (const auto& c : configs) {
    a.push_back("--config");
    a.push_back(c);
  }
  Ctl(a);
}

void KafkaCluster::DeleteTopic(const std::string& name) {
  Ctl({"topic-delete", "--dir", dir_, "--name", name});
}

void KafkaCluster::StartMirrorMaker(const KafkaCluster& target, const std::string& topics,
                                    const std::string& source_alias, const std::string& target_alias,
                                    const std::vector<std::string>& configs) {
  std::vector<std::string> a = {"mm2-start",  "--dir",          dir_,         "--target-dir",
                                target.dir(), "--source-alias", source_alias, "--target-alias",
                                target_alias, "--topics",       topics,       "--timeout",
                                "150"};
  for (const auto& c : configs) {
    a.push_back("--config");
    a.push_back(c);
  }
  Ctl(a, std::chrono::seconds(200));
}

void KafkaCluster::StopMirrorMaker(bool kill) {
  std::vector<std::string> a = {"mm2-stop", "--dir", dir_};
  if (kill) a.push_back("--kill");
  Ctl(a, std::chrono::seconds(60));
}

void KafkaCluster::SeedTopics() { Ctl({"seed-topics", "--dir", dir_}); }

void KafkaCluster::Produce(const std::string& topic, long n, long rate) {
  Ctl({"produce", "--dir", dir_, "--topic", topic, "--num-records", std::to_string(n), "--throughput",
       std::to_string(rate < 0 ? -1 : rate)},
      std::chrono::seconds(600));
}

std::string KafkaCluster::Groups(const std::vector<std::string>& args) {
  std::vector<std::string> a = {"groups", "--dir", dir_, "--"};
  a.insert(a.end(), args.begin(), args.end());
  return Ctl(a);
}

std::string KafkaCluster::NodeLogTail(int id, int lines) const {
  std::ifstream in(dir_ + "/node-" + std::to_string(id) + "/logs/server.log");
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string s;
  for (const auto& l : last) s += l + "\n";
  return s;
}

std::string KafkaCluster::DataDir() const {
  std::ifstream in(dir_ + "/cluster.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string s = ss.str();
  std::smatch m;
  static const std::regex re("\"data_dir\": *\"([^\"]*)\"");
  return std::regex_search(s, m, re) ? std::string(m[1]) : std::string();
}

}  // namespace dora::test
