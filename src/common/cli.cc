#include "common/cli.h"

#include <algorithm>
#include <cstdio>

namespace leaseq::cli {

namespace {

constexpr int kUsageStatus = 2;

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Every spelling the user could have meant: long flags and subcommands of
// app and of its chosen subcommands.
void CollectNames(const CLI::App& app, std::vector<std::string>* names) {
  for (const CLI::Option* o : app.get_options()) {
    for (const std::string& l : o->get_lnames()) names->push_back("--" + l);
  }
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    names->push_back(sub->get_name());
    if (sub->parsed()) CollectNames(*sub, names);
  }
}

std::string Suggestion(const CLI::App& app) {
  std::vector<std::string> names;
  CollectNames(app, &names);
  for (const std::string& word : app.remaining(true)) {
    std::string key = word.substr(0, word.find('='));
    std::string near = Nearest(key, names);
    if (!near.empty()) return "did you mean '" + near + "' for '" + key + "'?";
  }
  return "";
}

}  // namespace

std::string VersionText() { return std::string("leaseq ") + LEASEQ_VERSION; }

void AddVersionFlag(CLI::App& app) { app.set_version_flag("--version", VersionText()); }

std::optional<int> Parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    app.exit(e);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::string hint = Suggestion(app);
    std::string name = app.get_name();
    name = name.substr(name.find_last_of('/') + 1);
    std::fprintf(stderr, "%s: %s\n%s%sRun with --help for more information.\n", name.c_str(), e.what(), hint.c_str(), hint.empty() ? "" : "\n");
    return kUsageStatus;
  }
  return std::nullopt;
}

std::string Nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = 3;  // at most 2 edits
  for (const std::string& c : candidates) {
    const size_t d = EditDistance(word, c);
    if (d < best_distance && d * 2 < std::max<size_t>(word.size(), 2)) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace leaseq::cli
