#include "common/zap_authenticator.h"

#include <chrono>
#include <zmq_addon.hpp>

#include "common/curve_keys.h"
#include "common/log.h"

namespace leaseq::curve {

namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
// The allow directory is re-read for an unknown key at most this often, and
// for any handshake when the last read is older than kReloadMaxAgeMs.
constexpr int64_t kReloadUnknownMinMs = 100;
constexpr int64_t kReloadMaxAgeMs = 1000;
constexpr int64_t kLogEveryMs = 10000;
constexpr size_t kMaxLoggedKeys = 1024;
constexpr int kPollMs = 100;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status Authenticator::Start(zmq::context_t& context, const std::string& allow_dir,
                            std::unique_ptr<Authenticator>* out) {
  std::map<std::string, std::string> keys;
  std::vector<std::string> bad;
  Status s = ReadAllowDir(allow_dir, &keys, &bad);
  if (!s.ok()) return s;
  if (!bad.empty()) {
    std::string all;
    for (const auto& b : bad) all += (all.empty() ? "" : "; ") + b;
    return Status::Invalid("--curve-allow " + allow_dir + ": " + all);
  }
  std::unique_ptr<Authenticator> a(new Authenticator(context, allow_dir, std::move(keys)));
  try {
    a->socket_.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("cannot start the CURVE authenticator (ZAP handler at ") +
                               kZapEndpoint + "): " + e.what());
  }
  log::Printf(log::Level::kInfo, "CURVE on: admitting %zu public key(s) from %s/*.pub%s",
              a->keys_.size(), allow_dir.c_str(),
               a->keys_.empty() ? " (none yet: no peer can connect until one is added)" : "");
  a->last_read_ms_ = SteadyMs();
  // The thread takes the socket over: std::thread's start is the full
  // memory barrier ZeroMQ asks for when a socket changes threads.
  a->thread_ = std::thread([p = a.get()] { p->Loop(); });
  *out = std::move(a);
  return Status::Ok();
}

Authenticator::Authenticator(zmq::context_t& context, std::string allow_dir, std::map<std::string, std::string> keys)
    : socket_(context, zmq::socket_type::rep),
      allow_dir_(std::move(allow_dir)),
      keys_(std::move(keys)) {
  socket_.set(zmq::sockopt::linger, 0);
}

Authenticator::~Authenticator() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  socket_.close();
}

void Authenticator::Loop() {
  while (!stop_) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, std::chrono::milliseconds(kPollMs));
      if ((item.revents & ZMQ_POLLIN) == 0) continue;
      std::vector<zmq::message_t> request;
      if (!zmq::recv_multipart(socket_, std::back_inserter(request), zmq::recv_flags::dontwait)) {
        continue;
      }
      std::string code, text, user_id;
      Decide(request, &code, &text, &user_id);
      std::vector<zmq::message_t> reply;
      reply.emplace_back(std::string("1.0"));
      reply.emplace_back(request.size() > 1 ? request[1].to_string() : std::string());
      reply.emplace_back(code);
      reply.emplace_back(text);
      reply.emplace_back(user_id);
      reply.emplace_back();  // no metadata
      zmq::send_multipart(socket_, reply);
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      log::Printf(log::Level::kError, "CURVE authenticator: %s", e.what());
    }
  }
}

void Authenticator::Reload(int64_t now_ms) {
  last_read_ms_ = now_ms;
  std::map<std::string, std::string> keys;
  std::vector<std::string> bad;
  Status s = ReadAllowDir(allow_dir_, &keys, &bad);
  if (!s.ok()) bad.push_back(s.message() + " (keeping the keys read before)");
  for (const auto& b : bad) {
    auto& last = last_logged_ms_[b];
    if (last == 0 || now_ms - last >= kLogEveryMs) {
      last = now_ms;
      log::Printf(log::Level::kWarn, "CURVE: %s", b.c_str());
    }
  }
  if (s.ok()) keys_ = std::move(keys);
}

void Authenticator::Decide(const std::vector<zmq::message_t>& request, std::string* code,
                           std::string* text, std::string* user_id) {
  // RFC 27: version, request id, domain, address, routing id, mechanism,
  // credentials (CURVE: the client's 32-byte public key).
  if (request.size() < 6 || request[0].to_string() != "1.0") {
    *code = "500";
    *text = "malformed ZAP request";
    return;
  }
  const std::string mechanism = request[5].to_string();
  if (mechanism != "CURVE" || request.size() < 7 || request[6].size() != 32) {
    *code = "400";
    *text = "CURVE required";
    return;
  }
  char z85[kKeyTextLength + 1] = {};
  zmq_z85_encode(z85, static_cast<const uint8_t*>(request[6].data()), 32);
  const std::string key = z85;
  const int64_t now = SteadyMs();
  const bool known = keys_.count(key) > 0;
  if ((!known && now - last_read_ms_ >= kReloadUnknownMinMs) || now - last_read_ms_ >= kReloadMaxAgeMs) {
    Reload(now);
  }
  auto it = keys_.find(key);
  if (it != keys_.end()) {
    *code = "200";
    *text = "OK";
    *user_id = it->second;
    return;
  }
  *code = "400";
  *text = "unknown public key";
  if (last_logged_ms_.size() > kMaxLoggedKeys) last_logged_ms_.clear();
  auto& last = last_logged_ms_[key];
  if (last == 0 || now - last >= kLogEveryMs) {
    last = now;
    log::Printf(log::Level::kWarn,
                "CURVE: refused a peer from %s: its public key %s is in no .pub file of %s",
                request[3].to_string().c_str(), key.c_str(),
                 allow_dir_.c_str());
  }
}

}  // namespace leaseq::curve
