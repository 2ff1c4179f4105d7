// Worker identity: what a worker process calls itself when it registers.
//  - NewSessionId(): a random 128-bit hex id, one per worker process (its
//    `session`): it tells the same process reconnecting from a new one
//    under the same name.
//  - HostName(): gethostname(), or "localhost".
//  - DefaultWorkerName(): `<hostname>[-<engine>]-<pid>-<8 hex digits>`, the
//    name of a worker started without --name. <engine> says where the
//    process runs when an engine tells (EngineTag below). The random suffix
//    keeps names apart where hostnames and pids repeat: containers sharing
//    the host's network (same hostname) in which every worker is pid 1 or 7,
//    or two Slurm steps on one node.
//  - EngineTag(env): "slurm<job>[_<array task>][.<step>]" inside a Slurm job,
//    "pod-<name>" in a Kubernetes pod whose POD_NAME (the downward API's
//    usual variable) differs from the hostname, "" elsewhere. Characters a
//    worker name may not hold become '_'. `env` is getenv or a test's map.
// Thread-safe.
#pragma once

#include <functional>
#include <string>

namespace leaseq::worker {

std::string NewSessionId();
std::string HostName();
// Returns the variable's value, or nullptr when it is unset (as getenv).
using EnvLookup = std::function<const char*(const char*)>;

std::string EngineTag(const EnvLookup& env);
std::string DefaultWorkerName();

}  // namespace leaseq::worker
