#include "worker/memory.h"

#include <dirent.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

namespace leaseq::worker {

namespace {

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Parent pid from /proc/PID/stat. The command name (field 2) is in
// parentheses and may itself hold spaces or ')', so parse after the last ')'.
bool ReadPpid(pid_t pid, pid_t* ppid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 1));
  std::string state;
  long parent = 0;
  if (!(rest >> state >> parent)) return false;
  *ppid = static_cast<pid_t>(parent);
  return true;
}

// Resident pages from /proc/PID/statm (second field).
bool ReadResidentPages(pid_t pid, int64_t* pages) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/statm");
  int64_t size = 0;
  return static_cast<bool>(in >> size >> *pages);
}

}  // namespace

Status ParseMemorySize(const std::string& text, int64_t* bytes) {
  static const std::map<std::string, double> kUnits = {
      {"", 1},        {"b", 1},           {"k", 1e3},         {"kb", 1e3},
      {"m", 1e6},     {"mb", 1e6},        {"g", 1e9},         {"gb", 1e9},
      {"t", 1e12},    {"tb", 1e12},       {"ki", 1024.0},     {"kib", 1024.0},
      {"mi", 1 << 20}, {"mib", 1 << 20},  {"gi", 1 << 30},    {"gib", 1 << 30},
      {"ti", 1099511627776.0}, {"tib", 1099511627776.0}};
  auto bad = [&](const std::string& why) {
    return Status::Invalid("bad memory size '" + text + "': " + why +
                           " (examples: 400MB, 400M, 1GiB, 1.5G, 1000000)");
  };
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  size_t start = i;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    ++i;
  }
  std::string number = text.substr(start, i - start);
  if (number.empty() || number == "." || number.find('.') != number.rfind('.')) {
    return bad("expected a number");
  }
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  std::string unit = text.substr(i);
  while (!unit.empty() && std::isspace(static_cast<unsigned char>(unit.back()))) unit.pop_back();
  auto it = kUnits.find(Lower(unit));
  if (it == kUnits.end()) return bad("unknown unit '" + unit + "'");
  double value = std::strtod(number.c_str(), nullptr) * it->second;
  if (!std::isfinite(value) || value >= 9.2e18) return bad("too large");
  if (value < 1) return bad("must be at least 1 byte");
  *bytes = static_cast<int64_t>(std::llround(value));
  return Status::Ok();
}

std::vector<pid_t> ProcessTree(pid_t root) {
  std::multimap<pid_t, pid_t> children;  // ppid -> pid
  bool root_seen = false;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
      pid_t pid = static_cast<pid_t>(std::atol(e->d_name));
      pid_t ppid = 0;
      if (!ReadPpid(pid, &ppid)) continue;  // ended meanwhile
      if (pid == root) root_seen = true;
      children.emplace(ppid, pid);
    }
    closedir(d);
  }
  std::vector<pid_t> tree;
  if (!root_seen) return tree;
  tree.push_back(root);
  for (size_t i = 0; i < tree.size(); ++i) {  // breadth first; pids never cycle
    auto [lo, hi] = children.equal_range(tree[i]);
    for (auto it = lo; it != hi; ++it) tree.push_back(it->second);
  }
  return tree;
}

Status ProcessTreeRss(pid_t root, int64_t* bytes) {
  std::vector<pid_t> tree = ProcessTree(root);
  if (tree.empty()) return Status::NotFound("no process " + std::to_string(root));
  static const int64_t kPage = sysconf(_SC_PAGESIZE);
  int64_t pages = 0;
  for (pid_t pid : tree) {
    int64_t p = 0;
    if (ReadResidentPages(pid, &p)) pages += p;
  }
  *bytes = pages * kPage;
  return Status::Ok();
}

std::string FormatBytes(int64_t bytes) {
  char buf[32];
  if (bytes >= 1000000000) {
    snprintf(buf, sizeof buf, "%.1f GB", static_cast<double>(bytes) / 1e9);
  } else if (bytes >= 1000000) {
    snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  } else {
    snprintf(buf, sizeof buf, "%lld bytes", static_cast<long long>(bytes));
  }
  return buf;
}

}  // namespace leaseq::worker
