// The flag table of docs/operations.md ("Flags") against the real
// `vigild --help` (VIGILD_BINARY): every flag vigild prints has a row, every
// row names a flag vigild has, and each row's variable and default are the
// ones vigild prints. Defaults under the source tree (VIGIL_SOURCE_DIR, the
// dashboard's files) are written relative to it in the table.

#include <stdio.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace vigil {
namespace {

struct FlagRow {
  std::string variable;  // VIGIL_..., or empty for --help
  std::string default_value;
};

// stdout of `vigild --help`; fails the test when it does not exit 0.
std::string VigildHelp() {
  const std::string command = std::string(VIGILD_BINARY) + " --help";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run " << command;
    return "";
  }
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << command << " exited with status " << status;
  return out;
}

// The help's rows: a line starting "  --name" begins one, indented lines
// continue it. Each row ends "[VARIABLE, default VALUE]" (--help has none).
std::map<std::string, FlagRow> HelpRows(const std::string& help) {
  std::map<std::string, FlagRow> rows;
  std::vector<std::pair<std::string, std::string>> entries;  // name, text
  const std::regex row_start("^  --([a-z0-9-]+)(.*)$");
  std::istringstream lines(help);
  std::string line;
  std::smatch match;
  while (std::getline(lines, line)) {
    if (std::regex_match(line, match, row_start)) {
      entries.emplace_back(match[1], match[2]);
    } else if (!entries.empty() && line.starts_with("   ")) {
      entries.back().second += " " + line;
    } else {
      entries.emplace_back("", "");  // ends the row before it
    }
  }
  const std::regex tail(
      R"(\[(VIGIL_[A-Z0-9_]+),\s+default\s*([^\]\s]*)\s*\]\s*$)");
  for (const auto& [name, text] : entries) {
    if (name.empty()) continue;
    FlagRow row;
    if (std::regex_search(text, match, tail)) {
      row.variable = match[1];
      row.default_value = match[2];
    }
    rows[name] = row;
  }
  return rows;
}

// Every `--flag` anywhere in the help, descriptions included.
std::set<std::string> FlagsMentioned(const std::string& help) {
  std::set<std::string> flags;
  const std::regex flag("--([a-z][a-z0-9-]*)");
  for (std::sregex_iterator it(help.begin(), help.end(), flag), end;
       it != end; ++it) {
    flags.insert((*it)[1]);
  }
  return flags;
}

// Splits a Markdown table row on `|`, leaving `\|` inside cells.
std::vector<std::string> Cells(const std::string& row) {
  std::vector<std::string> cells;
  std::string cell;
  for (size_t i = 1; i < row.size(); ++i) {
    if (row[i] == '\\' && i + 1 < row.size() && row[i + 1] == '|') {
      cell += '|';
      ++i;
    } else if (row[i] == '|') {
      const size_t first = cell.find_first_not_of(' ');
      const size_t last = cell.find_last_not_of(' ');
      cells.push_back(first == std::string::npos
                          ? ""
                          : cell.substr(first, last - first + 1));
      cell.clear();
    } else {
      cell += row[i];
    }
  }
  return cells;
}

std::string Unquote(std::string text) {
  if (text.size() >= 2 && text.front() == '`' && text.back() == '`') {
    return text.substr(1, text.size() - 2);
  }
  return text;
}

// The rows of the first table under "## Flags" in docs/operations.md, by
// flag name. A variable or default of "none" or "—" reads as empty.
std::map<std::string, FlagRow> DocRows(const std::string& path) {
  std::map<std::string, FlagRow> rows;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::string line;
  bool in_section = false;
  bool in_table = false;
  const std::regex flag_cell("^`--([a-z0-9-]+)`$");
  std::smatch match;
  while (std::getline(in, line)) {
    if (line.starts_with("## ")) {
      if (in_section) break;
      in_section = line == "## Flags";
      continue;
    }
    if (!in_section) continue;
    if (!line.starts_with("|")) {
      if (in_table) break;
      continue;
    }
    in_table = true;
    const std::vector<std::string> cells = Cells(line);
    if (cells.size() != 4 || !std::regex_match(cells[0], match, flag_cell)) {
      continue;  // the header and its rule
    }
    auto empty_if_none = [](std::string text) {
      text = Unquote(text);
      return text == "none" || text == "—" ? std::string() : text;
    };
    const std::string name = match[1];
    EXPECT_EQ(rows.count(name), 0u) << "--" << name << " has two rows";
    rows[name] = FlagRow{empty_if_none(cells[1]), empty_if_none(cells[2])};
  }
  return rows;
}

TEST(DocsFlagsTest, OperationsTableMatchesVigildHelp) {
  const std::string doc = std::string(VIGIL_SOURCE_DIR) + "/docs/operations.md";
  const std::string help = VigildHelp();
  const std::map<std::string, FlagRow> help_rows = HelpRows(help);
  const std::map<std::string, FlagRow> doc_rows = DocRows(doc);
  ASSERT_GT(help_rows.size(), 10u) << "no flags parsed from:\n" << help;
  ASSERT_FALSE(doc_rows.empty()) << "no flag table under \"## Flags\" in "
                                 << doc;

  for (const std::string& flag : FlagsMentioned(help)) {
    EXPECT_TRUE(doc_rows.count(flag))
        << "vigild --help prints --" << flag << ", but " << doc
        << " has no row for it";
  }
  for (const auto& [flag, row] : doc_rows) {
    EXPECT_TRUE(help_rows.count(flag))
        << doc << " lists --" << flag << ", which vigild --help does not";
  }
  const std::string source_prefix = std::string(VIGIL_SOURCE_DIR) + "/";
  for (const auto& [flag, help_row] : help_rows) {
    auto doc_row = doc_rows.find(flag);
    if (doc_row == doc_rows.end()) continue;  // reported above
    EXPECT_EQ(doc_row->second.variable, help_row.variable)
        << "the variable of --" << flag << " in " << doc;
    std::string expected = help_row.default_value;
    if (expected.starts_with(source_prefix)) {
      expected = expected.substr(source_prefix.size());
    }
    EXPECT_EQ(doc_row->second.default_value, expected)
        << "the default of --" << flag << " in " << doc;
  }
}

}  // namespace
}  // namespace vigil
