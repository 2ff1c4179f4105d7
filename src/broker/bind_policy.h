// Bind policy: without encryption the broker listens only on loopback.
// With CURVE (every connection encrypted and authenticated) any address.
// Pure function; thread-safe.
#pragma once

#include <string>

#include "common/status.h"

namespace leaseq {

// Ok for ipc://, inproc://, and tcp:// on 127.0.0.0/8, localhost or [::1];
// for any other address only when insecure_allowed or curve (the broker
// uses CURVE). A tcp:// endpoint without a port is an error in every case.
Status CheckBindAddress(const std::string& endpoint, bool insecure_allowed, bool curve = false);

}  // namespace leaseq
