// leaseq-example-worker: a leaseq worker with two functions of its own,
// written with the public API only (include/leaseq/worker.h).
//
//   leaseq-example-worker --slots 4 &                       # every leaseq-worker flag works
//   leaseq-submit --fn upper --input 'hello'                # result: HELLO
//   leaseq-submit --fn wordcount --input 'to be or not'     # result: 4
//
// It keeps the built-ins (noop, echo, sleep) and runs commands too. The
// functions are called on several threads at once (--slots): they share
// nothing, so they are safe.
#include <leaseq/worker.h>

#include <cctype>
#include <string>
#include <string_view>

int main(int argc, char** argv) {
  leaseq::Worker w;
  w.Register("upper", [](std::string_view in, std::string* out) {
    out->reserve(in.size());
    for (unsigned char c : in) out->push_back(static_cast<char>(std::toupper(c)));
    return leaseq::FnStatus::Ok();
  });
  // The number of words (runs of non-space bytes), as decimal text.
  w.Register("wordcount", [](std::string_view in, std::string* out) {
    long words = 0;
    bool in_word = false;
    for (char c : in) {
      const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
      if (!space && !in_word) ++words;
      in_word = !space;
    }
    *out = std::to_string(words) + "\n";
    return leaseq::FnStatus::Ok();
  });
  return w.Run(argc, argv);
}
