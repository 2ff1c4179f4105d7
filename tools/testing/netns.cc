#include "tools/testing/netns.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <random>

#include "tools/testing/child_process.h"

namespace leaseq::test_support {

namespace {

// A tag of 6 hex digits: interface names must fit in 15 characters.
std::string NewTag() {
  std::random_device rd;
  std::mt19937_64 g(rd() ^ (static_cast<uint64_t>(getpid()) << 20) ^
                    static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  static const char* hex = "0123456789abcdef";
  std::string t;
  for (int i = 0; i < 6; ++i) t.push_back(hex[g() % 16]);
  return t;
}

struct IpResult {
  int exit_code = -1;
  std::string err;
};

// Runs ip(8) to completion (20 s at most), its stderr kept for the error.
IpResult RunIp(const std::vector<std::string>& args) {
  IpResult r;
  char tmpl[] = "/tmp/leaseq-ip-XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) {
    r.err = "mkstemp failed";
    return r;
  }
  close(fd);
  ChildOptions o;
  o.stderr_path = tmpl;
  ChildProcess child;
  if (child.Start(NetnsLab::IpPath(), args, o, &r.err)) {
    if (!child.WaitExit(std::chrono::seconds(20))) {
      child.Signal(SIGKILL);
      child.WaitExit(std::chrono::seconds(5));
      r.err = "(timed out)\n";
    }
    r.exit_code = child.exit_code();
    r.err += ReadFile(tmpl);
  }
  unlink(tmpl);
  return r;
}

}  // namespace

std::string NetnsLab::IpPath() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

bool NetnsLab::Available(std::string* why) {
  if (geteuid() != 0) {
    *why = "needs root (network namespaces)";
    return false;
  }
  if (IpPath().empty()) {
    *why = "needs ip(8) (Debian package iproute2)";
    return false;
  }
  const std::string ns = "lq-probe-" + NewTag();
  IpResult r = RunIp({"netns", "add", ns});
  if (r.exit_code != 0) {
    *why = "cannot add a network namespace: " + r.err;
    return false;
  }
  RunIp({"netns", "del", ns});
  return true;
}

bool NetnsLab::Ip(const std::vector<std::string>& args) {
  IpResult r = RunIp(args);
  if (r.exit_code != 0 && error_.empty()) {
    std::string cmd = "ip";
    for (const auto& a : args) cmd += " " + a;
    error_ = cmd + ": " + r.err;
  }
  return r.exit_code == 0;
}

NetnsLab::NetnsLab(int workers) : tag_(NewTag()) {
  broker_ns_ = "lq-" + tag_ + "-b";
  if (!Ip({"netns", "add", broker_ns_})) return;
  Ip({"-n", broker_ns_, "link", "set", "lo", "up"});
  for (int i = 0; i < workers; ++i) {
    const std::string ns = "lq-" + tag_ + "-w" + std::to_string(i);
    const std::string vb = "vb" + tag_ + std::to_string(i);
    const std::string vw = "vw" + tag_ + std::to_string(i);
    const std::string net = "10.77." + std::to_string(i + 1) + ".";
    if (!Ip({"netns", "add", ns})) return;
    worker_ns_.push_back(ns);
    Ip({"-n", ns, "link", "set", "lo", "up"});
    // Made inside the broker's namespace, the peer moved to the worker's:
    // nothing of the lab ever appears in the machine's own namespace.
    Ip({"-n", broker_ns_, "link", "add", vb, "type", "veth", "peer", "name", vw, "netns", ns});
    broker_veth_.push_back(vb);
    Ip({"-n", broker_ns_, "addr", "add", net + "1/24", "dev", vb});
    Ip({"-n", ns, "addr", "add", net + "2/24", "dev", vw});
    Ip({"-n", broker_ns_, "link", "set", vb, "up"});
    Ip({"-n", ns, "link", "set", vw, "up"});
  }
}

NetnsLab::~NetnsLab() {
  // Deleting a namespace deletes the veth ends in it, and their peers.
  for (const auto& ns : worker_ns_) RunIp({"netns", "del", ns});
  if (!broker_ns_.empty()) RunIp({"netns", "del", broker_ns_});
}

std::string NetnsLab::BrokerAddress(int i) const { return "10.77." + std::to_string(i + 1) + ".1"; }

void NetnsLab::Cut(int i) { Ip({"-n", broker_ns_, "link", "set", broker_veth_.at(i), "down"}); }
void NetnsLab::Heal(int i) { Ip({"-n", broker_ns_, "link", "set", broker_veth_.at(i), "up"}); }
void NetnsLab::CutAll() {
  for (size_t i = 0; i < broker_veth_.size(); ++i) Cut(static_cast<int>(i));
}
void NetnsLab::HealAll() {
  for (size_t i = 0; i < broker_veth_.size(); ++i) Heal(static_cast<int>(i));
}

std::vector<std::string> NetnsLab::In(const std::string& ns, const std::string& binary,
                                      const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"netns", "exec", ns, binary};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace leaseq::test_support
