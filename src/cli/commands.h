// The five client commands of `lamina` as plain functions: cli.cpp parses flags into these option
// structs and calls one. Each prints its result (stdout) or a one-line "lamina: ..." error (stderr)
// and returns the process exit code. Single-threaded use.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/api_client.h"

namespace lamina::cli {

struct DeployOptions {
  std::string name;
  std::string path;  // a folder (zipped in memory) or an existing .zip file
  std::optional<std::string> runtime;
  std::optional<std::string> handler;
  std::optional<int> memory;
  std::optional<int> timeout;
  std::vector<std::string> env;  // "KEY=VALUE"
  std::optional<std::string> role;
};

struct InvokeOptions {
  std::string name;
  std::optional<std::string> payload;  // nullopt or "-": stdin when it is not a terminal, else "{}"
};

struct LogsOptions {
  std::string name;
  bool follow = false;
  int sinceSeconds = 3600;
};

int runDeploy(const ApiClient& api, const DeployOptions& opt);
int runInvoke(const ApiClient& api, const InvokeOptions& opt);
int runList(const ApiClient& api);
int runLogs(const ApiClient& api, const LogsOptions& opt);
int runDelete(const ApiClient& api, const std::string& name);

}  // namespace lamina::cli
