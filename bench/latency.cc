// leaseq-bench-latency: one task at a time, submit to result.
//
//   leaseq-bench-latency --broker EP --tasks N [--fn noop] [--warmup W]
//                        [--client-per-call]
//
// For each task: a `submit` of one `fn` task (a fresh key), then `fetch` of
// that key again and again until its state is `done`; the latency is the
// time from sending the submit to receiving the `fetch` reply that says
// `done` (its resolution is one fetch round trip). By default one DEALER
// socket stays connected for the whole run (what a long-lived client does);
// --client-per-call uses leaseq::Client, which opens a new connection per
// request (what leaseq-submit and leaseq-ctl do), to show that cost.
//
// Prints one JSON object on stdout: p50/p90/p99/max/mean in microseconds of
// submit->done, of submit->ack (the commit of the submission), and the
// number of fetch polls per task.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/client.h"
#include "common/config.h"
#include "common/protocol.h"
#include "common/task_spec.h"
#include "common/transport.h"

namespace {

using Clock = std::chrono::steady_clock;
using leaseq::wire::Command;

double Us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// One request on a persistent socket; waits at most timeout_ms.
bool Call(zmq::socket_t& s, int64_t* next_id, leaseq::wire::Message request,
          leaseq::wire::Message* reply, int timeout_ms) {
  const int64_t id = (*next_id)++;
  request.body["id"] = id;
  if (!leaseq::transport::Send(s, request)) return false;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(50));
    std::string unused;
    leaseq::Status st;
    while (leaseq::transport::Receive(s, false, &unused, reply, &st)) {
      if (!st.ok()) return false;
      auto rid = reply->body.find("id");
      if (rid != reply->body.end() && rid->is_number_integer() && rid->get<int64_t>() == id) {
        return reply->command == Command::kReply;
      }
    }
  }
  return false;
}

nlohmann::json Summary(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) {
    if (v.empty()) return 0.0;
    size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  double sum = 0;
  for (double x : v) sum += x;
  return {{"p50_us", pct(0.50)}, {"p90_us", pct(0.90)}, {"p99_us", pct(0.99)},
          {"max_us", v.empty() ? 0.0 : v.back()},
          {"mean_us", v.empty() ? 0.0 : sum / static_cast<double>(v.size())}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string broker = leaseq::config::BrokerEndpointFromEnv();
  int tasks = 1000, warmup = 20, timeout_ms = 10000;
  std::string fn = "noop";
  bool client_per_call = false;
  CLI::App app{"leaseq-bench-latency: submit one task at a time and wait for its result"};
  app.add_option("--broker", broker);
  app.add_option("--tasks", tasks, "tasks measured")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "tasks run first and not measured");
  app.add_option("--fn", fn, "in-process function of the tasks");
  app.add_option("--timeout-ms", timeout_ms, "give up on a task after this long");
  app.add_flag("--client-per-call", client_per_call,
               "use leaseq::Client (a new connection per request) instead of one socket");
  CLI11_PARSE(app, argc, argv);

  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  leaseq::transport::ApplyCommonOptions(s);
  s.set(zmq::sockopt::linger, 0);
  s.connect(broker);
  leaseq::Client client(broker, timeout_ms, 1);
  int64_t next_id = 1;
  auto call = [&](leaseq::wire::Message req, leaseq::wire::Message* rep) {
    if (client_per_call) return client.Call(std::move(req), rep).ok();
    return Call(s, &next_id, std::move(req), rep, timeout_ms);
  };

  const std::string run = leaseq::GenerateKey();
  std::vector<double> done_us, ack_us;
  int64_t polls = 0;
  for (int i = 0; i < warmup + tasks; ++i) {
    leaseq::TaskSpec t;
    t.key = run + "-" + std::to_string(i);
    t.fn = fn;
    leaseq::wire::Message reply;
    const auto t0 = Clock::now();
    if (!call(leaseq::wire::Make(Command::kSubmit, {{"tasks", {leaseq::TaskToJson(t)}}}), &reply)) {
      std::fprintf(stderr, "leaseq-bench-latency: submit %d failed\n", i);
      return 1;
    }
    const auto t_ack = Clock::now();
    const auto deadline = t0 + std::chrono::milliseconds(timeout_ms);
    bool done = false;
    int64_t task_polls = 0;
    while (!done && Clock::now() < deadline) {
      if (!call(leaseq::wire::Make(Command::kFetch, {{"key", t.key}}), &reply)) {
        std::fprintf(stderr, "leaseq-bench-latency: fetch %d failed\n", i);
        return 1;
      }
      ++task_polls;
      auto st = reply.body.find("state");
      done = st != reply.body.end() && st->is_string() && *st == "done";
    }
    const auto t1 = Clock::now();
    if (!done) {
      std::fprintf(stderr, "leaseq-bench-latency: task %d not done within %d ms\n", i, timeout_ms);
      return 1;
    }
    if (i >= warmup) {
      done_us.push_back(Us(t1 - t0));
      ack_us.push_back(Us(t_ack - t0));
      polls += task_polls;
    }
  }
  nlohmann::json out = {{"tasks", tasks},
                        {"submit_to_done", Summary(done_us)},
                        {"submit_to_ack", Summary(ack_us)},
                        {"fetch_polls_per_task", static_cast<double>(polls) / tasks},
                        {"client_per_call", client_per_call}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
