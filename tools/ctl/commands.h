// The subcommands of leaseq-ctl, one function each: send the request of
// docs/protocol.md "Client commands", print the reply, return the exit code
// (tools/common/exit_codes.h). Output goes to stdout, messages to stderr.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/client.h"
#include "common/protocol.h"

namespace leaseq::tools::ctl {

int RunStatus(Client& client);
int RunWorkers(Client& client);
int RunShow(Client& client, const std::string& key);
// The result bytes, exactly: binary-safe, nothing added.
int RunResult(Client& client, const std::string& key);
// timeout_ms > 0: stop waiting after that long (exit 1, the tasks go on).
int RunWait(Client& client, const std::vector<std::string>& keys, int64_t timeout_ms = 0);
// command is kCancel or kRetry; prints every key the broker changed.
int RunChange(Client& client, wire::Command command, const std::vector<std::string>& keys);
// `keygen PATH`: writes a new CURVE key pair, PATH.secret (the secret key,
// mode 0600) and PATH.pub (the public key), each one line of Z85 (see
// common/curve.h); never overwrites (exit 2); prints both file names and the
// public key. Needs no broker.
int RunKeygen(const std::string& path);

// --- operators' commands (commands_ops.cc) ---

// `pause QUEUE` / `resume QUEUE`: nothing more is leased from the queue /
// leasing goes on. Durable. Prints the queue and whether it changed.
int RunPause(Client& client, const std::string& queue, bool pause);
// `list`: tasks by state and queue, at most limit, as a table or JSON Lines.
struct ListArgs {
  std::string state;
  std::string queue;
  int64_t limit = 100;
  bool json = false;
};
int RunList(Client& client, const ListArgs& args);
// `retry --state S [--queue Q]`, `cancel --queue Q`, `purge --state S
// [--queue Q] [--older-than D]`: batch after batch until the broker says
// there is no more; prints "N retried" / "N cancelled" / "N deleted".
int RunRetryState(Client& client, const std::string& state, const std::string& queue);
int RunCancelQueue(Client& client, const std::string& queue);
int RunPurge(Client& client, const std::string& state, const std::string& queue,
             int64_t older_than_ms);
// `backup FILE`: the broker writes a consistent copy of its database to
// FILE on its own host; waits until it is complete.
int RunBackup(Client& client, const std::string& path);

}  // namespace leaseq::tools::ctl
