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
}

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

bool isExecutableFile(const std::filesystem::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
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

Result<std::unique_ptr<RuntimeCatalog>> RuntimeCatalog::open(std::filesystem::path dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir / "python", ec);
  if (ec) return fail(Code::kInternal, "cannot create " + (dir / "python").string() + ": " + ec.message());
  auto target = dir / "python" / "bootstrap.py";
  auto tmp = dir / "python" / "bootstrap.py.tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(embedded::kPythonBootstrap.data(), std::streamsize(embedded::kPythonBootstrap.size()));
    if (!out) return fail(Code::kInternal, "cannot write " + tmp.string());
  }
  std::filesystem::rename(tmp, target, ec);
  if (ec) return fail(Code::kInternal, "cannot write " + target.string() + ": " + ec.message());
  return std::unique_ptr<RuntimeCatalog>(new RuntimeCatalog(std::move(dir)));
}

std::optional<std::string> RuntimeCatalog::findInterpreter(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = interpreters_.find(name);
  if (it != interpreters_.end()) return it->second;
  std::optional<std::string> found;
  // Debian's interpreters first; then PATH. A candidate must actually start (pyenv shims exist
  // for versions that are not installed).
  std::vector<std::string> candidates = {"/usr/bin/" + name, "/usr/local/bin/" + name};
  if (const char* path = std::getenv("PATH")) {
    for (auto dir : core::split(path, ':'))
      if (!dir.empty()) candidates.push_back(std::string(dir) + "/" + name);
  }
  for (const auto& c : candidates) {
    if (!isExecutableFile(c)) continue;
    std::string cmd = "'" + c + "' -c 'import sys' >/dev/null 2>&1";
    int rc = std::system(cmd.c_str());
    if (rc == 0) {
      found = c;
      break;
    }
  }
  interpreters_[name] = found;
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
  return fail(Code::kInvalidParameterValue, "The runtime parameter of " + runtime +
                                                " is not supported by lamina yet. Supported: provided, provided.al2, "
                                                "provided.al2023 and the python3.x versions installed on this host.");
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
    l.env = {"AWS_EXECUTION_ENV=AWS_Lambda_" + image.runtime, "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"};
    return l;
  }
  return fail(Code::kInvalidParameterValue, "unsupported runtime " + image.runtime);
}

}  // namespace lamina::runtime
