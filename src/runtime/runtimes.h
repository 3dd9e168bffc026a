// RuntimeCatalog: which Lambda runtime identifiers this host can run and how to start each one.
// `provided*` runs the code's own `bootstrap`; `python3.x` runs lamina's Python runtime client
// (runtimes/python/bootstrap.py) with the host's python3.x, and `nodejs18.x/20.x/22.x` lamina's
// Node.js runtime client (runtimes/nodejs/bootstrap.mjs) with a host node of that major version —
// never a different version. The clients are embedded in the binary and written under the data dir
// at start. Thread-safe after construction.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "runtime/function_image.h"

namespace lamina::runtime {

struct Launch {
  std::string executable;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // runtime-specific additions ("AWS_EXECUTION_ENV=...")
  // A runtime with a zygote (zygoteLaunch): its name, and the process's argv when forked from it
  // (what the interpreter would have made sys.argv). Empty: always exec.
  std::string zygote;
  std::vector<std::string> zygoteArgv;
};

// The variables every environment starts with, before the function's own (which may override
// them) and the reserved ones. `taskRoot` is where the code appears (/var/task in a sandbox).
std::vector<std::string> baseEnvironment(const std::string& taskRoot);

// Whether a process forked from a zygote started with `zygoteEnv` behaves as one started fresh
// with `env`: every variable read only at process start (PYTHON*, LD_*, LC_*, LANG, MALLOC_*,
// GLIBC_TUNABLES, AWS_LAMBDA_EXEC_WRAPPER, NODE_*) is the same in both, or absent from both. Pure.
bool zygoteCompatible(const std::vector<std::string>& zygoteEnv, const std::vector<std::string>& env);

class RuntimeCatalog {
 public:
  // Writes the built-in runtime clients under `dir` (e.g. <data-dir>/runtimes).
  static Result<std::unique_ptr<RuntimeCatalog>> open(std::filesystem::path dir);

  // Whether `runtime` is a Lambda runtime identifier lamina can run on this host. Unknown names get
  // AWS's enum validation error; known but unavailable ones say what is missing.
  Result<void> check(const std::string& runtime);
  // How to start an environment of `image` whose code appears at `taskRoot` and this catalog's
  // directory at `runtimeRoot` (in a sandbox: /var/task and /var/runtime; else the host paths).
  // Fails when the code lacks an executable bootstrap.
  Result<Launch> launch(const FunctionImage& image, const std::string& taskRoot, const std::string& runtimeRoot);
  // How to start the zygote of `runtime` (python3.9 and later; nodejs18.x-22.x when lamina was
  // built with node headers; run in a sandbox: /var/runtime
  // paths): the interpreter with lamina's zygote program and the environment every function of
  // that runtime starts with. Fails for runtimes without a zygote.
  Result<Launch> zygoteLaunch(const std::string& runtime);
  // Where the built-in runtime clients were written (the host path of /var/runtime).
  const std::filesystem::path& dir() const { return dir_; }

 private:
  explicit RuntimeCatalog(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // The interpreter binary for a python3.x or nodejsNN.x runtime (cached).
  std::optional<std::string> findInterpreter(const std::string& runtime);

  std::filesystem::path dir_;
  std::mutex mu_;
  std::map<std::string, std::optional<std::string>> interpreters_;  // guarded by mu_
};

}  // namespace lamina::runtime
