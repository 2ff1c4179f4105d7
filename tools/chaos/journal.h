// Journal: what the chaos runner writes down while it runs, for the checker
// and for the person reading a kept work directory (workdir.h): faults.jsonl,
// findings.jsonl, stalls.jsonl, and "=== leaseq-chaos t+..." marks in the
// processes' logs. Times are the wall clock (the broker's). Not thread-safe:
// the runner's one thread.
#pragma once

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace leaseq::chaos {

class Journal {
 public:
  // Opens the record files of the work directory DIR (which exists).
  explicit Journal(const std::string& dir);

  const std::string& dir() const { return dir_; }
  std::string LogPath(const std::string& name) const;
  // A mark in logs/NAME, so that a reader finds what happened when.
  void Mark(const std::string& log, const std::string& line);
  // "t+1234ms" from the start of the fault window (t+0ms before it).
  std::string Rel() const;
  void StartWindow(int64_t wall_ms) { window_start_wall_ = wall_ms; }

  // A line of faults.jsonl (injected, skipped, or the end of one).
  void FaultRecord(const nlohmann::json& j);
  // A fault done (or skipped): the counts of the progress lines.
  void Injected() { ++injected_; }
  void Skipped() { ++skipped_; }
  int injected() const { return injected_; }
  int skipped() const { return skipped_; }

  // What the runner itself saw go wrong (a violation unless told otherwise).
  void Finding(const std::string& what, const std::string& detail, bool violation = true);
  // A moment the runner was not scheduled (an overloaded machine).
  void Stall(int64_t from_wall_ms, int64_t to_wall_ms);

 private:
  std::string dir_;
  std::ofstream faults_, findings_, stalls_;
  int64_t window_start_wall_ = 0;
  int injected_ = 0, skipped_ = 0;
};

}  // namespace leaseq::chaos
