#include "common/curve_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace leaseq::curve {

namespace {

constexpr const char* kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
constexpr size_t kMaxKeyFileBytes = 4096;

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

}  // namespace leaseq::curve
