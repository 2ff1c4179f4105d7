// The subcommands of leaseq-ctl, one function each: send the request of
// docs/protocol.md "Client commands", print the reply, return the exit code
// (tools/common/exit_codes.h). Output goes to stdout, messages to stderr.
#pragma once

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
int RunWait(Client& client, const std::vector<std::string>& keys);
// command is kCancel or kRetry; prints every key the broker changed.
int RunChange(Client& client, wire::Command command, const std::vector<std::string>& keys);
// `keygen PATH`: writes a new CURVE key pair, PATH.secret (the secret key,
// mode 0600) and PATH.pub (the public key), each one line of Z85 (see
// common/curve.h); never overwrites (exit 2); prints both file names and the
// public key. Needs no broker.
int RunKeygen(const std::string& path);

}  // namespace leaseq::tools::ctl
