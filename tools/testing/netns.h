// NetnsLab: hosts for integration tests and the chaos runner's network
// faults (tools/chaos). The broker and each worker run in
// a network namespace of their own, joined by one veth pair per worker
// (10.77.<i>.1 on the broker's side, 10.77.<i>.2 on worker i's), so that a
// test can cut one worker off, or all of them, and heal the link:
// `ip link set <broker-side veth> down` is a silent partition (the peer's
// packets are dropped, TCP retransmits, nothing errors), what a dead switch
// looks like. The addresses exist only inside these namespaces; the names
// (namespaces and interfaces) carry a random tag, so parallel runs never
// meet. The destructor deletes the namespaces (their veths go with them).
//
// Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and ip(8) from iproute2:
// Available() says whether, and why not. Processes are started through
// `ip netns exec NS binary ...`, which execs the binary: its pid is the
// child's own. Not thread-safe; one lab per test, destroyed after the
// processes that run in it.
#pragma once

#include <string>
#include <vector>

namespace leaseq::test_support {

class NetnsLab {
 public:
  // True when namespaces can be made here; *why says why not.
  static bool Available(std::string* why);

  explicit NetnsLab(int workers);
  ~NetnsLab();
  NetnsLab(const NetnsLab&) = delete;
  NetnsLab& operator=(const NetnsLab&) = delete;

  // False (and error() says why) when the lab could not be set up.
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  const std::string& broker_ns() const { return broker_ns_; }
  const std::string& worker_ns(int i) const { return worker_ns_.at(i); }
  // The broker's address as worker i reaches it.
  std::string BrokerAddress(int i) const;

  // Cuts worker i off (its link down on the broker's side), heals it.
  void Cut(int i);
  void Heal(int i);
  void CutAll();
  void HealAll();

  // The argv that runs binary with args in namespace ns (for a
  // ChildProcess: the binary is IpPath()).
  static std::string IpPath();
  static std::vector<std::string> In(const std::string& ns, const std::string& binary,
                                     const std::vector<std::string>& args);

 private:
  bool Ip(const std::vector<std::string>& args);
  std::string tag_;
  std::string broker_ns_;
  std::vector<std::string> worker_ns_;
  std::vector<std::string> broker_veth_;
  std::string error_;
};

}  // namespace leaseq::test_support
