#include "common/config.h"

#include <cstdlib>

namespace leaseq::config {

namespace {
std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::string(v) : std::string(fallback);
}
}  // namespace

std::string BrokerEndpointFromEnv() { return EnvOr("LEASEQ_BROKER", kDefaultBroker); }
std::string DbPathFromEnv() { return EnvOr("LEASEQ_DB", kDefaultDb); }
std::string CurveSecretFromEnv() { return EnvOr(kEnvCurveSecret, ""); }
std::string CurveServerFromEnv() { return EnvOr(kEnvCurveServer, ""); }

}  // namespace leaseq::config
