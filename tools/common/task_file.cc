#include "tools/common/task_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <unordered_map>

namespace leaseq::tools {

std::string TaskFile::Where(size_t index) const {
  return name + ":" + (index < lines.size() ? std::to_string(lines[index]) : "?");
}

Status ParseTaskStream(std::istream& in, const std::string& name, TaskFile* out) {
  TaskFile f;
  f.name = name;
  // key -> index of its first task, to catch a key reused with other fields
  // here, with the line number, rather than as a broker error later.
  std::unordered_map<std::string, size_t> first;
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    TaskSpec t;
    Status s = ParseTaskLine(line, &t);
    if (!s.ok()) return Status::Invalid(name + ":" + std::to_string(number) + ": " + s.message());
    if (!t.key.empty()) {
      auto [it, fresh] = first.emplace(t.key, f.tasks.size());
      if (!fresh && CanonicalFields(f.tasks[it->second]) != CanonicalFields(t)) {
        return Status::Invalid(name + ":" + std::to_string(number) + ": key '" + t.key +
                               "' is already used by line " +
                               std::to_string(f.lines[it->second]) + " with other fields");
      }
    }
    f.tasks.push_back(std::move(t));
    f.lines.push_back(number);
  }
  if (in.bad()) return Status::IoError(name + ": read error");
  *out = std::move(f);
  return Status::Ok();
}

Status ReadTaskFile(const std::string& path, TaskFile* out) {
  if (path == "-") return ParseTaskStream(std::cin, "<stdin>", out);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
  return ParseTaskStream(in, path, out);
}

void AssignMissingKeys(std::vector<TaskSpec>* tasks) {
  for (auto& t : *tasks) {
    if (t.key.empty()) t.key = GenerateKey();
  }
}

}  // namespace leaseq::tools
