// The client subcommands of `lamina` (deploy, invoke, list, logs, delete): a friendly face on the
// Lambda and Logs APIs of a running `lamina server`. Thin: parse flags, sign and send requests
// (http/client.h, http/sigv4.h), print results.
#pragma once

namespace lamina::cli {
// argv[0] is the program name. Returns the process exit code.
int main(int argc, char** argv);
}  // namespace lamina::cli
