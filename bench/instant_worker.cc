// leaseq-instant-worker: a benchmark peer that speaks the worker protocol and
// answers every task at once with an empty success, without running
// anything. It measures the broker's own ceiling (dispatch, commit, ack)
// with no process or function cost. Not a real worker: no drain, no nanny.
// Like leaseq-worker with `noop` tasks it takes batched frames and holds a
// prefetch of 64 per slot (--prefetch), answering each `tasks` frame with
// one `results` frame.
//
//   leaseq-instant-worker --broker EP --slots N --seconds S [--prefetch P]
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <set>

#include "common/clock.h"
#include "common/config.h"
#include "common/protocol.h"
#include "common/transport.h"
#include "common/wire_batch.h"

using leaseq::wire::Command;

int main(int argc, char** argv) {
  std::string broker = leaseq::config::BrokerEndpointFromEnv();
  int slots = 8;
  double seconds = 60;
  std::string name = "instant-" + std::to_string(getpid());
  CLI::App app{"leaseq-instant-worker: answers every task at once (broker benchmark peer)"};
  app.add_option("--broker", broker);
  app.add_option("--slots", slots);
  app.add_option("--seconds", seconds, "exit after this long");
  app.add_option("--name", name);
  int prefetch = -1;
  app.add_option("--prefetch", prefetch, "tasks held beyond the slots (default: 64 per slot)");
  CLI11_PARSE(app, argc, argv);
  if (prefetch < 0) prefetch = 64 * slots;

  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  leaseq::transport::ApplyCommonOptions(s);
  s.connect(broker);
  leaseq::SystemClock clock;
  auto reg = [&] {
    leaseq::transport::Send(
        s, leaseq::wire::Make(Command::kRegister,
                              {{"name", name}, {"pid", getpid()}, {"session", name},
                               {"host", "bench"}, {"slots", slots}, {"queues", {"default"}},
                               {"fns", {"noop", "echo"}}, {"running", nlohmann::json::array()},
                               {"prefetch", prefetch}, {"batch", true}}));
  };
  reg();
  const int64_t end = clock.SteadyMs() + static_cast<int64_t>(seconds * 1000);
  int64_t next_heartbeat = clock.SteadyMs() + 500;
  int64_t done = 0;
  while (clock.SteadyMs() < end) {
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(100));
    std::string rid;
    leaseq::wire::Message m;
    leaseq::Status st;
    while (leaseq::transport::Receive(s, false, &rid, &m, &st)) {
      if (!st.ok()) continue;
      if (m.command == Command::kTask || m.command == Command::kTasks) {
        std::vector<leaseq::wire::Message> tasks;
        if (m.command == Command::kTask) {
          tasks.push_back(std::move(m));
        } else if (!leaseq::wire::Unpack(std::move(m), &tasks).ok()) {
          continue;
        }
        // One `results` frame (or `result`, for one) answers the frame.
        std::vector<leaseq::wire::Message> results;
        for (auto& t : tasks) {
          nlohmann::json body = {{"attempt", t.body["attempt"]}, {"exit_code", 0}, {"signal", 0}, {"error", ""}};
          std::string out = t.body.contains("fn") && t.body["fn"] == "echo" && !t.blobs.empty() ? t.blobs[0] : "";
          results.push_back(leaseq::wire::Make(Command::kResult, std::move(body), {out}));
          ++done;
        }
        for (auto& f : leaseq::wire::Pack(std::move(results))) leaseq::transport::Send(s, f.message);
      } else if (m.command == Command::kReregister) {
        reg();
      }
    }
    if (clock.SteadyMs() >= next_heartbeat) {
      leaseq::transport::Send(s, leaseq::wire::Make(Command::kHeartbeat, {{"running", nlohmann::json::array()}}));
      next_heartbeat = clock.SteadyMs() + 500;
    }
  }
  std::fprintf(stderr, "%s: answered %lld tasks\n", name.c_str(), static_cast<long long>(done));
  return 0;
}
