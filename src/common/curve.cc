#include "common/curve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <zmq_addon.hpp>

#include "common/config.h"
#include "common/log.h"

namespace leaseq::curve {

namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr const char* kZapDomain = "leaseq";
constexpr const char* kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
constexpr size_t kMaxKeyFileBytes = 4096;
// The allow directory is re-read for an unknown key at most this often, and
// for any handshake when the last read is older than kReloadMaxAgeMs.
constexpr int64_t kReloadUnknownMinMs = 100;
constexpr int64_t kReloadMaxAgeMs = 1000;
constexpr int64_t kLogEveryMs = 10000;
constexpr size_t kMaxLoggedKeys = 1024;
constexpr int kPollMs = 100;
// Handshake failures without detail before a client calls it a refusal.
constexpr int kFailuresForRefusal = 3;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Errno() { return std::strerror(errno); }

// The one line of a key file, trimmed.
Status ReadKeyFile(const std::string& file, std::string* key) {
  int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot read CURVE key file " + file + ": " + Errno());
  std::string text;
  char buf[1024];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string e = Errno();
      close(fd);
      return Status::IoError("cannot read CURVE key file " + file + ": " + e);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxKeyFileBytes) {
      close(fd);
      return Status::Invalid(file + ": too large to be a CURVE key file (one line of " +
                             std::to_string(kKeyTextLength) + " Z85 characters)");
    }
  }
  close(fd);
  const char* space = " \t\r\n";
  size_t begin = text.find_first_not_of(space);
  size_t end = text.find_last_not_of(space);
  *key = begin == std::string::npos ? std::string() : text.substr(begin, end - begin + 1);
  return CheckKeyText(*key, file);
}

Status WriteOne(const std::string& file, const std::string& line, mode_t mode) {
  int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Status::Conflict(file + " already exists: keygen never overwrites a key; remove it "
                                     "or choose another PATH");
    }
    return Status::IoError("cannot create " + file + ": " + Errno());
  }
  Status s;
  if (fchmod(fd, mode) != 0) s = Status::IoError("cannot set the mode of " + file + ": " + Errno());
  size_t done = 0;
  while (s.ok() && done < line.size()) {
    ssize_t n = write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s = Status::IoError("cannot write " + file + ": " + Errno());
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (s.ok() && fsync(fd) != 0) s = Status::IoError("cannot write " + file + ": " + Errno());
  if (close(fd) != 0 && s.ok()) s = Status::IoError("cannot write " + file + ": " + Errno());
  if (!s.ok()) unlink(file.c_str());
  return s;
}

std::string Hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

}  // namespace

bool Available() { return zmq_has("curve") != 0; }

Status Generate(KeyPair* out) {
  char pub[kKeyTextLength + 1] = {};
  char sec[kKeyTextLength + 1] = {};
  if (!Available() || zmq_curve_keypair(pub, sec) != 0) {
    return Status::Unavailable("this libzmq was built without CURVE: cannot make a key pair");
  }
  out->public_key = pub;
  out->secret_key = sec;
  return Status::Ok();
}

Status CheckKeyText(const std::string& text, const std::string& what) {
  const std::string expected = "one line of " + std::to_string(kKeyTextLength) +
                               " Z85 characters (a CURVE key, as leaseq-ctl keygen writes it)";
  if (text.empty()) return Status::Invalid(what + ": empty; expected " + expected);
  if (text.size() != kKeyTextLength) {
    return Status::Invalid(what + ": " + std::to_string(text.size()) + " characters; expected " +
                           expected);
  }
  size_t bad = text.find_first_not_of(kZ85Alphabet);
  if (bad != std::string::npos) {
    return Status::Invalid(what + ": character " + std::to_string(bad + 1) +
                           " is not Z85; expected " + expected);
  }
  uint8_t raw[32];
  if (zmq_z85_decode(raw, text.c_str()) == nullptr) {
    return Status::Invalid(what + ": not a valid Z85 key; expected " + expected);
  }
  return Status::Ok();
}

namespace {

// mkdir -p with mode 0700 for each directory it creates.
Status MakeDirectories(const std::filesystem::path& dir) {
  std::filesystem::path partial;
  for (const auto& part : dir) {
    partial /= part;
    if (mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::IoError("cannot create the directory " + partial.string() + ": " +
                             std::strerror(errno));
    }
  }
  if (!std::filesystem::is_directory(dir)) {
    return Status::IoError(dir.string() + " exists and is not a directory");
  }
  return Status::Ok();
}

}  // namespace

Status WriteKeyFiles(const std::string& path, const KeyPair& keys) {
  if (path.empty()) return Status::Invalid("no PATH given for the key files");
  const std::string secret = path + ".secret";
  const std::string pub = path + ".pub";
  // Missing directories are made, readable by their owner only: they hold
  // secrets (the README's recipe writes into a new /etc/leaseq).
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      Status s = MakeDirectories(dir);
      if (!s.ok()) return s;
    }
  }
  struct stat st;
  if (lstat(pub.c_str(), &st) == 0) {
    return Status::Conflict(pub + " already exists: keygen never overwrites a key; remove it "
                                  "or choose another PATH");
  }
  Status s = WriteOne(secret, keys.secret_key + "\n", 0600);
  if (!s.ok()) return s;
  s = WriteOne(pub, keys.public_key + "\n", 0644);
  if (!s.ok()) unlink(secret.c_str());
  return s;
}

Status LoadSecretFile(const std::string& file, KeyPair* out) {
  if (EndsWith(file, ".pub")) {
    return Status::Invalid(file + " is a public key (.pub): give the .secret file of your own "
                                  "key pair here");
  }
  std::string secret;
  Status s = ReadKeyFile(file, &secret);
  if (!s.ok()) return s;
  char pub[kKeyTextLength + 1] = {};
  if (zmq_curve_public(pub, secret.c_str()) != 0) {
    return Status::Invalid(file + ": cannot derive the public key from this secret key: " +
                           zmq_strerror(zmq_errno()));
  }
  out->secret_key = secret;
  out->public_key = pub;
  return Status::Ok();
}

Status LoadPublicFile(const std::string& file, std::string* public_key) {
  if (EndsWith(file, ".secret")) {
    return Status::Invalid(file + " is a secret key (.secret): give the broker's .pub file "
                                  "here; a secret key never leaves its owner");
  }
  return ReadKeyFile(file, public_key);
}

Status LoadClient(const std::string& secret_file, const std::string& server_file,
                  ClientSettings* out) {
  *out = ClientSettings();
  if (secret_file.empty() && server_file.empty()) return Status::Ok();
  if (secret_file.empty()) {
    return Status::Invalid("CURVE: the broker's public key is given (--curve-server or " +
                           std::string(config::kEnvCurveServer) +
                           ") but not our own key pair: give --curve-secret FILE (or " +
                           config::kEnvCurveSecret + ") too");
  }
  if (server_file.empty()) {
    return Status::Invalid("CURVE: our key pair is given (--curve-secret or " +
                           std::string(config::kEnvCurveSecret) +
                           ") but not the broker's public key: give --curve-server FILE (or " +
                           config::kEnvCurveServer + ") too");
  }
  if (!Available()) {
    return Status::Unavailable("CURVE keys are given but this libzmq was built without CURVE");
  }
  ClientSettings c;
  Status s = LoadSecretFile(secret_file, &c.own);
  if (!s.ok()) return s;
  s = LoadPublicFile(server_file, &c.server_public);
  if (!s.ok()) return s;
  c.enabled = true;
  c.secret_file = secret_file;
  c.server_file = server_file;
  *out = std::move(c);
  return Status::Ok();
}

Status LoadClientFromFlagsOrEnv(const std::string& secret_flag, const std::string& server_flag,
                                ClientSettings* out) {
  return LoadClient(secret_flag.empty() ? config::CurveSecretFromEnv() : secret_flag,
                    server_flag.empty() ? config::CurveServerFromEnv() : server_flag, out);
}

void ApplyClient(zmq::socket_t& s, const ClientSettings& settings) {
  if (!settings.enabled) return;
  s.set(zmq::sockopt::curve_serverkey, settings.server_public);
  s.set(zmq::sockopt::curve_publickey, settings.own.public_key);
  s.set(zmq::sockopt::curve_secretkey, settings.own.secret_key);
}

Status LoadServer(const std::string& secret_file, const std::string& allow_dir,
                  ServerSettings* out) {
  *out = ServerSettings();
  if (secret_file.empty() && allow_dir.empty()) return Status::Ok();
  if (secret_file.empty() || allow_dir.empty()) {
    return Status::Invalid("--curve-secret FILE and --curve-allow DIR go together: the broker's "
                           "key pair, and the directory of the *.pub keys it admits");
  }
  if (!Available()) {
    return Status::Unavailable("--curve-secret is given but this libzmq was built without CURVE");
  }
  ServerSettings c;
  Status s = LoadSecretFile(secret_file, &c.own);
  if (!s.ok()) return s;
  std::error_code ec;
  if (!std::filesystem::is_directory(allow_dir, ec)) {
    return Status::IoError("--curve-allow " + allow_dir + ": not a directory" +
                           (ec ? " (" + ec.message() + ")" : std::string()));
  }
  c.enabled = true;
  c.allow_dir = allow_dir;
  *out = std::move(c);
  return Status::Ok();
}

void ApplyServer(zmq::socket_t& s, const ServerSettings& settings) {
  if (!settings.enabled) return;
  s.set(zmq::sockopt::curve_server, 1);
  s.set(zmq::sockopt::curve_secretkey, settings.own.secret_key);
  s.set(zmq::sockopt::zap_domain, kZapDomain);
}

Status ReadAllowDir(const std::string& dir, std::map<std::string, std::string>* keys,
                    std::vector<std::string>* bad) {
  keys->clear();
  bad->clear();
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return Status::IoError("cannot read the CURVE allow directory " + dir + ": " + ec.message());
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const auto& path = it->path();
    if (path.extension() != ".pub") continue;
    std::error_code file_ec;
    if (!std::filesystem::is_regular_file(path, file_ec)) continue;  // follows links
    std::string key;
    Status s = LoadPublicFile(path.string(), &key);
    if (!s.ok()) {
      bad->push_back(s.message());
      continue;
    }
    keys->emplace(key, path.stem().string());
  }
  if (ec) return Status::IoError("cannot read the CURVE allow directory " + dir + ": " + ec.message());
  return Status::Ok();
}

// --- Authenticator ---------------------------------------------------------

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

// --- HandshakeMonitor ------------------------------------------------------

Status HandshakeMonitor::Attach(zmq::context_t& context, zmq::socket_t& s,
                                const ClientSettings& settings, const std::string& endpoint) {
  static std::atomic<uint64_t> counter{0};
  Detach();
  settings_ = settings;
  endpoint_ = endpoint;
  refusal_.clear();
  const std::string address = "inproc://leaseq-handshake-monitor-" + std::to_string(counter++);
  const int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
  if (zmq_socket_monitor(s.handle(), address.c_str(), events) != 0) {
    watched_ = nullptr;
    return Status::Unavailable(std::string("cannot monitor the socket: ") +
                               zmq_strerror(zmq_errno()));
  }
  watched_ = s.handle();
  try {
    auto pair = std::make_unique<zmq::socket_t>(context, zmq::socket_type::pair);
    pair->set(zmq::sockopt::linger, 0);
    pair->connect(address);
    pair_ = std::move(pair);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("cannot monitor the socket: ") + e.what());
  }
  return Status::Ok();
}

void HandshakeMonitor::Stop() {
  if (watched_ != nullptr) zmq_socket_monitor(watched_, nullptr, 0);
  watched_ = nullptr;
}

void HandshakeMonitor::Detach() {
  if (pair_) pair_->close();
  pair_.reset();
}

bool HandshakeMonitor::Poll() {
  while (pair_) {
    zmq::message_t head;
    try {
      if (!pair_->recv(head, zmq::recv_flags::dontwait)) break;
      while (head.more()) {  // the endpoint frame: not needed
        zmq::message_t rest;
        if (!pair_->recv(rest, zmq::recv_flags::dontwait)) break;
        if (!rest.more()) break;
      }
    } catch (const zmq::error_t&) {
      break;  // EINTR: a signal landed; the next Poll() reads on
    }
    if (head.size() < 6) continue;
    uint16_t event = 0;
    uint32_t value = 0;
    std::memcpy(&event, head.data(), sizeof event);
    std::memcpy(&value, static_cast<const char*>(head.data()) + sizeof event, sizeof value);
    const std::string at = "the broker at " + endpoint_;
    std::string failure;
    bool definitive = false;
    switch (event) {
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        failures_in_a_row_ = 0;
        last_failure_.clear();
        continue;
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        definitive = true;
        failure = at + " refused our CURVE key (ZAP status " + std::to_string(value) +
                  "): our public key " + settings_.own.public_key + " (of " +
                  settings_.secret_file +
                  ") is in no .pub file of the broker's --curve-allow directory";
        break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
          definitive = true;
          failure = settings_.enabled
                        ? at + " does not use CURVE, but this peer does (--curve-secret/"
                               "--curve-server or LEASEQ_CURVE_SECRET/LEASEQ_CURVE_SERVER): use "
                               "the same security on both sides"
                        : at + " requires CURVE and this peer has no keys: give --curve-secret "
                               "FILE (our key pair's .secret) and --curve-server FILE (the "
                               "broker's .pub), or set LEASEQ_CURVE_SECRET and "
                               "LEASEQ_CURVE_SERVER";
        } else {
          failure = "protocol error " + Hex(value) + " in the handshake with " + at +
                    (settings_.enabled ? " (is " + settings_.server_file +
                                             " the broker's public key?)"
                                       : std::string());
        }
        break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        failure = settings_.enabled
                      ? "the CURVE handshake with " + at + " failed (the broker hung up: does "
                        "it use CURVE, and is " + settings_.server_file + " its public key?)"
                      : "the handshake with " + at + " failed (" +
                            zmq_strerror(static_cast<int>(value)) +
                            "): a broker that requires CURVE hangs up on a peer without keys: "
                            "give --curve-secret FILE and --curve-server FILE, or set "
                            "LEASEQ_CURVE_SECRET and LEASEQ_CURVE_SERVER";
        break;
      default:
        continue;
    }
    ++failures_in_a_row_;
    last_failure_ = failure;
    if (definitive || failures_in_a_row_ >= kFailuresForRefusal) refusal_ = failure;
  }
  return !refusal_.empty();
}

}  // namespace leaseq::curve
