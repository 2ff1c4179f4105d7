#include "tools/common/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace leaseq::tools {

namespace {

constexpr size_t kBarWidth = 20;
constexpr size_t kDefaultColumns = 80;

std::string Bar(int64_t finished, int64_t total) {
  size_t filled = total > 0 ? static_cast<size_t>(finished * int64_t{kBarWidth} / total) : 0;
  filled = std::min(filled, kBarWidth);
  return "[" + std::string(filled, '#') + std::string(kBarWidth - filled, '-') + "] ";
}

std::string Rate(double per_second) {
  char buf[32];
  std::snprintf(buf, sizeof buf, per_second < 10 ? "%.1f/s" : "%.0f/s", per_second);
  return buf;
}

}  // namespace

std::string FormatDuration(double seconds) {
  int64_t s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  }
  return buf;
}

std::string FormatProgressLine(const ProgressSnapshot& s, size_t columns) {
  const StateCounts& c = s.counts;
  std::string text = std::to_string(c[TaskState::kDone]) + "/" + std::to_string(s.total) +
                     " done, " + std::to_string(c[TaskState::kFailed]) + " failed, ";
  if (c[TaskState::kCancelled] > 0) {
    text += std::to_string(c[TaskState::kCancelled]) + " cancelled, ";
  }
  text += std::to_string(c[TaskState::kRunning]) + " running, " +
          std::to_string(c[TaskState::kQueued] + c[TaskState::kWaiting]) + " queued";

  // The rate counts only tasks done while we watched: tasks done before the
  // wait began would make it (and the ETA) look far better than it is.
  const double done_here = static_cast<double>(c[TaskState::kDone] - s.done_at_start);
  const double rate = s.elapsed_seconds > 0 ? std::max(0.0, done_here) / s.elapsed_seconds : 0;
  const int64_t left = s.total - c.Terminal();
  text += "  " + Rate(rate);
  if (left <= 0) {
    text += "  " + FormatDuration(s.elapsed_seconds);
  } else if (rate > 0) {
    text += "  ETA " + FormatDuration(static_cast<double>(left) / rate);
  } else {
    text += "  ETA --";
  }

  const size_t limit = columns > 1 ? columns - 1 : 0;
  std::string line = Bar(c.Terminal(), s.total) + text;
  if (line.size() > limit) line = text;
  if (line.size() > limit) line.resize(limit);
  return line;
}

ProgressBar::ProgressBar() : ProgressBar(isatty(STDERR_FILENO) == 1) {}
ProgressBar::ProgressBar(bool enabled) : enabled_(enabled) {}
ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(const StateCounts& counts, int64_t total) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!started_) {
    started_ = true;
    start_ = now;
    done_at_start_ = counts[TaskState::kDone];
  }
  ProgressSnapshot s;
  s.counts = counts;
  s.total = total;
  s.done_at_start = done_at_start_;
  s.elapsed_seconds = std::chrono::duration<double>(now - start_).count();
  Draw(FormatProgressLine(s, Columns()));
}

void ProgressBar::Note(const std::string& text) {
  if (drawn_ > 0) {
    // Blank the bar, write the note on that line; the next Update redraws below.
    std::fprintf(stderr, "\r%s\r", std::string(drawn_, ' ').c_str());
    drawn_ = 0;
  }
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

void ProgressBar::Finish() {
  if (drawn_ > 0) {
    std::fputc('\n', stderr);
    std::fflush(stderr);
  }
  drawn_ = 0;
}

void ProgressBar::Draw(const std::string& line) {
  // Pad with blanks over a longer previous line instead of using an escape
  // sequence, so that any terminal shows it right.
  std::string out = "\r" + line;
  if (drawn_ > line.size()) out += std::string(drawn_ - line.size(), ' ');
  std::fputs(out.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = std::max(line.size(), size_t{1});
}

size_t ProgressBar::Columns() const {
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return kDefaultColumns;
}

}  // namespace leaseq::tools
