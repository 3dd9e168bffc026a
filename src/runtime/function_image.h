// FunctionImage: everything needed to start execution environments for one function version —
// an immutable snapshot. Environments keep the image they were started from (shared_ptr: the
// control plane may publish a newer one while old environments finish their invocations).
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace lamina::runtime {

struct FunctionImage {
  std::string name;
  std::string version = "$LATEST";
  std::string arn;  // unqualified function ARN
  std::string region;
  std::string runtime;  // "provided.al2023", "python3.11", ...
  std::string handler;
  std::filesystem::path codeDir;  // extracted, read-only code tree
  int memoryMb = 128;
  int ephemeralStorageMb = 512;  // size of /tmp
  int timeoutSec = 3;
  std::vector<std::pair<std::string, std::string>> variables;  // customer environment variables
  // Changes with every change of code or configuration; environments of another revision are
  // never reused for new invocations.
  std::string revision;
};

}  // namespace lamina::runtime
