// leaseq-bench-beanstalk: the beanstalkd peer of the throughput benchmark,
// spoken in beanstalkd's text protocol (no client library is in Debian).
//
//   leaseq-bench-beanstalk --port P --jobs N [--procs 2] [--conns 4]
//                          [--window W] [--seconds S]
//
// Forks --procs worker processes with --conns connections each (one thread
// per connection): `reserve-with-timeout 1`, then `delete` the job, in a
// loop. Once beanstalkd counts them all as workers, one client puts N jobs
// (8-byte bodies) on one connection, W commands in flight (W = 1: put, wait
// for INSERTED, put again), and then polls `stats` until `cmd-delete`
// reaches N. Prints one JSON object: jobs, seconds (first put to the last
// delete seen), rate, put_seconds.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

class Conn {
 public:
  bool Connect(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Conn() {
    if (fd_ >= 0) close(fd_);
  }
  bool Send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = write(fd_, s.data() + off, s.size() - off);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        return false;
      }
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // One line without its \r\n.
  bool Line(std::string* out) {
    for (;;) {
      size_t p = buf_.find("\r\n", pos_);
      if (p != std::string::npos) {
        out->assign(buf_, pos_, p - pos_);
        pos_ = p + 2;
        return true;
      }
      if (!Fill()) return false;
    }
  }
  // n bytes plus the \r\n after them.
  bool Bytes(size_t n, std::string* out) {
    while (buf_.size() - pos_ < n + 2) {
      if (!Fill()) return false;
    }
    out->assign(buf_, pos_, n);
    pos_ += n + 2;
    return true;
  }

 private:
  bool Fill() {
    if (pos_ > 0) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    char tmp[65536];
    for (;;) {
      ssize_t n = read(fd_, tmp, sizeof tmp);
      if (n > 0) {
        buf_.append(tmp, static_cast<size_t>(n));
        return true;
      }
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
  }
  int fd_ = -1;
  std::string buf_;
  size_t pos_ = 0;
};

// reserve + delete until the deadline (or the connection closes).
void WorkerLoop(int port, Clock::time_point deadline) {
  Conn c;
  if (!c.Connect(port)) return;
  std::string line, body;
  while (Clock::now() < deadline) {
    if (!c.Send("reserve-with-timeout 1\r\n") || !c.Line(&line)) return;
    if (line.rfind("RESERVED ", 0) != 0) continue;  // TIMED_OUT, DEADLINE_SOON
    unsigned long long id = 0;
    size_t bytes = 0;
    if (std::sscanf(line.c_str(), "RESERVED %llu %zu", &id, &bytes) != 2) return;
    if (!c.Bytes(bytes, &body)) return;
    if (!c.Send("delete " + std::to_string(id) + "\r\n") || !c.Line(&line)) return;
  }
}

// The value of one field of `stats` (a YAML dictionary), or -1.
long long Stat(Conn& c, const std::string& field) {
  std::string line, body;
  if (!c.Send("stats\r\n") || !c.Line(&line)) return -1;
  size_t bytes = 0;
  if (std::sscanf(line.c_str(), "OK %zu", &bytes) != 1 || !c.Bytes(bytes, &body)) return -1;
  const std::string key = "\n" + field + ": ";
  size_t p = body.find(key);
  if (p == std::string::npos) return -1;
  return std::atoll(body.c_str() + p + key.size());
}

}  // namespace

int main(int argc, char** argv) {
  int port = 11300, procs = 2, conns = 4, window = 1;
  long long jobs = 100000;
  double seconds = 600;
  CLI::App app{"leaseq-bench-beanstalk: put N jobs, reserve+delete them with worker processes"};
  app.add_option("--port", port);
  app.add_option("--jobs", jobs)->check(CLI::PositiveNumber);
  app.add_option("--procs", procs)->check(CLI::PositiveNumber);
  app.add_option("--conns", conns, "connections (threads) per worker process")
      ->check(CLI::PositiveNumber);
  app.add_option("--window", window, "put commands in flight")->check(CLI::PositiveNumber);
  app.add_option("--seconds", seconds, "give up after this long");
  CLI11_PARSE(app, argc, argv);

  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  std::vector<pid_t> children;
  for (int p = 0; p < procs; ++p) {
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
      std::vector<std::thread> ts;
      for (int i = 0; i < conns; ++i) ts.emplace_back(WorkerLoop, port, deadline);
      for (auto& t : ts) t.join();
      _exit(0);
    }
    children.push_back(pid);
  }
  auto reap = [&] {
    for (pid_t c : children) kill(c, SIGKILL);
    for (pid_t c : children) waitpid(c, nullptr, 0);
  };

  Conn put, stats;
  if (!put.Connect(port) || !stats.Connect(port)) {
    std::fprintf(stderr, "leaseq-bench-beanstalk: cannot connect to 127.0.0.1:%d\n", port);
    reap();
    return 1;
  }
  // All worker connections waiting in reserve before the clock starts.
  while (Stat(stats, "current-workers") < procs * conns) {
    if (Clock::now() > deadline) {
      reap();
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const long long deletes_before = Stat(stats, "cmd-delete");
  const auto t0 = Clock::now();
  const std::string one = "put 0 0 120 8\r\n01234567\r\n";
  std::string line;
  long long sent = 0;
  while (sent < jobs) {
    const long long n = std::min<long long>(window, jobs - sent);
    std::string batch;
    batch.reserve(one.size() * static_cast<size_t>(n));
    for (long long i = 0; i < n; ++i) batch += one;
    if (!put.Send(batch)) break;
    for (long long i = 0; i < n; ++i) {
      if (!put.Line(&line) || line.rfind("INSERTED ", 0) != 0) {
        std::fprintf(stderr, "leaseq-bench-beanstalk: put answered '%s'\n", line.c_str());
        reap();
        return 1;
      }
    }
    sent += n;
  }
  const auto t_put = Clock::now();
  long long deleted = 0;
  while ((deleted = Stat(stats, "cmd-delete") - deletes_before) < jobs && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const auto t1 = Clock::now();
  reap();
  if (deleted < jobs) {
    std::fprintf(stderr, "leaseq-bench-beanstalk: only %lld of %lld deleted in time\n", deleted, jobs);
    return 1;
  }
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  nlohmann::json out = {{"jobs", jobs},
                        {"seconds", secs},
                        {"rate", static_cast<double>(jobs) / secs},
                        {"put_seconds", std::chrono::duration<double>(t_put - t0).count()},
                        {"window", window}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
