// Clock: the two times leaseq needs, injected so that the lease and suspicion
// rules can be tested with a fake.
//  - WallMs(): milliseconds since the Unix epoch. Leases outlive the process,
//    so their expiry is stored in the database as wall-clock time.
//  - SteadyMs(): a monotonic clock for in-process timers (heartbeats).
// SystemClock is stateless and thread-safe. FakeClock is not thread-safe.
#pragma once

#include <cstdint>

namespace leaseq {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t WallMs() const = 0;
  virtual int64_t SteadyMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t WallMs() const override;
  int64_t SteadyMs() const override;
};

// A clock that moves only when told to; both times advance together.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t WallMs() const override { return now_; }
  int64_t SteadyMs() const override { return now_; }
  void Advance(int64_t ms) { now_ += ms; }

 private:
  int64_t now_;
};

}  // namespace leaseq
