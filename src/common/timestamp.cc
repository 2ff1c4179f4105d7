#include "common/timestamp.h"

#include <cstdio>

namespace leaseq {

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil), so that no time zone or locale is involved.
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int64_t* m, int64_t* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp + (mp < 10 ? 3 : -9);
  *y = yoe + era * 400 + (*m <= 2);
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t DaysInMonth(int64_t y, int64_t m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly n digits at *pos.
bool Digits(std::string_view t, size_t* pos, size_t n, int64_t* out) {
  if (*pos + n > t.size()) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = t[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool Expect(std::string_view t, size_t* pos, std::string_view one_of) {
  if (*pos >= t.size() || one_of.find(t[*pos]) == std::string_view::npos) return false;
  ++*pos;
  return true;
}

}  // namespace

Status ParseRfc3339(std::string_view t, int64_t* ms_since_epoch) {
  const auto bad = [&](const std::string& why) {
    return Status::Invalid("bad time '" + std::string(t) + "': " + why +
                           " (write RFC 3339, e.g. 2026-12-01T10:00:00Z or "
                           "2026-12-01T11:00:00+01:00)");
  };
  size_t p = 0;
  int64_t y, mo, d, h, mi, s;
  if (!Digits(t, &p, 4, &y) || !Expect(t, &p, "-") || !Digits(t, &p, 2, &mo) ||
      !Expect(t, &p, "-") || !Digits(t, &p, 2, &d)) {
    return bad("expected a date YYYY-MM-DD");
  }
  if (!Expect(t, &p, "Tt ")) return bad("expected T and a time after the date");
  if (!Digits(t, &p, 2, &h) || !Expect(t, &p, ":") || !Digits(t, &p, 2, &mi) ||
      !Expect(t, &p, ":") || !Digits(t, &p, 2, &s)) {
    return bad("expected a time HH:MM:SS");
  }
  int64_t ms = 0;
  if (p < t.size() && t[p] == '.') {
    ++p;
    const size_t start = p;
    int64_t scale = 100;
    while (p < t.size() && t[p] >= '0' && t[p] <= '9') {
      ms += (t[p] - '0') * scale;
      scale /= 10;
      ++p;
    }
    if (p == start) return bad("expected digits after the '.'");
  }
  int64_t offset_min = 0;
  if (Expect(t, &p, "Zz")) {
    offset_min = 0;
  } else if (p < t.size() && (t[p] == '+' || t[p] == '-')) {
    const int sign = t[p++] == '-' ? -1 : 1;
    int64_t oh, om;
    if (!Digits(t, &p, 2, &oh) || !Expect(t, &p, ":") || !Digits(t, &p, 2, &om) || oh > 23 ||
        om > 59) {
      return bad("expected an offset +HH:MM or -HH:MM");
    }
    offset_min = sign * (oh * 60 + om);
  } else {
    return bad("the time zone is missing (Z for UTC, or an offset such as +01:00)");
  }
  if (p != t.size()) return bad("unexpected text after the time");
  if (mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo)) return bad("no such date");
  // 60: a leap second, which RFC 3339 allows; it reads as the next second.
  if (h > 23 || mi > 59 || s > 60) return bad("no such time of day");
  const int64_t secs = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset_min * 60;
  if (secs < 0) return bad("it is before 1970-01-01T00:00:00Z");
  *ms_since_epoch = secs * 1000 + ms;
  return Status::Ok();
}

std::string FormatRfc3339(int64_t ms_since_epoch) {
  const int64_t ms = ((ms_since_epoch % 1000) + 1000) % 1000;
  const int64_t secs = (ms_since_epoch - ms) / 1000;
  const int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  const int64_t rem = secs - days * 86400;
  int64_t y, m, d;
  CivilFromDays(days, &y, &m, &d);
  char buf[128];  // room for any int64 the compiler can imagine in each field
  if (ms != 0) {
    std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                  static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                  static_cast<long long>(rem % 60), static_cast<long long>(ms));
  } else {
    std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
                  static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                  static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                  static_cast<long long>(rem % 60));
  }
  return buf;
}

}  // namespace leaseq
