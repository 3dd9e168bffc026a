// lamina: one binary. `lamina server` runs the platform (server/); every other subcommand is a
// client of its API (cli/).
#include <cstring>

#include "cli/cli.h"
#include "server/server_main.h"

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "server") == 0) return lamina::server::serverMain(argc - 1, argv + 1);
  return lamina::cli::main(argc, argv);
}
