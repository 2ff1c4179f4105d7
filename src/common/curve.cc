#include "common/curve.h"

#include <filesystem>

#include "common/config.h"

namespace leaseq::curve {

namespace {

constexpr const char* kZapDomain = "leaseq";

}  // namespace

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

}  // namespace leaseq::curve
