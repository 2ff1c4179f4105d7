// ZAP authenticator: the broker's CURVE admission (RFC 27's ZAP handler,
// bound at inproc://zeromq.zap.01 in the broker's context). It admits only
// the public keys found in *.pub files of the allow directory. The directory
// is read at start-up, and again when a handshake comes with an unknown key
// (at most every 100 ms) or when the last read is more than 1 s old: adding a
// .pub admits that peer without a restart, deleting one refuses its NEW
// connections within ~1 s (a connection already authenticated stays up until
// it closes: restart the broker to cut it at once).
// Thread-safety: see the class comment.
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

}  // namespace leaseq::curve
