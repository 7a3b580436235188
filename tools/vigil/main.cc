// vigil: the command-line tool of the Vigil event store. Dispatches to the
// subcommands of the table below; each parses its own flags.

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"

namespace vigil::cli {
namespace {

const std::vector<Command>& Commands() {
  static const auto* const kCommands = new std::vector<Command>{
      InitCommand(),
      AppendCommand(),
      ReadCommand(),
      VerifyCommand(),
      StatCommand(),
      TailCommand(),
      BenchCommand(),
      SimulateCommand(),
      ProjectionsCommand(),
      ReplayCommand(),
      StateCommand(),
      DiffCommand(),
      ExportCommand(),
      ImportCommand(),
      TortureCommand(),
      MirrorCheckCommand(),
  };
  return *kCommands;
}

const Command* FindCommand(std::string_view name) {
  for (const Command& command : Commands()) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

std::string MainHelp() {
  std::string help =
      "Usage: vigil <command> [flags]\n"
      "\n"
      "The command-line tool of the Vigil event store.\n"
      "\n"
      "Commands:\n";
  constexpr size_t kColumn = 12;
  for (const Command& command : Commands()) {
    AppendHelpRow(absl::StrCat("  ", absl::string_view(command.name.data(),
                                                       command.name.size())),
                  command.summary, kColumn, &help);
  }
  AppendHelpRow("  help", "show the flags of a command: vigil help <command>",
                kColumn, &help);
  help.append(
      "\n"
      "Exit codes:\n"
      "  0   success\n"
      "  1   operational error: the log cannot be opened, bad input, the\n"
      "      append was rejected (the status code and message go to stderr)\n"
      "  2   verify found a record or hash link that does not match, or\n"
      "      mirror-check a JetStream message that differs from the log\n"
      "  64  usage error: unknown command or flag, bad flag value\n");
  return help;
}

bool IsHelpFlag(std::string_view arg) { return arg == "--help" || arg == "-h"; }

int UnknownCommand(std::string_view name) {
  return UsageError(
      "", absl::StrCat("unknown command \"",
                       absl::string_view(name.data(), name.size()), "\""));
}

int Main(const std::vector<std::string_view>& args) {
  if (args.empty()) {
    std::fputs(MainHelp().c_str(), stderr);
    return kExitUsage;
  }
  if (IsHelpFlag(args[0])) {
    std::fputs(MainHelp().c_str(), stdout);
    return kExitOk;
  }
  if (args[0] == "help") {
    if (args.size() == 1) {
      std::fputs(MainHelp().c_str(), stdout);
      return kExitOk;
    }
    if (args.size() > 2) return UsageError("", "help takes one command");
    const Command* command = FindCommand(args[1]);
    if (command == nullptr) return UnknownCommand(args[1]);
    std::fputs(CommandHelp(*command).c_str(), stdout);
    return kExitOk;
  }
  const Command* command = FindCommand(args[0]);
  if (command == nullptr) return UnknownCommand(args[0]);
  std::vector<std::string_view> rest(args.begin() + 1, args.end());
  // `bench append|echo|live ...` reads as `bench --what append|echo|live`.
  if (command->name == "bench" && !rest.empty() && !rest[0].starts_with("-")) {
    rest.insert(rest.begin(), "--what");
  }
  // `projections rebuild NAME` reads as `projections --rebuild NAME`.
  if (command->name == "projections" && !rest.empty() &&
      rest[0] == "rebuild") {
    rest[0] = "--rebuild";
  }
  for (std::string_view arg : rest) {
    if (IsHelpFlag(arg)) {
      std::fputs(CommandHelp(*command).c_str(), stdout);
      return kExitOk;
    }
  }
  absl::StatusOr<FlagValues> flags = ParseFlags(command->flags, rest);
  if (!flags.ok()) {
    return UsageError(command->name, std::string(flags.status().message()));
  }
  return command->run(*command, *flags);
}

}  // namespace
}  // namespace vigil::cli

int main(int argc, char** argv) {
  return vigil::cli::Main(std::vector<std::string_view>(argv + 1, argv + argc));
}
