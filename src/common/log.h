// Log: the daemons' (broker, worker, nanny) log lines on stderr, one line
// per event, each with an RFC 3339 UTC timestamp and a level:
//
//   2026-11-30T02:10:00.123Z info leaseq-broker: worker w1 registered
//
// or, with --log-format json, one JSON object a line for log shippers:
//
//   {"time":"2026-11-30T02:10:00.123Z","level":"info","component":"leaseq-broker","message":"..."}
//
// The clients (leaseq-submit, leaseq-ctl) print plain messages for people
// instead. Thread-safe: a line is written by one fputs on an unbuffered
// stderr, so lines of several threads never interleave. Never call it
// between fork and exec.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace leaseq::log {

enum class Level { kInfo, kWarn, kError };
enum class Format { kText, kJson };

// Sets the component ("leaseq-broker", "leaseq-worker[w1]") and the format.
// Call before any other thread logs.
void Configure(const std::string& component, Format format);

// "text" or "json".
Status ParseFormat(const std::string& text, Format* out);
const char* FormatName(Format f);
Format CurrentFormat();

void Write(Level level, const std::string& message);
inline void Info(const std::string& message) { Write(Level::kInfo, message); }
inline void Warn(const std::string& message) { Write(Level::kWarn, message); }
inline void Error(const std::string& message) { Write(Level::kError, message); }
// printf-style, for lines with numbers.
void Printf(Level level, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Sends every line to sink(level, message, context) instead of stderr;
// nullptr restores stderr. For the simulator (tools/sim/), which keeps its
// cores' lines with simulated times. Set it before any other thread logs.
using Sink = void (*)(Level level, const std::string& message, void* context);
void SetSink(Sink sink, void* context);

// The line Write would print (without its newline) at the given time, in
// milliseconds since the Unix epoch; for tests.
std::string FormatLine(Level level, const std::string& message, int64_t wall_ms);

}  // namespace leaseq::log
