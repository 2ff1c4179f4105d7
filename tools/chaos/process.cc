#include "process.h"

#include <chrono>
#include <fstream>
#include <sstream>

namespace leaseq::chaos {

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool ProcStat(pid_t pid, pid_t* ppid, char* state) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return false;
  // "pid (comm) S ppid ...": comm may hold spaces and parentheses.
  size_t close = text.rfind(')');
  if (close == std::string::npos || close + 4 > text.size()) return false;
  std::istringstream rest(text.substr(close + 2));
  long long parent = 0;
  rest >> *state >> parent;
  *ppid = static_cast<pid_t>(parent);
  return static_cast<bool>(rest);
}

bool BlocksSignal(pid_t pid, int sig) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("SigBlk:", 0) != 0) continue;
    const unsigned long long mask = std::stoull(line.substr(7), nullptr, 16);
    return (mask >> (sig - 1) & 1ULL) != 0;
  }
  return false;
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

}  // namespace leaseq::chaos
