#include "artifact/code_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <system_error>

#include "core/crypto.h"
#include "core/ids.h"
#include "core/unique_fd.h"

namespace lamina::artifact {
namespace {

namespace fs = std::filesystem;
using core::UniqueFd;

constexpr fs::perms kWriteBits = fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write;

bool validHex(std::string_view hex) {
  return hex.size() == 64 &&
         std::all_of(hex.begin(), hex.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::unexpected<Error> badHex(std::string_view hex) {
  return fail(Code::kInvalidParameterValue, "'" + std::string(hex.substr(0, 80)) + "' is not a SHA-256 hex digest");
}

bool isDir(const fs::path& p) {
  std::error_code ec;
  return fs::symlink_status(p, ec).type() == fs::file_type::directory;
}

Result<void> fsyncDir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) return failErrno("syncing " + dir.string(), errno);
  return {};
}

// Removes the write bits from everything below `dir` (not `dir` itself: moving a directory to
// another parent needs write permission on it). Symlinks have no modes of their own; skipped.
Result<void> makeReadOnlyBelow(const fs::path& dir) {
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    fs::file_type type = it->symlink_status(ec).type();
    if (ec) break;
    if (type != fs::file_type::symlink) fs::permissions(it->path(), kWriteBits, fs::perm_options::remove, ec);
    if (ec) break;
  }
  if (ec) return failErrno("making " + dir.string() + " read-only", ec.value());
  return {};
}

// What extractZip counts: regular file bytes plus symlink target lengths.
Result<uint64_t> treeSize(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) return failErrno("measuring " + it->path().string(), errno);
    if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) total += uint64_t(st.st_size);
  }
  if (ec) return failErrno("measuring " + dir.string(), ec.value());
  return total;
}

bool writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(size_t(n));
  }
  return true;
}

Result<std::string> readFile(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) return fail(Code::kNotFound, "no code blob " + path.filename().string(), ENOENT);
    return failErrno("opening " + path.string(), errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return failErrno("reading " + path.string(), errno);
  std::string out(size_t(st.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failErrno("reading " + path.string(), errno);
    if (n == 0) break;
    got += size_t(n);
  }
  out.resize(got);
  return out;
}

// Removes a temp path unless dismissed.
struct DiscardOnExit {
  const fs::path& path;
  bool armed = true;
  ~DiscardOnExit() {
    if (armed) (void)removeTree(path);
  }
};

}  // namespace

Result<CodeStore> CodeStore::open(fs::path root) {
  for (const char* sub : {"blobs", "trees", "tmp"}) {
    std::error_code ec;
    fs::create_directories(root / sub, ec);
    if (ec) return failErrno("creating " + (root / sub).string(), ec.value());
  }
  std::error_code ec;
  for (fs::directory_iterator it(root / "tmp", ec), end; !ec && it != end; it.increment(ec))
    if (auto gone = removeTree(it->path()); !gone) return std::unexpected(gone.error());
  if (ec) return failErrno("listing " + (root / "tmp").string(), ec.value());
  return CodeStore(std::move(root));
}

fs::path CodeStore::blobPath(std::string_view sha256Hex) const {
  return root_ / "blobs" / (std::string(sha256Hex) + ".zip");
}

fs::path CodeStore::treePath(std::string_view sha256Hex) const { return root_ / "trees" / std::string(sha256Hex); }

bool CodeStore::has(std::string_view sha256Hex) const {
  if (!validHex(sha256Hex)) return false;
  std::error_code ec;
  return fs::symlink_status(blobPath(sha256Hex), ec).type() == fs::file_type::regular && isDir(treePath(sha256Hex));
}

Result<StoredCode> CodeStore::put(std::string_view zipBytes, const ZipLimits& limits) {
  if (zipBytes.size() > limits.maxZippedBytes)
    return fail(Code::kRequestTooLarge,
                "Zipped size must be smaller than " + std::to_string(limits.maxZippedBytes) + " bytes");
  core::Digest digest = core::sha256(zipBytes);
  StoredCode out{core::toHex(digest), core::base64Encode(core::digestBytes(digest)), zipBytes.size(), 0};
  fs::path tree = treePath(out.sha256Hex);
  if (isDir(tree)) {
    auto size = treeSize(tree);
    if (!size) return std::unexpected(size.error());
    if (*size > limits.maxUnzippedBytes)
      return fail(Code::kInvalidParameterValue,
                  "Unzipped size must be smaller than " + std::to_string(limits.maxUnzippedBytes) + " bytes");
    out.unzippedSize = *size;
  } else {
    auto size = installTree(zipBytes, out.sha256Hex, limits);
    if (!size) return std::unexpected(size.error());
    out.unzippedSize = *size;
  }
  std::error_code ec;
  if (fs::symlink_status(blobPath(out.sha256Hex), ec).type() != fs::file_type::regular)
    if (auto written = writeBlob(zipBytes, out.sha256Hex); !written) return std::unexpected(written.error());
  return out;
}

Result<std::string> CodeStore::readBlob(std::string_view sha256Hex) const {
  if (!validHex(sha256Hex)) return badHex(sha256Hex);
  return readFile(blobPath(sha256Hex));
}

Result<fs::path> CodeStore::ensureTree(std::string_view sha256Hex, const ZipLimits& limits) {
  if (!validHex(sha256Hex)) return badHex(sha256Hex);
  fs::path tree = treePath(sha256Hex);
  if (isDir(tree)) return tree;
  auto blob = readBlob(sha256Hex);
  if (!blob) return std::unexpected(blob.error());
  if (core::toHex(core::sha256(*blob)) != sha256Hex)
    return fail(Code::kInternal, "code blob " + blobPath(sha256Hex).string() + " does not match its hash");
  if (auto size = installTree(*blob, sha256Hex, limits); !size) return std::unexpected(size.error());
  return tree;
}

Result<uint64_t> CodeStore::installTree(std::string_view zipBytes, std::string_view sha256Hex,
                                        const ZipLimits& limits) {
  fs::path tmp = root_ / "tmp" / core::randomHex(16);
  auto size = extractZip(zipBytes, tmp, limits);
  if (!size) return size;
  DiscardOnExit discard{tmp};
  if (auto ok = makeReadOnlyBelow(tmp); !ok) return std::unexpected(ok.error());
  // The tree is a cache, but once trees/<hex> exists nobody re-extracts it: flush its files first so
  // a crash cannot leave it holding empty files (delayed allocation). One syncfs beats an fsync per file.
  UniqueFd fd(::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::syncfs(fd.get()) != 0) return failErrno("syncing " + tmp.string(), errno);
  fs::path tree = treePath(sha256Hex);
  int rc = ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, tree.c_str(), RENAME_NOREPLACE);
  if (rc != 0 && errno == EINVAL) rc = ::rename(tmp.c_str(), tree.c_str());  // fs without NOREPLACE
  if (rc != 0) {
    // Another put() or ensureTree() of the same hash won: same bytes, same tree; drop ours.
    if (errno == EEXIST || errno == ENOTEMPTY) return size;
    return failErrno("renaming " + tmp.string() + " to " + tree.string(), errno);
  }
  discard.armed = false;
  std::error_code ec;
  fs::permissions(tree, kWriteBits, fs::perm_options::remove, ec);
  if (ec) return failErrno("making " + tree.string() + " read-only", ec.value());
  if (auto ok = fsyncDir(root_ / "trees"); !ok) return std::unexpected(ok.error());
  return size;
}

Result<void> CodeStore::writeBlob(std::string_view zipBytes, std::string_view sha256Hex) {
  fs::path tmp = root_ / "tmp" / (core::randomHex(16) + ".zip");
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444));
  if (!fd.valid()) return failErrno("creating " + tmp.string(), errno);
  DiscardOnExit discard{tmp};
  if (!writeAll(fd.get(), zipBytes) || ::fsync(fd.get()) != 0) return failErrno("writing " + tmp.string(), errno);
  fd.reset();
  fs::path blob = blobPath(sha256Hex);
  // Plain rename: a concurrent writer of the same hash wrote the same bytes, either copy will do.
  if (::rename(tmp.c_str(), blob.c_str()) != 0)
    return failErrno("renaming " + tmp.string() + " to " + blob.string(), errno);
  discard.armed = false;
  return fsyncDir(root_ / "blobs");
}

}  // namespace lamina::artifact
