// docs/protocol.md is the human view of wire_messages.def: these tests fail
// when a declared command or field is missing from it (or the doc lists a
// command the code lacks), and when the fuzz dictionary the build writes
// misses a name.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/wire_messages.h"

namespace leaseq::wire {
namespace {

std::string ReadSource(const std::string& path) {
  std::ifstream in(std::string(LEASEQ_SOURCE_DIR) + "/" + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Cells(const std::string& row) {
  std::vector<std::string> cells;
  std::string cell;
  for (size_t i = 1; i < row.size(); ++i) {  // past the leading '|'
    if (row[i] == '|') {
      cells.push_back(cell);
      cell.clear();
    } else {
      cell.push_back(row[i]);
    }
  }
  return cells;
}

// The rows of the command tables, by command: `name` in the first cell.
struct Rows {
  std::map<std::string, std::vector<std::vector<std::string>>> by_command;
  std::string client_section;  // the text of "## Client commands"
};

Rows ReadTables(const std::string& doc) {
  Rows r;
  std::istringstream in(doc);
  std::string line, section;
  static const std::regex kFirst(R"(^\s*`([a-z_]+)`\s*$)");
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) section = line;
    if (section == "## Client commands") r.client_section += line + "\n";
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells = Cells(line);
    std::smatch m;
    if (cells.empty() || !std::regex_match(cells[0], m, kFirst)) continue;
    r.by_command[m[1]].push_back(cells);
  }
  return r;
}

// `name`, `name[]` or `name: ...` in text.
bool Names(const std::string& text, std::string_view field) {
  const std::string f(field);
  return text.find("`" + f + "`") != std::string::npos ||
         text.find("`" + f + "[]`") != std::string::npos ||
         text.find("`" + f + ":") != std::string::npos;
}

class ProtocolDoc : public ::testing::Test {
 protected:
  void SetUp() override {
    doc_ = ReadSource("docs/protocol.md");
    ASSERT_FALSE(doc_.empty()) << "cannot read docs/protocol.md";
    rows_ = ReadTables(doc_);
  }
  std::string doc_;
  Rows rows_;
};

TEST_F(ProtocolDoc, NamesEveryDeclaredCommandAndNoOther) {
  for (const MessageDecl& d : Messages()) {
    EXPECT_TRUE(rows_.by_command.count(std::string(d.name)))
        << "docs/protocol.md has no table row for `" << d.name << "`";
  }
  for (const auto& [name, rows] : rows_.by_command) {
    EXPECT_TRUE(CommandFromName(name).has_value())
        << "docs/protocol.md lists `" << name << "`, which the code does not declare";
  }
}

TEST_F(ProtocolDoc, NamesEveryDeclaredFieldInItsCommandsRow) {
  for (const MessageDecl& d : Messages()) {
    auto it = rows_.by_command.find(std::string(d.name));
    if (it == rows_.by_command.end()) continue;  // reported above
    const bool request = d.SentBy(Role::kClient);
    // A request's row: body in the second cell, reply in the third. Other
    // rows: anywhere after the name.
    std::string body, reply;
    for (const auto& cells : it->second) {
      for (size_t i = 1; i < cells.size(); ++i) {
        if (!request || i == 1) body += cells[i];
        if (request && i == 2) reply += cells[i];
      }
    }
    for (const FieldDecl& f : d.fields) {
      // "Every request carries an integer `id`": said once for all.
      if (request && f.name == field::kId) {
        EXPECT_TRUE(Names(rows_.client_section, f.name)) << "the client section names no `id`";
        continue;
      }
      EXPECT_TRUE(Names(body, f.name))
          << "docs/protocol.md: the row of `" << d.name << "` does not name its field `" << f.name
          << "`";
    }
    for (const FieldDecl& f : d.reply_fields) {
      EXPECT_TRUE(Names(reply, f.name)) << "docs/protocol.md: the reply of `" << d.name
                                        << "` does not name its field `" << f.name << "`";
    }
  }
}

// The build writes it from the hand-written one and wire_messages.def.
TEST(FuzzDictionary, NamesEveryCommandAndField) {
  std::ifstream in(std::string(LEASEQ_BINARY_DIR) + "/fuzz/fuzz_wire_decode.dict");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string dict = ss.str();
  ASSERT_FALSE(dict.empty()) << "cannot read BUILD/fuzz/fuzz_wire_decode.dict";
  EXPECT_NE(dict.find("tok0=\"{\"\n"), std::string::npos) << "the hand-written part is missing";
  for (const MessageDecl& d : Messages()) {
    const std::string name(d.name);
    EXPECT_NE(dict.find("=\"" + name + "\"\n"), std::string::npos) << "command " << name;
    EXPECT_NE(dict.find("=\"\\x00" + name + "\\x00\"\n"), std::string::npos) << "command " << name;
    for (const auto* fields : {&d.fields, &d.reply_fields}) {
      for (const FieldDecl& f : *fields) {
        EXPECT_NE(dict.find("=\"\\\"" + std::string(f.name) + "\\\":\"\n"), std::string::npos)
            << "field " << f.name;
      }
    }
  }
}

}  // namespace
}  // namespace leaseq::wire
