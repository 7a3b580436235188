#include "tools/vigil/cli.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "base/json.h"
#include "eventlog/options.h"

namespace vigil::cli {
namespace {

// Debian's Abseil has its own string_view, distinct from std::string_view.
absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

const FlagSpec* FindSpec(const std::vector<FlagSpec>& specs,
                         std::string_view name) {
  for (const FlagSpec& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// Messages may quote bytes of a damaged record or of bad input: they reach
// the terminal as text, the bytes that are not UTF-8 replaced.
void WriteStderr(std::string_view text) {
  const std::string shown = base::ReplaceInvalidUtf8(text);
  std::fwrite(shown.data(), 1, shown.size(), stderr);
}

}  // namespace

bool FlagValues::Has(std::string_view name) const {
  for (const auto& [key, value] : values_) {
    if (key == name) return true;
  }
  return false;
}

std::string_view FlagValues::Get(std::string_view name,
                                 std::string_view fallback) const {
  for (auto it = values_.rbegin(); it != values_.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return fallback;
}

std::vector<std::string> FlagValues::GetAll(std::string_view name) const {
  std::vector<std::string> all;
  for (const auto& [key, value] : values_) {
    if (key == name) all.push_back(value);
  }
  return all;
}

absl::StatusOr<uint64_t> FlagValues::GetUint64(std::string_view name,
                                               uint64_t fallback) const {
  if (!Has(name)) return fallback;
  const std::string_view text = Get(name);
  uint64_t value = 0;
  // SimpleAtoi alone would also take a sign and surrounding blanks.
  if (text.empty() || text.find_first_not_of("0123456789") != text.npos ||
      !absl::SimpleAtoi(AsAbsl(text), &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", AsAbsl(name), ": \"", AsAbsl(text),
                     "\" is not a non-negative integer"));
  }
  return value;
}

void FlagValues::Add(std::string_view name, std::string_view value) {
  values_.emplace_back(name, value);
}

absl::StatusOr<FlagValues> ParseFlags(
    const std::vector<FlagSpec>& specs,
    const std::vector<std::string_view>& args) {
  FlagValues values;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      return absl::InvalidArgumentError(absl::StrCat(
          arg.substr(0, 1) == "-" ? "unknown flag " : "unexpected argument ",
          "\"", AsAbsl(arg), "\""));
    }
    std::string_view name = arg.substr(2);
    std::string_view value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != name.npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const FlagSpec* spec = FindSpec(specs, name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", AsAbsl(name)));
    }
    if (!spec->repeatable && values.Has(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", AsAbsl(name), " given more than once"));
    }
    if (spec->value_name.empty()) {  // boolean
      if (!has_value) {
        value = "true";
      } else if (value != "true" && value != "false") {
        return absl::InvalidArgumentError(absl::StrCat(
            "--", AsAbsl(name), " takes no value (or =true, =false)"));
      }
    } else if (!has_value) {
      // "--stream --from 3" is a forgotten value, not a stream named
      // "--from"; such a value can still be given as --stream=--from.
      if (i + 1 == args.size() || args[i + 1].substr(0, 2) == "--") {
        return absl::InvalidArgumentError(absl::StrCat(
            "--", AsAbsl(name), " needs a value ", AsAbsl(spec->value_name)));
      }
      value = args[++i];
    }
    values.Add(name, value);
  }
  return values;
}

void AppendHelpRow(std::string_view left, std::string_view text, size_t column,
                   std::string* help) {
  constexpr size_t kWidth = 80;
  std::string line(left);
  line.resize(std::max(line.size() + 2, column), ' ');
  // Word-wrapped, continuation lines indented to `column`.
  bool first_word = true;
  for (absl::string_view word :
       absl::StrSplit(AsAbsl(text), ' ', absl::SkipEmpty())) {
    if (!first_word && line.size() + 1 + word.size() > kWidth) {
      absl::StrAppend(help, line, "\n");
      line.assign(column, ' ');
      first_word = true;
    }
    if (!first_word) line.push_back(' ');
    absl::StrAppend(&line, word);
    first_word = false;
  }
  absl::StrAppend(help, line, "\n");
}

std::string CommandHelp(const Command& command) {
  constexpr size_t kColumn = 28;
  std::string help = absl::StrCat("Usage: ", AsAbsl(command.usage), "\n\n",
                                  AsAbsl(command.summary), "\n");
  if (!command.details.empty()) {
    absl::StrAppend(&help, "\n", AsAbsl(command.details), "\n");
  }
  help.append("\nFlags:\n");
  for (const FlagSpec& flag : command.flags) {
    std::string left = absl::StrCat("  --", AsAbsl(flag.name));
    if (!flag.value_name.empty()) {
      absl::StrAppend(&left, " ", AsAbsl(flag.value_name));
    }
    AppendHelpRow(left,
                  flag.repeatable
                      ? absl::StrCat(AsAbsl(flag.help), " (repeatable)")
                      : std::string(flag.help),
                  kColumn, &help);
  }
  AppendHelpRow("  --help", "this text", kColumn, &help);
  return help;
}

int UsageError(std::string_view command, std::string_view message) {
  WriteStderr(absl::StrCat(
      "vigil: ", AsAbsl(message), "\nRun 'vigil ",
      command.empty() ? "--help" : absl::StrCat("help ", AsAbsl(command)),
      "' for usage.\n"));
  return kExitUsage;
}

int Fail(std::string_view what, const absl::Status& status) {
  WriteStderr(absl::StrCat("vigil: ", AsAbsl(what), ": ",
                           absl::StatusCodeToString(status.code()), ": ",
                           status.message(), "\n"));
  return kExitFailure;
}

bool WriteStdout(std::string_view text) {
  return std::fwrite(text.data(), 1, text.size(), stdout) == text.size();
}

int FinishStdout() {
  if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return kExitOk;
  return Fail("writing stdout", absl::UnavailableError(std::strerror(errno)));
}

std::string DataDir(const FlagValues& flags) {
  return std::string(flags.Get(kDataDirFlag.name, "./data"));
}

absl::StatusOr<std::unique_ptr<eventlog::EventLog>> OpenLogReader(
    const FlagValues& flags) {
  eventlog::Options options;
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
      eventlog::EventLog::OpenReader(options, DataDir(flags));
  if (!log.ok()) return log.status();
  if (absl::Status status = (*log)->Refresh(); !status.ok()) return status;
  return log;
}

int OpenFailed(const FlagValues& flags, const absl::Status& status) {
  return Fail(absl::StrCat("cannot open the log in ", DataDir(flags)), status);
}

}  // namespace vigil::cli
