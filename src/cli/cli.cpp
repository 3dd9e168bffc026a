// `lamina <command>` for every command but `server` (src/main.cpp sends that one to server/):
// flag parsing with CLI11, defaults from the environment, then one call into commands.cpp.
// CLI11 reports parse errors by throwing; catching CLI::ParseError here is the only place lamina
// catches an exception.
#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/commands.h"

namespace lamina::cli {

namespace {

constexpr const char* kDescription =
    "lamina: a self-hosted AWS Lambda clone.\n\n"
    "  lamina server [--listen HOST:PORT] [--data-dir DIR]   run the platform: the Lambda and CloudWatch\n"
    "                                                         Logs APIs and the function runtimes\n"
    "                                                         (see `lamina server --help`)\n\n"
    "The other commands are clients of a running server; AWS SDKs and the aws CLI work against it too.\n"
    "Credentials: LAMINA_ACCESS_KEY_ID/LAMINA_SECRET_ACCESS_KEY, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,\n"
    "else test/test (the server's default pair).";

// The value of environment variable `name` when set and non-empty.
std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

// Credentials come in pairs: a key id from one source is never mixed with a secret from another.
void defaultCredentials(ClientSettings& s) {
  for (auto [id, secret] : {std::pair{"LAMINA_ACCESS_KEY_ID", "LAMINA_SECRET_ACCESS_KEY"},
                            std::pair{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}}) {
    auto i = env(id), k = env(secret);
    if (i && k) {
      s.accessKeyId = *i;
      s.secretAccessKey = *k;
      return;
    }
  }
  s.accessKeyId = "test";
  s.secretAccessKey = "test";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "lamina"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may also follow the subcommand

  ClientSettings settings;
  settings.endpoint = env("LAMINA_ENDPOINT").value_or("http://127.0.0.1:9001");
  settings.region = env("AWS_REGION").value_or(env("AWS_DEFAULT_REGION").value_or("us-east-1"));
  defaultCredentials(settings);
  app.add_option("--endpoint", settings.endpoint, "URL of the lamina server (env LAMINA_ENDPOINT)")
      ->capture_default_str();
  app.add_option("--region", settings.region, "region to sign for (env AWS_REGION, AWS_DEFAULT_REGION)")
      ->capture_default_str();

  DeployOptions deploy;
  CLI::App* deployCmd = app.add_subcommand("deploy", "create or update a function from a folder or a .zip file");
  deployCmd->add_option("name", deploy.name, "function name")->required();
  deployCmd->add_option("path", deploy.path, "folder to zip, or an existing .zip file")->required();
  deployCmd->add_option("--runtime", deploy.runtime, "runtime; default provided.al2023 when there is a bootstrap");
  deployCmd->add_option("--handler", deploy.handler, "handler; default bootstrap for provided.* runtimes");
  deployCmd->add_option("--memory", deploy.memory, "memory size in MB (128-10240)");
  deployCmd->add_option("--timeout", deploy.timeout, "timeout in seconds (1-900)");
  deployCmd->add_option("--env", deploy.env, "environment variable KEY=VALUE (repeatable; replaces the whole set)")
      ->allow_extra_args(false);
  deployCmd->add_option("--role", deploy.role, "execution role ARN; default arn:aws:iam::000000000000:role/lamina");

  InvokeOptions invoke;
  CLI::App* invokeCmd = app.add_subcommand("invoke", "invoke a function synchronously and print its result");
  invokeCmd->add_option("name", invoke.name, "function name")->required();
  invokeCmd->add_option("payload", invoke.payload, "JSON event; '-' or omitted reads stdin (when not a terminal)");

  CLI::App* listCmd = app.add_subcommand("list", "list functions");

  LogsOptions logs;
  CLI::App* logsCmd = app.add_subcommand("logs", "print a function's log events");
  logsCmd->add_option("name", logs.name, "function name")->required();
  logsCmd->add_flag("--follow,-f", logs.follow, "keep polling for new events until interrupted");
  logsCmd->add_option("--since", logs.sinceSeconds, "start this many seconds ago")->capture_default_str();

  std::string deleteName;
  CLI::App* deleteCmd = app.add_subcommand("delete", "delete a function");
  deleteCmd->add_option("name", deleteName, "function name")->required();

  if (argc < 2) {  // bare `lamina`: the overview rather than CLI11's "A subcommand is required"
    std::fputs(app.help().c_str(), stdout);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  auto api = ApiClient::create(settings);
  if (!api) {
    std::fprintf(stderr, "lamina: %s\n", api.error().message().c_str());
    return 2;
  }
  if (deployCmd->parsed()) return runDeploy(*api, deploy);
  if (invokeCmd->parsed()) return runInvoke(*api, invoke);
  if (listCmd->parsed()) return runList(*api);
  if (logsCmd->parsed()) return runLogs(*api, logs);
  if (deleteCmd->parsed()) return runDelete(*api, deleteName);
  return 2;  // unreachable: require_subcommand(1)
}

}  // namespace lamina::cli
