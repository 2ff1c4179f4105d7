// Worker identity: what a worker process calls itself when it registers.
//  - NewSessionId(): a random 128-bit hex id, one per worker process (its
//    `session`): it tells the same process reconnecting from a new one
//    under the same name.
//  - HostName(): gethostname(), or "localhost".
//  - DefaultWorkerName(): `<hostname>-<pid>-<8 hex digits>`, the name of a
//    worker started without --name. The random suffix keeps names apart
//    where hostnames and pids repeat: containers sharing the host's
//    network (same hostname) in which every worker is pid 1 or 7.
// Thread-safe.
#pragma once

#include <string>

namespace leaseq::worker {

std::string NewSessionId();
std::string HostName();
std::string DefaultWorkerName();

}  // namespace leaseq::worker
