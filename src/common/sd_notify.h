// systemd's readiness protocol (sd_notify(3)) without libsystemd: one
// datagram of "KEY=VALUE" lines to the AF_UNIX socket named by
// $NOTIFY_SOCKET. The broker sends "READY=1" once its socket is bound and its
// database open, so a Type=notify unit (deploy/systemd/) is "started" only
// when the broker accepts work. Thread-safe (no shared state).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace leaseq::sd {

// Sends state (e.g. "READY=1") to the socket named by $NOTIFY_SOCKET. Ok and
// nothing sent when the variable is unset or empty (not run by systemd).
// A name starting with '@' is in the abstract namespace.
Status Notify(std::string_view state);

// The same, to an explicit socket name (what Notify reads from the
// environment); for tests.
Status NotifySocket(const std::string& socket_name, std::string_view state);

}  // namespace leaseq::sd
