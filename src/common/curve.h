// Curve: ZeroMQ CURVE security for leaseq (README "Security").
//
// Key files (written by `leaseq-ctl keygen PATH`):
//   PATH.secret  the SECRET key only: one line of 40 Z85 characters and a
//                newline, mode 0600. The public key is derived from it
//                (zmq_curve_public), so a peer needs only this file for its
//                own pair.
//   PATH.pub     the PUBLIC key: one line of 40 Z85 characters and a newline,
//                mode 0644. Given to the broker's --curve-allow directory (a
//                worker's or client's) or to peers' --curve-server (the
//                broker's).
// Leading/trailing white space (e.g. a CRLF) is ignored when reading.
//
// Broker side: ServerSettings + ApplyServer() make a socket a CURVE server
// (every connection encrypted); an Authenticator (the ZAP handler of RFC 27,
// bound at inproc://zeromq.zap.01 in the broker's context) admits only the
// public keys found in *.pub files of the allow directory. The directory is
// read at start-up, and again when a handshake comes with an unknown key (at
// most every 100 ms) or when the last read is more than 1 s old: adding a
// .pub admits that peer without a restart, deleting one refuses its NEW
// connections within ~1 s (a connection already authenticated stays up until
// it closes: restart the broker to cut it at once).
//
// Client side (workers, leaseq-submit, leaseq-ctl, the nanny): ClientSettings
// + ApplyClient(). A refused CURVE handshake looks like silence on the
// socket; HandshakeMonitor watches the socket's monitor events so that the
// client can say why ("the broker refused our key") instead of timing out.
//
// Errors are Status values whose messages name the file and the fix.
// Functions are thread-safe (no shared state) unless a class says otherwise.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/status.h"

namespace leaseq::curve {

// Whether this libzmq was built with CURVE (zmq_has("curve")).
bool Available();

// Z85 text of a CURVE key: 40 characters.
inline constexpr size_t kKeyTextLength = 40;

struct KeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters
};

// A fresh random pair (zmq_curve_keypair). Unavailable without CURVE.
Status Generate(KeyPair* out);

// Ok when text is a CURVE key in Z85 (40 characters of the Z85 alphabet).
// what names it in the message (e.g. a file name).
Status CheckKeyText(const std::string& text, const std::string& what);

// Writes path + ".secret" (secret key, created with mode 0600) and path +
// ".pub" (public key, 0644), making missing directories (mode 0700).
// Never overwrites: Conflict when either exists.
// On a failure nothing is left behind. IoError for a file system error.
Status WriteKeyFiles(const std::string& path, const KeyPair& keys);

// Reads a .secret file and derives its public key. Refuses a file named
// *.pub (the wrong half of the pair).
Status LoadSecretFile(const std::string& file, KeyPair* out);
// Reads a .pub file. Refuses a file named *.secret (a secret is never given
// to anyone else).
Status LoadPublicFile(const std::string& file, std::string* public_key);

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

// The public keys of the *.pub files in dir (following symbolic links),
// key (Z85) -> file name without ".pub". Files that are not valid keys are
// skipped and described in *bad (one "file: problem" each). IoError when
// dir cannot be read.
Status ReadAllowDir(const std::string& dir, std::map<std::string, std::string>* keys,
                    std::vector<std::string>* bad);

// Authenticator: the ZAP handler. A REP socket bound at
// inproc://zeromq.zap.01 in the given context, served by a thread of its own
// until destruction. Admits a CURVE handshake whose client key is in the
// allow directory (ZAP 200, user id = the .pub file's name), refuses
// anything else (ZAP 400). Refusals are logged (common/log.h), at
// most once per key per 10 s.
// Start() and the destructor belong to the owner's thread; the destructor
// stops and joins the thread (within ~100 ms) and closes the socket, so it
// must run before the context is terminated, and after every CURVE server
// socket of the context is closed (declare it between the context and the
// sockets).
class Authenticator {
 public:
  // Reads allow_dir (IoError if unreadable; Invalid, naming the files, if a
  // *.pub holds no valid key), binds the ZAP endpoint (Unavailable if it is
  // taken) and starts the thread. Logs the number of keys admitted.
  static Status Start(zmq::context_t& context, const std::string& allow_dir,
                      std::unique_ptr<Authenticator>* out);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

 private:
  Authenticator(zmq::context_t& context, std::string allow_dir, std::map<std::string, std::string> keys);
  void Loop();
  // One request's frames -> the reply's status code, text and user id.
  void Decide(const std::vector<zmq::message_t>& request, std::string* code, std::string* text,
              std::string* user_id);
  void Reload(int64_t now_ms);

  zmq::socket_t socket_;  // used by the thread only, once started
  const std::string allow_dir_;
  // Owned by the thread once started.
  std::map<std::string, std::string> keys_;
  int64_t last_read_ms_ = 0;
  std::map<std::string, int64_t> last_logged_ms_;  // refused key -> when logged
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// HandshakeMonitor: reads the ZMQ socket monitor events of one connecting
// socket (zmq_socket_monitor to a PAIR in the same context) and tells a
// refused handshake from silence:
//   ZMQ_EVENT_HANDSHAKE_FAILED_AUTH      the broker's ZAP handler refused our
//                                        key (definitive)
//   ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL  a mechanism mismatch: one side uses
//                                        CURVE, the other not (definitive);
//                                        other protocol errors after 3 in a row
//   ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL the broker closed the connection in
//                                        the handshake: with CURVE, a wrong
//                                        server key (definitive after 3 in a
//                                        row without a success)
// Not thread-safe: used by the thread that owns the monitored socket. It
// never touches the monitored socket after Attach(), so either may be
// closed first; both must be closed before the context is terminated.
class HandshakeMonitor {
 public:
  HandshakeMonitor() = default;
  HandshakeMonitor(const HandshakeMonitor&) = delete;
  HandshakeMonitor& operator=(const HandshakeMonitor&) = delete;

  // Starts watching s, which must not be connected yet. settings: those
  // applied to s (for the wording: our key, the server key's file).
  // endpoint: for the messages. Failures count across Attach() calls (a
  // Lazy Pirate client opens a socket per try) until a handshake succeeds.
  Status Attach(zmq::context_t& context, zmq::socket_t& s, const ClientSettings& settings,
                const std::string& endpoint);
  // Stops reading (closes the PAIR); Attach() may be called again.
  void Detach();
  // Stops the monitoring on the watched socket, which must still be open.
  // Call it before closing that socket: libzmq's I/O thread sends monitor
  // events with a blocking send, so an event for a PAIR already closed
  // would block that thread for good (the worker could never register again).
  void Stop();
  // For zmq::poll (ZMQ_POLLIN); nullptr when not attached.
  void* handle() const { return pair_ ? pair_->handle() : nullptr; }

  // Reads the waiting events without blocking. Returns true when the broker
  // has definitively refused this peer; refusal() then says why.
  bool Poll();
  const std::string& refusal() const { return refusal_; }
  // The last handshake failure seen, definitive or not ("" if none since
  // the last success): for a timeout message.
  const std::string& last_failure() const { return last_failure_; }

 private:
  std::unique_ptr<zmq::socket_t> pair_;
  void* watched_ = nullptr;  // the monitored socket, until Stop()
  ClientSettings settings_;
  std::string endpoint_;
  int failures_in_a_row_ = 0;
  std::string refusal_;
  std::string last_failure_;
};

}  // namespace leaseq::curve
