#include "worker/worker_identity.h"

#include <unistd.h>

#include <cstdint>
#include <random>

namespace leaseq::worker {

namespace {

std::string RandomHex(int words) {
  std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < words; ++i) {
    uint32_t v = rd();
    for (int j = 0; j < 8; ++j, v >>= 4) id.push_back(kHex[v & 0xf]);
  }
  return id;
}

}  // namespace

std::string NewSessionId() { return RandomHex(4); }

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

std::string DefaultWorkerName() {
  return HostName() + "-" + std::to_string(getpid()) + "-" + RandomHex(1);
}

}  // namespace leaseq::worker
