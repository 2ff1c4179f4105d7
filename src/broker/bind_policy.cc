#include "broker/bind_policy.h"

namespace leaseq {

Status CheckBindAddress(const std::string& endpoint, bool insecure_allowed, bool curve) {
  // CURVE encrypts and authenticates every connection: any address will do.
  insecure_allowed = insecure_allowed || curve;
  const std::string tcp = "tcp://";
  if (endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0) {
    return Status::Ok();  // local by nature
  }
  if (endpoint.rfind(tcp, 0) != 0) {
    if (insecure_allowed) return Status::Ok();
    return Status::Invalid("refusing to listen on '" + endpoint +
                           "' without encryption: use tcp:// on a loopback address, ipc://, "
                           "CURVE (--curve-secret and --curve-allow), or pass --insecure");
  }
  std::string host = endpoint.substr(tcp.size());
  auto colon = host.rfind(':');
  if (colon == std::string::npos) return Status::Invalid("endpoint '" + endpoint + "' has no port");
  host = host.substr(0, colon);
  const bool loopback = host.rfind("127.", 0) == 0 || host == "localhost" || host == "[::1]";
  if (loopback || insecure_allowed) return Status::Ok();
  return Status::Invalid("refusing to listen on '" + endpoint +
                         "' without encryption: bind a loopback address (127.0.0.1), use CURVE "
                         "(--curve-secret and --curve-allow), or pass --insecure to accept anyone "
                         "who can reach that address");
}

}  // namespace leaseq
