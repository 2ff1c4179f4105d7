// Command-line conventions shared by every leaseq binary (CLI11):
// `--version` prints the release and exits 0; --help exits 0; any usage
// error prints the problem, a suggestion for a mistyped flag or subcommand
// ("did you mean --slots?"), and exits 2, the documented usage status.
// Thread-compatible; call from main.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace leaseq::cli {

// The release, as `--version` prints it ("leaseq 0.2.0").
std::string VersionText();

// Adds --version to app (before parsing).
void AddVersionFlag(CLI::App& app);

// Parses argv. Returns nullopt when the program should go on, or the exit
// status to return at once: 0 after --help / --version (printed), 2 after a
// usage error (printed to stderr with a suggestion where one is close).
std::optional<int> Parse(CLI::App& app, int argc, char** argv);

// The candidate nearest to word by edit distance, when close enough to be
// a typo (at most 2 edits, and fewer than half the word); empty otherwise.
std::string Nearest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace leaseq::cli
