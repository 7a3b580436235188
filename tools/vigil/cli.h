// The frame of the `vigil` command-line tool: what a subcommand is, its
// flags, the exit codes, and the few helpers every subcommand shares.
// A subcommand is a Command value in the table of main.cc; one that talks
// to a server instead of a data directory declares a --server flag and
// needs nothing else from this frame. Single-threaded, like the tool.

#ifndef VIGIL_TOOLS_VIGIL_CLI_H_
#define VIGIL_TOOLS_VIGIL_CLI_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eventlog/event_log.h"

namespace vigil::cli {

// Exit codes; `vigil --help` lists them.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;         // operational error
inline constexpr int kExitVerifyMismatch = 2;  // verify found a bad record
inline constexpr int kExitUsage = 64;          // EX_USAGE of sysexits.h

struct FlagSpec {
  std::string_view name;        // without the leading "--"
  std::string_view value_name;  // "N", "DIR", ...; empty for a boolean flag
  std::string_view help;
  bool repeatable = false;
};

// The flags of one command line, already checked against its FlagSpecs.
class FlagValues {
 public:
  bool Has(std::string_view name) const;
  // The value given, or `fallback` when the flag is absent. A boolean flag
  // given without a value reads "true".
  std::string_view Get(std::string_view name,
                       std::string_view fallback = "") const;
  // Every value of a repeatable flag, in command-line order.
  std::vector<std::string> GetAll(std::string_view name) const;
  // The value as a decimal uint64, `fallback` when absent; INVALID_ARGUMENT
  // naming the flag otherwise.
  absl::StatusOr<uint64_t> GetUint64(std::string_view name,
                                     uint64_t fallback) const;

  void Add(std::string_view name, std::string_view value);

 private:
  std::vector<std::pair<std::string, std::string>> values_;
};

struct Command {
  std::string_view name;
  std::string_view summary;  // one line in `vigil --help`
  std::string_view usage;    // "vigil append --stream S [flags] < FILE"
  std::string_view details;  // what `vigil help <name>` says about it
  std::vector<FlagSpec> flags;
  // Returns the exit code. Writes results to stdout, errors to stderr.
  int (*run)(const Command& command, const FlagValues& flags);
};

// Parses `args` (`--name value`, `--name=value`, `--flag` for a boolean)
// against `specs`. INVALID_ARGUMENT for an unknown flag, a missing or
// unexpected value, a repeated non-repeatable flag, or a positional
// argument.
absl::StatusOr<FlagValues> ParseFlags(
    const std::vector<FlagSpec>& specs,
    const std::vector<std::string_view>& args);

// Appends "<left>   <text>" to `help`: `text` starts at `column` and is
// wrapped at 80 columns. One row of a table of commands or flags.
void AppendHelpRow(std::string_view left, std::string_view text, size_t column,
                   std::string* help);

// The text of `vigil help <command>`.
std::string CommandHelp(const Command& command);

// Prints "vigil: <message>" and a one-line hint at `vigil help <command>`
// (or `vigil --help` when `command` is empty) to stderr; returns kExitUsage.
int UsageError(std::string_view command, std::string_view message);

// Prints "vigil: <what>: <CODE>: <message>" to stderr; returns
// kExitFailure.
int Fail(std::string_view what, const absl::Status& status);

// Writes `text` to stdout; false when stdout is broken or full.
bool WriteStdout(std::string_view text);
// Flushes stdout; on failure reports it as Fail does and returns
// kExitFailure, else kExitOk.
int FinishStdout();

// --data-dir, shared by the subcommands that work on a data directory.
inline constexpr FlagSpec kDataDirFlag = {
    "data-dir", "DIR", "the log's data directory (default ./data)"};
std::string DataDir(const FlagValues& flags);

// Opens the log in --data-dir alongside whichever process may be writing
// it (EventLog::OpenReader), caught up with what that writer made durable.
absl::StatusOr<std::unique_ptr<eventlog::EventLog>> OpenLogReader(
    const FlagValues& flags);

// Reports that the log in --data-dir could not be opened, as Fail does.
int OpenFailed(const FlagValues& flags, const absl::Status& status);

}  // namespace vigil::cli

#endif  // VIGIL_TOOLS_VIGIL_CLI_H_
