// Exit codes of leaseq-submit and leaseq-ctl, the same in both tools so that
// scripts can tell "the work failed" from "I called it wrong" from "the
// broker is not there":
//
//   0  ok: the request succeeded (and, when waiting, every task is done)
//   1  a task is not done: failed, cancelled, still unfinished, unknown to
//      the broker, or a cancel/retry that could not change every key
//   2  bad usage or bad input: flags, a malformed task file, a submission the
//      broker refused as invalid (nothing of it is stored)
//   3  broker unreachable (no answer within timeout x tries), unable to
//      store anything now (its disk is full: nothing was stored, try again
//      later), or it answered something this client cannot use (a bad reply)
//   4  local output error: the result could not be written to stdout
#pragma once

namespace leaseq::tools::exit_code {

inline constexpr int kOk = 0;
inline constexpr int kNotDone = 1;
inline constexpr int kUsage = 2;
inline constexpr int kBroker = 3;
inline constexpr int kOutput = 4;

}  // namespace leaseq::tools::exit_code
