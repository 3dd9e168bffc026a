// Fuzz target for artifact::extractZip: arbitrary bytes in, three oracles out. It must not crash
// (sanitizers watch memory), a failure must leave nothing behind, and a success must hold no symlink
// that resolves outside the tree. Built with libFuzzer under Clang, or replaying a corpus through
// standalone_main.cpp under GCC (see CMakeLists.txt). Single-threaded, like libFuzzer's callback.
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "artifact/unzip.h"

namespace {

namespace fs = std::filesystem;
using lamina::artifact::extractZip;
using lamina::artifact::removeTree;
using lamina::artifact::ZipLimits;

[[noreturn]] void die(const char* what, const fs::path& p) {
  std::fprintf(stderr, "zip_fuzz: %s: %s\n", what, p.c_str());
  std::abort();
}

// One private directory per process, removed at normal exit (a crash keeps it for inspection).
struct WorkDir {
  fs::path path;
  WorkDir() {
    std::string tmpl = (fs::temp_directory_path() / "lamina-zip-fuzz-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) die("mkdtemp failed", tmpl);
    path = tmpl;
  }
  ~WorkDir() { (void)removeTree(path); }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
};

const fs::path& workDir() {
  static const WorkDir dir;
  return dir.path;
}

void checkSymlinksStayInside(const fs::path& root) {
  std::error_code ec;
  fs::path realRoot = fs::canonical(root, ec);
  if (ec) die("cannot resolve the extracted tree", root);
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code linkEc;
    if (!it->is_symlink(linkEc)) continue;
    fs::path resolved = fs::weakly_canonical(it->path(), linkEc);
    if (linkEc) continue;  // a loop: fails for every reader, escapes nothing
    fs::path rel = resolved.lexically_relative(realRoot);
    if (rel.empty() || *rel.begin() == "..") die("symlink escapes the tree", it->path());
  }
  if (ec) die("cannot walk the extracted tree", root);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Small limits keep each run fast; the logic under test is the same.
  static const ZipLimits kLimits{.maxZippedBytes = 1 << 20, .maxUnzippedBytes = 4 << 20, .maxEntries = 1000};
  fs::path dest = workDir() / "out";
  auto extracted = extractZip(std::string_view(reinterpret_cast<const char*>(data), size), dest, kLimits);
  std::error_code ec;
  bool exists = fs::exists(fs::symlink_status(dest, ec));
  if (!extracted) {
    if (exists) die("failed extraction left its destination behind", dest);
    return 0;
  }
  if (!exists) die("successful extraction has no destination", dest);
  checkSymlinksStayInside(dest);
  if (!removeTree(dest)) die("cannot remove the extracted tree", dest);
  return 0;
}
