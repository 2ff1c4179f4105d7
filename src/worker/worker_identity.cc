#include "worker/worker_identity.h"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <random>

namespace leaseq::worker {

namespace {

std::string RandomHex(int words) {
  std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < words; ++i) {
    uint32_t v = rd();
    for (int j = 0; j < 8; ++j, v >>= 4) id.push_back(kHex[v & 0xf]);
  }
  return id;
}

// Default names keep to letters, digits, '.', '_' and '-' so that they paste
// into a shell or an SQL query unquoted; an engine's ids are numbers, but a
// hostname or pod name can be anything its owner chose.
std::string NameSafe(std::string s) {
  for (char& c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return s;
}

std::string Value(const EnvLookup& env, const char* name) {
  const char* v = env(name);
  return v ? v : "";
}

}  // namespace

std::string EngineTag(const EnvLookup& env) {
  // Slurm: an array task's own SLURM_JOB_ID is unique too, but
  // <array job>_<task> is what squeue and sacct show.
  std::string job = Value(env, "SLURM_JOB_ID");
  if (!job.empty()) {
    std::string array_job = Value(env, "SLURM_ARRAY_JOB_ID");
    std::string array_task = Value(env, "SLURM_ARRAY_TASK_ID");
    std::string tag = "slurm" + (array_job.empty() || array_task.empty()
                                     ? job
                                     : array_job + "_" + array_task);
    std::string step = Value(env, "SLURM_STEP_ID");
    if (!step.empty()) tag += "." + step;
    return NameSafe(tag);
  }
  // Kubernetes: the hostname is the pod's name unless the pod shares the
  // node's network (hostNetwork), where POD_NAME is what tells pods apart.
  std::string pod = Value(env, "POD_NAME");
  if (!pod.empty() && !Value(env, "KUBERNETES_SERVICE_HOST").empty() && pod != HostName())
    return NameSafe("pod-" + pod);
  return "";
}

std::string NewSessionId() { return RandomHex(4); }

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

std::string DefaultWorkerName() {
  std::string tag = EngineTag([](const char* name) { return std::getenv(name); });
  return NameSafe(HostName()) + (tag.empty() ? "" : "-" + tag) + "-" + std::to_string(getpid()) +
         "-" + RandomHex(1);
}

}  // namespace leaseq::worker
