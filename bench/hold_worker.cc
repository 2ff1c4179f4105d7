// leaseq-bench-hold-worker: a benchmark peer that speaks the worker
// protocol, takes tasks and never finishes them: it keeps their leases alive
// by heartbeat (every attempt it holds is in `running[]`). Used to put live
// leases in a database (then the broker is SIGKILLed), and as the probe that
// measures broker start to first dispatch: it prints, on stdout,
//
//   first-task <CLOCK_MONOTONIC ns>   when the first task arrives
//   held <N>                          each time it holds --report-at tasks
//
// and with --exit-after-first it exits right after the first line. It
// reconnects every --reconnect-ms (ZMQ_RECONNECT_IVL), so that it can be
// started before the broker and connect the moment the broker binds.
//
//   leaseq-bench-hold-worker --broker EP --slots N [--report-at N]
//                            [--exit-after-first] [--seconds S]
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/protocol.h"
#include "common/transport.h"

using leaseq::wire::Command;

namespace {
long long MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}
}  // namespace

int main(int argc, char** argv) {
  std::string broker = leaseq::config::BrokerEndpointFromEnv();
  int slots = 1, report_at = 0, reconnect_ms = 5, heartbeat_ms = 300;
  double seconds = 600;
  bool exit_after_first = false;
  std::string name = "hold-" + std::to_string(getpid());
  CLI::App app{"leaseq-bench-hold-worker: holds the tasks it gets (live leases, never finished)"};
  app.add_option("--broker", broker);
  app.add_option("--slots", slots, "tasks held at most");
  app.add_option("--name", name);
  app.add_option("--report-at", report_at, "print 'held N' when holding this many");
  app.add_option("--reconnect-ms", reconnect_ms, "ZMQ_RECONNECT_IVL");
  app.add_option("--heartbeat-ms", heartbeat_ms);
  app.add_option("--seconds", seconds, "exit after this long");
  app.add_flag("--exit-after-first", exit_after_first, "exit after the first task arrives");
  CLI11_PARSE(app, argc, argv);

  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  leaseq::transport::ApplyCommonOptions(s);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::reconnect_ivl, reconnect_ms);
  s.set(zmq::sockopt::reconnect_ivl_max, reconnect_ms);
  s.connect(broker);
  leaseq::SystemClock clock;
  std::vector<int64_t> held;
  auto reg = [&] {
    leaseq::transport::Send(
        s, leaseq::wire::Make(Command::kRegister,
                              {{"name", name}, {"pid", getpid()}, {"session", name},
                               {"host", "bench"}, {"slots", slots}, {"prefetch", 0},
                               {"queues", {"default"}}, {"fns", {"noop", "echo", "sleep"}},
                               {"running", held}}));
  };
  reg();
  const int64_t end = clock.SteadyMs() + static_cast<int64_t>(seconds * 1000);
  int64_t next_heartbeat = clock.SteadyMs() + heartbeat_ms;
  bool reported = false;
  while (clock.SteadyMs() < end) {
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(20));
    std::string rid;
    leaseq::wire::Message m;
    leaseq::Status st;
    while (leaseq::transport::Receive(s, false, &rid, &m, &st)) {
      if (!st.ok()) continue;
      if (m.command == Command::kTask) {
        if (held.empty()) {
          std::printf("first-task %lld\n", MonotonicNs());
          std::fflush(stdout);
          if (exit_after_first) return 0;
        }
        held.push_back(m.body.value("attempt", int64_t{0}));
        if (report_at > 0 && !reported && static_cast<int>(held.size()) >= report_at) {
          std::printf("held %zu\n", held.size());
          std::fflush(stdout);
          reported = true;
        }
      } else if (m.command == Command::kReregister) {
        reg();
      }
    }
    if (clock.SteadyMs() >= next_heartbeat) {
      leaseq::transport::Send(s, leaseq::wire::Make(Command::kHeartbeat, {{"running", held}}));
      next_heartbeat = clock.SteadyMs() + heartbeat_ms;
    }
  }
  return 0;
}
