#include "tools/common/task_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

namespace leaseq::tools {

Status TaskFile::Add(TaskSpec t, int64_t line) {
  if (t.key.empty()) {
    t.key = GenerateKey();
  } else {
    auto [it, fresh] = given_keys_.try_emplace(t.key);
    if (fresh) {
      it->second = FirstUse{line, CanonicalFields(t)};
    } else if (it->second.fields != CanonicalFields(t)) {
      return Status::Invalid("key '" + t.key + "' is already used by line " +
                             std::to_string(it->second.line) + " with other fields");
    }
  }
  wire_ += TaskToLine(t);
  wire_ += '\n';
  keys_text_ += t.key;
  keys_text_ += '\n';
  lines_.push_back(line);
  input_bytes_ += static_cast<int64_t>(t.input.size());
  return Status::Ok();
}

std::vector<std::string> TaskFile::Keys() const {
  std::vector<std::string> keys;
  keys.reserve(size());
  size_t begin = 0;
  for (size_t end; (end = keys_text_.find('\n', begin)) != std::string::npos; begin = end + 1) {
    keys.emplace_back(keys_text_, begin, end - begin);
  }
  return keys;
}

void TaskFile::Shrink() {
  // Smallest first: each copy is made while the others are at their size.
  lines_.shrink_to_fit();
  keys_text_.shrink_to_fit();
  wire_.shrink_to_fit();
}

std::string TaskFile::Where(size_t index) const {
  if (index < lines_.size() && lines_[index] == 0) return "";
  return name_ + ":" + (index < lines_.size() ? std::to_string(lines_[index]) : "?");
}

Status ParseTaskStream(std::istream& in, const std::string& name, TaskFile* out) {
  TaskFile f(name);
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    TaskSpec t;
    Status s = ParseTaskLine(line, &t);
    if (s.ok()) s = f.Add(std::move(t), number);
    if (!s.ok()) return Status::Invalid(name + ":" + std::to_string(number) + ": " + s.message());
  }
  if (in.bad()) return Status::IoError(name + ": read error");
  f.Shrink();
  *out = std::move(f);
  return Status::Ok();
}

Status ReadTaskFile(const std::string& path, TaskFile* out) {
  if (path == "-") return ParseTaskStream(std::cin, "<stdin>", out);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
  return ParseTaskStream(in, path, out);
}

}  // namespace leaseq::tools
