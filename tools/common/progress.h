// Progress: a one-line progress bar for a wait, on stderr and only when
// stderr is a terminal (a log file or a pipe gets nothing, so scripts stay
// clean). The line shows done / failed / running / queued (+ waiting) of N,
// the rate (tasks done per second since the bar started) and an ETA; it is
// redrawn in place with '\r' and ended with a newline by Finish().
// FormatProgressLine is pure (the unit tests use it); ProgressBar owns the
// terminal state. Not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "tools/common/state_counts.h"

namespace leaseq::tools {

struct ProgressSnapshot {
  StateCounts counts;
  int64_t total = 0;            // tasks waited for
  int64_t done_at_start = 0;    // done when the bar started: not part of the rate
  double elapsed_seconds = 0;   // since the bar started
};

// One line, at most columns - 1 characters (so the cursor never wraps and
// '\r' still returns to the start of this line): the bar is dropped first
// when the terminal is narrow, then the text is cut.
std::string FormatProgressLine(const ProgressSnapshot& s, size_t columns);

// "7s", "3m05s", "2h01m".
std::string FormatDuration(double seconds);

class ProgressBar {
 public:
  // Enabled when stderr is a terminal.
  ProgressBar();
  explicit ProgressBar(bool enabled);
  ~ProgressBar();

  void Update(const StateCounts& counts, int64_t total);
  // A message on its own line, without leaving a half-drawn bar behind it.
  void Note(const std::string& text);
  // Ends the line (once); later Updates start a new one.
  void Finish();

 private:
  void Draw(const std::string& line);
  size_t Columns() const;

  bool enabled_;
  bool started_ = false;
  int64_t done_at_start_ = 0;
  std::chrono::steady_clock::time_point start_;
  size_t drawn_ = 0;  // length of the line on screen; 0 = none
};

}  // namespace leaseq::tools
