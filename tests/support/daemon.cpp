#include "support/daemon.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace dora::test {

std::string DeadBroker() { return "--kafka.server=127.0.0.1:" + std::to_string(FreePort()); }

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

HttpReply HttpGet(int port, const std::string& path, bool gzip) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(2, 0);
  cli.set_read_timeout(10, 0);
  cli.set_decompress(false);
  httplib::Headers headers;
  if (gzip) headers.emplace("Accept-Encoding", "gzip");
  auto res = cli.Get(path.c_str(), headers);
  HttpReply r;
  if (!res) return r;
  r.status = res->status;
  r.body = res->body;
  r.content_encoding = res->get_header_value("Content-Encoding");
  return r;
}

namespace {
pid_t Spawn(const std::vector<std::string>& args, const std::string& out_path, const std::string& err_path) {
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // A test binary that crashes or is killed takes its daemon with it.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = err_path == out_path ? out : open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    // The test runner may block signals; the daemon must see a clean mask.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // DORA_TEST_EXPORTER_BIN: another build of the binary (e.g. an older
    // commit's, to see a regression test fail on the code it fixes).
    const char* bin = std::getenv("DORA_TEST_EXPORTER_BIN");
    if (bin == nullptr || *bin == '\0') bin = DORA_EXPORTER_BIN;
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(bin));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(bin, argv.data());
    _exit(127);
  }
  return pid;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string TempPath(const std::string& stem) {
  static int counter = 0;
  return "/tmp/dora-test-" + std::to_string(getpid()) + "-" + std::to_string(++counter) + "-" + stem;
}
}  // namespace

Daemon::Daemon(std::vector<std::string> args) {
  port_ = FreePort();
  args.push_back("--web.listen-address=127.0.0.1:" + std::to_string(port_));
  log_path_ = TempPath("daemon.log");
  pid_ = Spawn(args, log_path_, log_path_);
}

Daemon::~Daemon() {
  if (Running()) {
    Signal(SIGTERM);
    if (Wait(std::chrono::seconds(15)) == -1) {
      kill(pid_, SIGKILL);
      Wait(std::chrono::seconds(5));
    }
  }
  unlink(log_path_.c_str());
}

bool Daemon::Running() {
  if (exit_code_ != -2) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

bool Daemon::WaitHealthy(std::chrono::seconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (!Running()) return false;
    if (HttpGet(port_, "/healthz").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string Daemon::Metrics() { return HttpGet(port_, "/metrics").body; }

bool Daemon::WaitFor(const std::function<bool(const std::vector<Sample>&)>& pred,
                     std::chrono::seconds timeout, std::vector<Sample>* last) {
  auto end = std::chrono::steady_clock::now() + timeout;
  for (int i = 0; i < 10000 && std::chrono::steady_clock::now() < end; ++i) {
    auto samples = Samples();
    if (last) *last = samples;
    if (pred(samples)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

void Daemon::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

int Daemon::Wait(std::chrono::seconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (!Running()) return exit_code_;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

std::string Daemon::Log() const { return ReadFile(log_path_); }

RunResult RunExporter(const std::vector<std::string>& args, std::chrono::seconds timeout) {
  std::string out = TempPath("out"), err = TempPath("err");
  pid_t pid = Spawn(args, out, err);
  RunResult r;
  auto end = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < end) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (r.exit_code == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  unlink(out.c_str());
  unlink(err.c_str());
  return r;
}

}  // namespace dora::test
