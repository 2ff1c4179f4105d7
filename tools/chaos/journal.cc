#include "journal.h"

#include <cstdio>

#include "process.h"
#include "workdir.h"

namespace leaseq::chaos {

using nlohmann::json;

Journal::Journal(const std::string& dir)
    : dir_(dir),
      faults_(dir + "/" + files::kFaults),
      findings_(dir + "/" + files::kFindings),
      stalls_(dir + "/" + files::kStalls) {}

std::string Journal::LogPath(const std::string& name) const { return dir_ + "/" + files::kLogs + "/" + name; }

void Journal::Mark(const std::string& log, const std::string& line) {
  std::ofstream(LogPath(log), std::ios::app) << "=== leaseq-chaos " << Rel() << ": " << line << "\n";
}

std::string Journal::Rel() const {
  return "t+" + std::to_string(window_start_wall_ > 0 ? WallMs() - window_start_wall_ : 0) + "ms";
}

void Journal::FaultRecord(const json& j) {
  faults_ << j.dump() << "\n";
  faults_.flush();
}

void Journal::Finding(const std::string& what, const std::string& detail, bool violation) {
  findings_ << json({{"t", WallMs()}, {"what", what}, {"detail", detail}, {"violation", violation}}).dump() << "\n";
  findings_.flush();
  fprintf(stderr, "leaseq-chaos: %s %s: %s\n", violation ? "FINDING" : "note", what.c_str(), detail.c_str());
}

void Journal::Stall(int64_t from_wall_ms, int64_t to_wall_ms) {
  stalls_ << json({{"from", from_wall_ms}, {"to", to_wall_ms}}).dump() << "\n";
  stalls_.flush();
}

}  // namespace leaseq::chaos
