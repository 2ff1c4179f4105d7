// Curve: ZeroMQ CURVE security settings for leaseq's sockets (README
// "Security"). The pieces around them have files of their own:
//   curve_keys.h         key pairs and key files
//   zap_authenticator.h  the broker's ZAP handler, which admits the public
//                        keys of its --curve-allow directory
//   handshake_monitor.h  a client's view of a refused handshake
//
// Broker side: ServerSettings + ApplyServer() make a socket a CURVE server
// (every connection encrypted), admitted by an Authenticator.
// Client side (workers, leaseq-submit, leaseq-ctl, the nanny): ClientSettings
// + ApplyClient().
//
// Errors are Status values whose messages name the file and the fix.
// Thread-safe: no shared state.
#pragma once

#include <string>
#include <zmq.hpp>

#include "common/curve_keys.h"
#include "common/status.h"

namespace leaseq::curve {

// A worker's or client's CURVE settings. Disabled: a plain (NULL mechanism)
// connection, accepted only by a broker without CURVE.
struct ClientSettings {
  bool enabled = false;
  KeyPair own;                // from secret_file
  std::string server_public;  // from server_file
  std::string secret_file;    // as given: for messages and to pass on to a child
  std::string server_file;
};

// Both empty: disabled, Ok. Only one of them: Invalid (they go together).
// Otherwise loads both files; Unavailable when libzmq lacks CURVE.
Status LoadClient(const std::string& secret_file, const std::string& server_file,
                  ClientSettings* out);
// As LoadClient, each absent (empty) flag replaced by its environment
// variable: LEASEQ_CURVE_SECRET, LEASEQ_CURVE_SERVER (config.h).
Status LoadClientFromFlagsOrEnv(const std::string& secret_flag, const std::string& server_flag,
                                ClientSettings* out);
// Before connect(): ZMQ_CURVE_SERVERKEY, _PUBLICKEY, _SECRETKEY. Nothing when
// disabled.
void ApplyClient(zmq::socket_t& s, const ClientSettings& settings);

// The broker's CURVE settings.
struct ServerSettings {
  bool enabled = false;
  KeyPair own;            // from --curve-secret
  std::string allow_dir;  // --curve-allow
};

// Both empty: disabled, Ok. Only one: Invalid. Otherwise loads the secret
// file and checks that allow_dir is a readable directory.
Status LoadServer(const std::string& secret_file, const std::string& allow_dir,
                  ServerSettings* out);
// Before bind(): ZMQ_CURVE_SERVER, ZMQ_CURVE_SECRETKEY and ZMQ_ZAP_DOMAIN
// "leaseq". Nothing when disabled. Start an Authenticator in the same context
// first: without a ZAP handler libzmq admits every CURVE client.
void ApplyServer(zmq::socket_t& s, const ServerSettings& settings);

}  // namespace leaseq::curve
