// `lamina server [flags]`: parses the daemon's flags (CLI11) and environment, then runs it.
#pragma once

namespace lamina::server {
// argv[0] is "server".
int serverMain(int argc, char** argv);
}  // namespace lamina::server
