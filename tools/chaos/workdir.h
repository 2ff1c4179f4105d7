// The files of a chaos run's work directory: the runner writes them, the
// checker reads them (and can read them again later: leaseq-chaos --check DIR).
//
//   run.json          the options, the seed, the endpoint, the window's times
//   manifest.jsonl    every task the runner tried to submit (dag.h's TaskDef)
//   faults.jsonl      every fault injected or skipped, with wall-clock times
//   findings.jsonl    what the runner itself saw go wrong (a broker that
//                     crashed, a refused submission, an unclean stop...)
//   stalls.jsonl      moments when the runner itself was not scheduled for a
//                     while (an overloaded machine): a worker may miss its
//                     heartbeats then without any fault
//   side-effects.log  the lines the tasks append
//   leaseq.db         the broker's database
//   submits/          task files; BATCH.TRY.keys = the keys a client printed
//   logs/             broker and worker stderr
#pragma once

#include <string>

namespace leaseq::chaos::files {

inline constexpr const char* kRun = "run.json";
inline constexpr const char* kManifest = "manifest.jsonl";
inline constexpr const char* kFaults = "faults.jsonl";
inline constexpr const char* kFindings = "findings.jsonl";
inline constexpr const char* kStalls = "stalls.jsonl";
inline constexpr const char* kSideEffects = "side-effects.log";
inline constexpr const char* kDb = "leaseq.db";
inline constexpr const char* kSubmits = "submits";
inline constexpr const char* kLogs = "logs";

// Fault kinds, as written in faults.jsonl.
inline constexpr const char* kWorkerKill = "worker-kill";
inline constexpr const char* kWorkerTerm = "worker-term";
inline constexpr const char* kWorkerStop = "worker-stop";
inline constexpr const char* kWorkerCont = "worker-cont";  // the end of a stop, not a fault
inline constexpr const char* kBrokerKill = "broker-kill";
inline constexpr const char* kBrokerTerm = "broker-term";
inline constexpr const char* kBrokerStart = "broker-start";  // a restart, not a fault
inline constexpr const char* kClientKill = "client-kill";
// Network faults (--net-faults): a worker's link cut, every worker's link
// cut, a worker's link cut and healed several times quickly; each ends with
// a heal, matched by its "id".
inline constexpr const char* kNetCut = "net-cut";
inline constexpr const char* kNetCutAll = "net-cut-all";
inline constexpr const char* kNetFlap = "net-flap";
inline constexpr const char* kNetHeal = "net-heal";  // the end of a network fault, not a fault

}  // namespace leaseq::chaos::files
