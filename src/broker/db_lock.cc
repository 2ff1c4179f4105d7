#include "broker/db_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace leaseq {

namespace {

std::string OwnHost() {
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof host - 1) != 0) return "";
  return host;
}

std::string ReadAll(int fd) {
  std::string text;
  char buf[256];
  off_t at = 0;
  ssize_t n;
  while ((n = pread(fd, buf, sizeof buf, at)) > 0) {
    text.append(buf, static_cast<size_t>(n));
    at += n;
  }
  return text;
}

// "pid 123 on host h": what the holder wrote, "pid N host H" on one line.
std::string DescribeHolder(const std::string& text) {
  std::istringstream in(text);
  std::string pid_word, pid, host_word, host;
  in >> pid_word >> pid >> host_word >> host;
  if (pid_word != "pid" || pid.empty()) return "another process (its pid is not recorded yet)";
  std::string who = "pid " + pid;
  if (host_word == "host" && !host.empty() && host != OwnHost()) who += " on host " + host;
  return who;
}

}  // namespace

std::string DbLock::LockPath(const std::string& db_path) {
  // Two spellings of one file ("jobs.db", "./jobs.db", a symlink) share
  // one lock: resolve the path when the database exists already.
  char resolved[PATH_MAX];
  if (realpath(db_path.c_str(), resolved) != nullptr) return std::string(resolved) + ".lock";
  return db_path + ".lock";
}

Status DbLock::Acquire(const std::string& db_path, std::unique_ptr<DbLock>* out) {
  const std::string path = LockPath(db_path);
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::IoError("cannot open the lock file " + path + ": " + std::strerror(errno));
  }
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    std::string holder = DescribeHolder(ReadAll(fd));
    close(fd);
    if (err == EWOULDBLOCK) {
      return Status::Conflict("database " + db_path + " is in use by another leaseq-broker (" +
                              holder + "; lock file " + path +
                              "): one broker per database, or tasks would run twice");
    }
    return Status::IoError("cannot lock " + path + ": " + std::strerror(err));
  }
  // Who holds it, for the message of the broker refused. Best effort: on a
  // full disk the lock alone still does its job.
  const std::string text = "pid " + std::to_string(getpid()) + " host " + OwnHost() + "\n";
  if (ftruncate(fd, 0) == 0) {
    [[maybe_unused]] ssize_t n = pwrite(fd, text.data(), text.size(), 0);
  }
  out->reset(new DbLock(fd));
  return Status::Ok();
}

DbLock::~DbLock() {
  // The file stays: removing it would race with a broker that has just
  // opened it and is about to lock it (it would lock an unlinked inode).
  close(fd_);
}

}  // namespace leaseq
