// FUZZ_CHECK: the fuzz targets' assertion. A failed check prints what went
// wrong and aborts, which libFuzzer reports as a crash (and saves the input)
// and which fails the replay test in `make test`. Active in every build type
// (unlike assert, which NDEBUG would remove).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, ...)                                                   \
  do {                                                                          \
    if (!(cond)) {                                                              \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: ", __FILE__, __LINE__, \
                   #cond);                                                      \
      std::fprintf(stderr, __VA_ARGS__);                                        \
      std::fprintf(stderr, "\n");                                               \
      std::abort();                                                             \
    }                                                                           \
  } while (0)
