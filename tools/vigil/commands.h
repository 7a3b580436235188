// The subcommands of `vigil`, one file each (cmd_<name>.cc). main.cc lists
// them in its table; a new subcommand adds a line here and one there.

#ifndef VIGIL_TOOLS_VIGIL_COMMANDS_H_
#define VIGIL_TOOLS_VIGIL_COMMANDS_H_

#include "tools/vigil/cli.h"

namespace vigil::cli {

Command InitCommand();
Command AppendCommand();
Command ReadCommand();
Command VerifyCommand();
Command StatCommand();
Command TailCommand();
Command BenchCommand();
Command SimulateCommand();
Command ProjectionsCommand();
Command ReplayCommand();
Command StateCommand();
Command DiffCommand();
Command ExportCommand();
Command ImportCommand();
Command TortureCommand();
Command MirrorCheckCommand();

}  // namespace vigil::cli

#endif  // VIGIL_TOOLS_VIGIL_COMMANDS_H_
