#include "common/log.h"

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace leaseq::log {

namespace {

// Set once at start-up, before other threads exist; read-only afterwards.
std::string g_component = "leaseq";
Format g_format = Format::kText;

const char* LevelName(Level level) {
  switch (level) {
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

std::string Rfc3339(int64_t wall_ms) {
  const time_t seconds = static_cast<time_t>(wall_ms / 1000);
  struct tm utc;
  gmtime_r(&seconds, &utc);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(wall_ms % 1000));
  return buf;
}

}  // namespace

void Configure(const std::string& component, Format format) {
  g_component = component;
  g_format = format;
}

Status ParseFormat(const std::string& text, Format* out) {
  if (text == "text") {
    *out = Format::kText;
  } else if (text == "json") {
    *out = Format::kJson;
  } else {
    return Status::Invalid("log format '" + text + "' is not 'text' or 'json'");
  }
  return Status::Ok();
}

const char* FormatName(Format f) { return f == Format::kJson ? "json" : "text"; }

Format CurrentFormat() { return g_format; }

std::string FormatLine(Level level, const std::string& message, int64_t wall_ms) {
  if (g_format == Format::kJson) {
    nlohmann::json j = {{"time", Rfc3339(wall_ms)},
                        {"level", LevelName(level)},
                        {"component", g_component},
                        {"message", message}};
    // Invalid UTF-8 (a task's stderr in a message) is replaced, not thrown.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return Rfc3339(wall_ms) + " " + LevelName(level) + " " + g_component + ": " + message;
}

namespace {
Sink g_sink = nullptr;
void* g_sink_context = nullptr;
}  // namespace

void SetSink(Sink sink, void* context) {
  g_sink = sink;
  g_sink_context = context;
}

void Write(Level level, const std::string& message) {
  if (g_sink != nullptr) {
    g_sink(level, message, g_sink_context);
    return;
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::string line = FormatLine(level, message, now) + "\n";
  std::fputs(line.c_str(), stderr);
}

void Printf(Level level, const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string message(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(message.data(), message.size() + 1, format, args);
  va_end(args);
  Write(level, message);
}

}  // namespace leaseq::log
