#include "worker/worker_identity.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <string>

namespace leaseq::worker {
namespace {

// An environment made of a map, for EngineTag.
EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(EngineTag, EmptyOutsideAnyEngine) { EXPECT_EQ(EngineTag(Env({})), ""); }

TEST(EngineTag, SlurmJobAndStep) {
  EXPECT_EQ(EngineTag(Env({{"SLURM_JOB_ID", "4711"}})), "slurm4711");
  EXPECT_EQ(EngineTag(Env({{"SLURM_JOB_ID", "4711"}, {"SLURM_STEP_ID", "2"}})), "slurm4711.2");
}

TEST(EngineTag, SlurmArrayTaskShowsAsSqueuePrintsIt) {
  EXPECT_EQ(EngineTag(Env({{"SLURM_JOB_ID", "4712"},
                           {"SLURM_ARRAY_JOB_ID", "4700"},
                           {"SLURM_ARRAY_TASK_ID", "12"}})),
            "slurm4700_12");
}

TEST(EngineTag, PodNameOnlyInsideKubernetesAndWhenItIsNotTheHostname) {
  EXPECT_EQ(EngineTag(Env({{"POD_NAME", "workers-7d9-x2"}})), "");
  EXPECT_EQ(EngineTag(Env({{"POD_NAME", "workers-7d9-x2"}, {"KUBERNETES_SERVICE_HOST", "10.0.0.1"}})),
            "pod-workers-7d9-x2");
  EXPECT_EQ(EngineTag(Env({{"POD_NAME", HostName()}, {"KUBERNETES_SERVICE_HOST", "10.0.0.1"}})), "");
}

TEST(EngineTag, CharactersOutsidePlainNamesBecomeUnderscores) {
  EXPECT_EQ(EngineTag(Env({{"POD_NAME", "a b/c"}, {"KUBERNETES_SERVICE_HOST", "x"}})), "pod-a_b_c");
}

TEST(DefaultWorkerName, HostPidAndRandomSuffixEachTime) {
  std::string a = DefaultWorkerName(), b = DefaultWorkerName();
  EXPECT_NE(a, b);
  EXPECT_NE(a.find("-" + std::to_string(getpid()) + "-"), std::string::npos) << a;
}

}  // namespace
}  // namespace leaseq::worker
