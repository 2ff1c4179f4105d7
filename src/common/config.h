// The named constants of leaseq: heartbeating, liveness, reconnect backoff,
// size limits and the environment defaults. One place, as in the ZeroMQ
// guide's Paranoid Pirate pattern. Header-only, constants only.
#pragma once

#include <cstdint>
#include <string>

namespace leaseq::config {

// Heartbeats both ways: every kHeartbeatMs each side sends a heartbeat if it
// has sent nothing else. A peer unheard for kHeartbeatMs * kLiveness is dead:
// the broker declares the worker lost (its leases lapse), the worker
// reconnects. 1000 x 3 = 3 s, the README's "1 s x 3".
inline constexpr int kHeartbeatMs = 1000;
inline constexpr int kLiveness = 3;

// A worker that holds nothing (no running, prefetched or unacknowledged
// attempt) and said so in its last heartbeat exchanges heartbeats this many
// times less often, when both sides agree (register/welcome field
// `idle_heartbeat_ms`): its heartbeats renew nothing, and a thousand idle
// workers would otherwise cost the broker a message in and out each per
// interval. The broker then judges its silence by the same factor
// (heartbeat x factor x liveness: 15 s by default) and sends its own
// heartbeats at that rate; a worker that receives a task is back at the
// normal rate at once. 1 turns it off (broker --idle-heartbeat-factor).
inline constexpr int kIdleHeartbeatFactor = 5;

// Worker reconnect backoff (Paranoid Pirate): doubles from the initial value
// up to the maximum. Shorter than the guide's 1 s..32 s so that a restarted
// broker sees its workers back within a few heartbeats.
inline constexpr int kReconnectInitialMs = 250;
inline constexpr int kReconnectMaxMs = 2000;

// The defaults of the broker's lease settings (rules::Settings in
// src/broker/lease_rules.h, where the rules that use them are):
// retry backoff after a failed attempt, kRetryBackoffMs * 2^(n-1) capped;
// a task is failed past this many deaths of its workers (Dask's default).
inline constexpr int64_t kRetryBackoffMs = 100;
inline constexpr int64_t kRetryBackoffMaxMs = 10000;
inline constexpr int kAllowedFailures = 3;

// Largest message accepted on any socket (ZMQ_MAXMSGSIZE) and the largest
// result a worker keeps of a command's stdout.
inline constexpr int64_t kMaxMessageBytes = 512LL << 20;
inline constexpr int64_t kMaxResultBytes = 256LL << 20;
// How much of a failed command's stderr goes into tasks.error.
inline constexpr size_t kStderrTailBytes = 2048;
// Largest input (stdin bytes given with the task) of one task. A whole
// submission travels in one message, an input that is not UTF-8 as base64
// (4/3 of its size), and the broker holds the submission in memory while it
// stores it: 64 MiB keeps all of that far below kMaxMessageBytes. Larger data
// belongs in a file the command reads.
inline constexpr int64_t kMaxInputBytes = 64LL << 20;

// A command past its time limit gets SIGTERM (its whole process group), and
// SIGKILL this long after if it is still there.
inline constexpr int kTimeoutGraceMs = 2000;

// A draining worker finishes its running tasks within this time, then kills
// and hands back what is left. Fits inside GCP/Azure/Kubernetes' 30 s.
inline constexpr int kDrainTimeoutMs = 25000;

// Clients (leaseq-submit, leaseq-ctl): one try waits this long for a reply,
// and a request is tried this many times (Lazy Pirate) before giving up.
inline constexpr int kClientTimeoutMs = 2500;
inline constexpr int kClientTries = 3;

// Group commit: at most this many messages are handled in one loop pass
// (one transaction).
inline constexpr int kMaxBatchMessages = 4096;

inline constexpr const char* kDefaultBroker = "tcp://127.0.0.1:5555";
inline constexpr const char* kDefaultDb = "./leaseq.db";

// LEASEQ_BROKER, or the default endpoint.
std::string BrokerEndpointFromEnv();
// LEASEQ_DB, or the default database path.
std::string DbPathFromEnv();

// CURVE for workers and clients (README "Security"), where --curve-secret /
// --curve-server are absent: the peer's own .secret file and the broker's
// .pub file. Empty when unset (no CURVE). The broker reads no environment
// for its keys: only its flags.
inline constexpr const char* kEnvCurveSecret = "LEASEQ_CURVE_SECRET";
inline constexpr const char* kEnvCurveServer = "LEASEQ_CURVE_SERVER";
std::string CurveSecretFromEnv();
std::string CurveServerFromEnv();

}  // namespace leaseq::config
