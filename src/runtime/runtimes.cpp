#include "runtime/runtimes.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <fstream>

#include "core/strings.h"

namespace lamina::embedded {
extern const std::string_view kPythonBootstrap;
extern const std::string_view kPythonZygote;
extern const std::string_view kNodeBootstrap;
extern const std::string_view kNodeZygote;
extern const std::string_view kNodeZygoteAddon;
}  // namespace lamina::embedded

namespace lamina::runtime {

namespace {

// Every runtime identifier AWS accepts today (the enum of the Lambda API model).
constexpr std::array kKnownRuntimes = {
    "nodejs",        "nodejs4.3",  "nodejs6.10", "nodejs8.10",     "nodejs10.x",     "nodejs12.x",    "nodejs14.x",
    "nodejs16.x",    "nodejs18.x", "nodejs20.x", "nodejs22.x",     "java8",          "java8.al2",     "java11",
    "java17",        "java21",     "python2.7",  "python3.6",      "python3.7",      "python3.8",     "python3.9",
    "python3.10",    "python3.11", "python3.12", "python3.13",     "dotnetcore1.0",  "dotnetcore2.0", "dotnetcore2.1",
    "dotnetcore3.1", "dotnet6",    "dotnet8",    "nodejs4.3-edge", "go1.x",          "ruby2.5",       "ruby2.7",
    "ruby3.2",       "ruby3.3",    "provided",   "provided.al2",   "provided.al2023"};

bool isProvided(const std::string& r) { return r == "provided" || r == "provided.al2" || r == "provided.al2023"; }
bool isPython3(const std::string& r) { return core::startsWith(r, "python3."); }
// The Node.js runtimes AWS still lets you create functions with; the major version must match the
// host's node exactly (a nodejs22.x function is never run by node 20).
bool isCurrentNode(const std::string& r) { return r == "nodejs18.x" || r == "nodejs20.x" || r == "nodejs22.x"; }
std::string nodeMajor(const std::string& r) { return r.substr(6, r.size() - 8); }  // "nodejs20.x" → "20"

// Writes `content` to dir/name atomically (temp file + rename).
Result<void> writeClient(const std::filesystem::path& dir, const std::string& name, std::string_view content) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(Code::kInternal, "cannot create " + dir.string() + ": " + ec.message());
  auto target = dir / name;
  auto tmp = dir / (name + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(content.data(), std::streamsize(content.size()));
    if (!out) return fail(Code::kInternal, "cannot write " + tmp.string());
  }
  std::filesystem::rename(tmp, target, ec);
  if (ec) return fail(Code::kInternal, "cannot write " + target.string() + ": " + ec.message());
  return {};
}

bool isExecutableFile(const std::filesystem::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

// "python3.11" → 11.
int pythonMinor(const std::string& r) { return std::atoi(r.c_str() + 8); }

// What lamina adds to a Python function's environment.
std::vector<std::string> pythonEnvironment(const std::string& runtime) {
  return {"AWS_EXECUTION_ENV=AWS_Lambda_" + runtime, "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"};
}

// What lamina adds to a Node.js function's environment: AWS's NODE_PATH (layers' node_modules
// first, then the runtime's, then the function's code).
std::vector<std::string> nodeEnvironment(const std::string& runtime, const std::string& taskRoot,
                                         const std::string& runtimeRoot) {
  std::string major = nodeMajor(runtime);
  return {"AWS_EXECUTION_ENV=AWS_Lambda_" + runtime, "NODE_PATH=/opt/nodejs/node" + major +
                                                         "/node_modules:/opt/nodejs/node_modules:" + runtimeRoot +
                                                         "/node_modules:" + runtimeRoot + ":" + taskRoot};
}

// Variables the interpreter, the dynamic loader or libc read once at process start: a function
// that sets one differently from its zygote must get a fresh interpreter.
bool readAtStart(std::string_view name) {
  for (std::string_view prefix : {"PYTHON", "NODE_", "LD_", "LC_", "MALLOC_"})
    if (core::startsWith(name, prefix)) return true;
  return name == "LANG" || name == "LANGUAGE" || name == "GLIBC_TUNABLES" || name == "AWS_LAMBDA_EXEC_WRAPPER";
}

std::string enumList() {
  std::string out;
  for (const char* r : kKnownRuntimes) {
    if (!out.empty()) out += ", ";
    out += r;
  }
  return out;
}

}  // namespace

std::vector<std::string> baseEnvironment(const std::string& taskRoot) {
  return {
      "PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
      "LANG=en_US.UTF-8",
      "TZ=:UTC",
      "LD_LIBRARY_PATH=/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:" + taskRoot + ":" + taskRoot + "/lib:/opt/lib",
      "AWS_XRAY_CONTEXT_MISSING=LOG_ERROR",
  };
}

bool zygoteCompatible(const std::vector<std::string>& zygoteEnv, const std::vector<std::string>& env) {
  auto startupVars = [](const std::vector<std::string>& list) {
    std::map<std::string_view, std::string_view> out;
    for (const auto& e : list) {
      std::string_view entry = e;
      auto eq = entry.find('=');
      std::string_view name = entry.substr(0, eq);
      if (readAtStart(name)) out[name] = eq == std::string_view::npos ? std::string_view() : entry.substr(eq + 1);
    }
    return out;
  };
  return startupVars(zygoteEnv) == startupVars(env);
}

Result<Launch> RuntimeCatalog::zygoteLaunch(const std::string& runtime) {
  bool node = isCurrentNode(runtime) && !embedded::kNodeZygoteAddon.empty();
  if (!node && (!isPython3(runtime) || pythonMinor(runtime) < 9))
    return fail(Code::kInvalidParameterValue, "no zygote for " + runtime);
  auto interp = findInterpreter(runtime);
  if (!interp) return fail(Code::kInvalidParameterValue, "no interpreter for " + runtime + " on this host");
  Launch l;
  l.executable = *interp;
  // Node: V8's worker threads would not survive the forks, so no background jobs at all.
  l.argv = node ? std::vector<std::string>{*interp, "--single-threaded", "/var/runtime/nodejs/zygote.cjs"}
                : std::vector<std::string>{*interp, "-u", "/var/runtime/python/zygote.py"};
  l.env = baseEnvironment("/var/task");
  auto own = node ? nodeEnvironment(runtime, "/var/task", "/var/runtime") : pythonEnvironment(runtime);
  l.env.insert(l.env.end(), std::make_move_iterator(own.begin()), std::make_move_iterator(own.end()));
  return l;
}

Result<std::unique_ptr<RuntimeCatalog>> RuntimeCatalog::open(std::filesystem::path dir) {
  if (auto r = writeClient(dir / "python", "bootstrap.py", embedded::kPythonBootstrap); !r)
    return std::unexpected(r.error());
  if (auto r = writeClient(dir / "python", "zygote.py", embedded::kPythonZygote); !r) return std::unexpected(r.error());
  if (auto r = writeClient(dir / "nodejs", "bootstrap.mjs", embedded::kNodeBootstrap); !r)
    return std::unexpected(r.error());
  if (auto r = writeClient(dir / "nodejs", "zygote.cjs", embedded::kNodeZygote); !r) return std::unexpected(r.error());
  if (!embedded::kNodeZygoteAddon.empty()) {
    if (auto r = writeClient(dir / "nodejs", "zygote_addon.node", embedded::kNodeZygoteAddon); !r)
      return std::unexpected(r.error());
  }
  return std::unique_ptr<RuntimeCatalog>(new RuntimeCatalog(std::move(dir)));
}

std::optional<std::string> RuntimeCatalog::findInterpreter(const std::string& runtime) {
  std::lock_guard lock(mu_);
  auto it = interpreters_.find(runtime);
  if (it != interpreters_.end()) return it->second;
  std::optional<std::string> found;
  // python3.x is the binary of that name; nodejsNN.x is `node` (or `nodeNN`) whose major
  // version is NN.
  bool node = core::startsWith(runtime, "nodejs");
  std::vector<std::string> names =
      node ? std::vector<std::string>{"node" + nodeMajor(runtime), "node"} : std::vector<std::string>{runtime};
  // Debian's interpreters first; then PATH. A candidate must actually start (pyenv shims exist
  // for versions that are not installed).
  std::vector<std::string> candidates;
  for (const auto& name : names) {
    candidates.push_back("/usr/bin/" + name);
    candidates.push_back("/usr/local/bin/" + name);
    if (const char* path = std::getenv("PATH")) {
      for (auto dir : core::split(path, ':'))
        if (!dir.empty()) candidates.push_back(std::string(dir) + "/" + name);
    }
  }
  for (const auto& c : candidates) {
    if (!isExecutableFile(c)) continue;
    std::string cmd =
        node ? "test \"$('" + c + "' -p 'process.versions.node.split(\".\")[0]' 2>/dev/null)\" = " + nodeMajor(runtime)
             : "'" + c + "' -c 'import sys' >/dev/null 2>&1";
    int rc = std::system(cmd.c_str());
    if (rc == 0) {
      found = c;
      break;
    }
  }
  interpreters_[runtime] = found;
  return found;
}

Result<void> RuntimeCatalog::check(const std::string& runtime) {
  bool known = false;
  for (const char* r : kKnownRuntimes) known = known || runtime == r;
  if (!known)
    return fail(Code::kInvalidParameterValue,
                "Value " + runtime +
                    " at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [" + enumList() +
                    "] or be a valid ARN");
  if (isProvided(runtime)) return {};
  if (isPython3(runtime)) {
    if (!findInterpreter(runtime))
      return fail(Code::kInvalidParameterValue,
                  "The runtime parameter of " + runtime + " is not supported by this lamina host: no working '" +
                      runtime +
                      "' interpreter was found in /usr/bin, /usr/local/bin or PATH. Install it (e.g. apt-get install " +
                      runtime + ") or choose a python3.x runtime the host has.");
    return {};
  }
  if (isCurrentNode(runtime)) {
    if (!findInterpreter(runtime))
      return fail(Code::kInvalidParameterValue,
                  "The runtime parameter of " + runtime + " is not supported by this lamina host: no node" +
                      nodeMajor(runtime) + " or node of major version " + nodeMajor(runtime) +
                      " was found in /usr/bin, /usr/local/bin or PATH. Install Node.js " + nodeMajor(runtime) +
                      " or choose the nodejs runtime of the host's node (node --version).");
    return {};
  }
  return fail(Code::kInvalidParameterValue, "The runtime parameter of " + runtime +
                                                " is not supported by lamina yet. Supported: provided, provided.al2, "
                                                "provided.al2023, nodejs18.x/20.x/22.x and the python3.x versions "
                                                "whose interpreter (or node) is installed on this host.");
}

Result<Launch> RuntimeCatalog::launch(const FunctionImage& image, const std::string& taskRoot,
                                      const std::string& runtimeRoot) {
  Launch l;
  if (isProvided(image.runtime)) {
    auto bootstrap = image.codeDir / "bootstrap";
    if (!isExecutableFile(bootstrap))
      return fail(Code::kInvalidParameterValue,
                  "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]");
    l.executable = taskRoot + "/bootstrap";
    l.argv = {l.executable};
    return l;
  }
  if (isPython3(image.runtime)) {
    auto interp = findInterpreter(image.runtime);
    if (!interp) return fail(Code::kInvalidParameterValue, "python interpreter " + image.runtime + " is not available");
    l.executable = *interp;
    l.argv = {*interp, "-u", runtimeRoot + "/python/bootstrap.py"};
    l.env = pythonEnvironment(image.runtime);
    if (pythonMinor(image.runtime) >= 9) {
      l.zygote = image.runtime;
      l.zygoteArgv = {runtimeRoot + "/python/bootstrap.py"};
    }
    return l;
  }
  if (isCurrentNode(image.runtime)) {
    auto node = findInterpreter(image.runtime);
    if (!node) return fail(Code::kInvalidParameterValue, "node for " + image.runtime + " is not available");
    l.executable = *node;
    l.argv = {*node, runtimeRoot + "/nodejs/bootstrap.mjs"};
    l.env = nodeEnvironment(image.runtime, taskRoot, runtimeRoot);
    if (!embedded::kNodeZygoteAddon.empty()) {
      l.zygote = image.runtime;
      l.zygoteArgv = {runtimeRoot + "/nodejs/bootstrap.mjs"};
    }
    return l;
  }
  return fail(Code::kInvalidParameterValue, "unsupported runtime " + image.runtime);
}

}  // namespace lamina::runtime
