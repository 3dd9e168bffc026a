#include "artifact/unzip.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "core/unique_fd.h"

namespace lamina::artifact {
namespace {

namespace fs = std::filesystem;
using core::UniqueFd;

constexpr size_t kNameMax = 255;
constexpr size_t kPathMax = 4095;
constexpr size_t kChunk = 64 * 1024;
constexpr zip_uint32_t kDosDirectory = 0x10;

struct ArchiveCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
using Archive = std::unique_ptr<zip_t, ArchiveCloser>;

std::unexpected<Error> corrupt() { return fail(Code::kInvalidParameterValue, std::string(kCouldNotUnzip)); }

std::unexpected<Error> tooBig(const ZipLimits& limits) {
  return fail(Code::kInvalidParameterValue,
              "Unzipped size must be smaller than " + std::to_string(limits.maxUnzippedBytes) + " bytes");
}

// A bounded, printable rendering of a hostile entry name for error messages.
std::string quote(std::string_view name) {
  std::string out;
  for (unsigned char c : name.substr(0, 200)) {
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out.push_back(char(c));
    }
  }
  if (name.size() > 200) out += "...";
  return out;
}

std::unexpected<Error> unsafe(std::string_view name, std::string_view why) {
  return fail(Code::kInvalidParameterValue,
              "Could not unzip uploaded file: entry '" + quote(name) + "' " + std::string(why));
}

// A failed syscall while materializing `name`: errnos the zip's contents can cause are the
// client's fault; the rest (ENOSPC, EIO, ...) are ours.
std::unexpected<Error> fsError(std::string_view name, int err) {
  switch (err) {
    case EEXIST:
      return unsafe(name, "appears twice or conflicts with another entry");
    case ENOTDIR:
    case EISDIR:
      return unsafe(name, "conflicts with another entry");
    case ENAMETOOLONG:
      return unsafe(name, "has a name that is too long");
    default:
      return failErrno("extracting '" + quote(name) + "'", err);
  }
}

enum class Kind { kFile, kDir, kSymlink };

struct Entry {
  std::string name;                // as in the zip, for messages
  std::vector<std::string> parts;  // validated path components, never empty/"."/".."
  Kind kind = Kind::kFile;
  mode_t mode = 0644;
};

Result<void> splitName(Entry& e) {
  std::string_view name = e.name;
  if (name.empty()) return unsafe(name, "has an empty name");
  if (name.size() > kPathMax) return unsafe(name, "has a name longer than 4095 bytes");
  if (name.find('\\') != std::string_view::npos) return unsafe(name, "contains a backslash");
  if (name.front() == '/') return unsafe(name, "is an absolute path");
  while (!name.empty()) {
    size_t slash = name.find('/');
    std::string_view part = name.substr(0, slash);
    name = slash == std::string_view::npos ? std::string_view() : name.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") return unsafe(e.name, "escapes the code directory");
    if (part.size() > kNameMax) return unsafe(e.name, "has a path component longer than 255 bytes");
    e.parts.emplace_back(part);
  }
  return {};
}

// Reads the entry's name, type and mode. Modes only count when the zip was made on Unix and
// recorded permission bits; Python's ZipInfo and many Windows tools leave them zero.
Result<Entry> describe(zip_t* za, zip_uint64_t index) {
  const char* raw = zip_get_name(za, index, ZIP_FL_ENC_GUESS);
  if (raw == nullptr) return corrupt();
  Entry e;
  e.name = raw;
  if (auto ok = splitName(e); !ok) return std::unexpected(ok.error());
  zip_uint8_t opsys = 0;
  zip_uint32_t attr = 0;
  if (zip_file_get_external_attributes(za, index, 0, &opsys, &attr) != 0) return corrupt();
  mode_t unixMode = opsys == ZIP_OPSYS_UNIX ? mode_t(attr >> 16) : 0;
  mode_t type = unixMode & S_IFMT;
  bool slash = e.name.back() == '/';
  if (type == S_IFLNK) {
    if (slash) return unsafe(e.name, "is a symbolic link with a directory name");
    e.kind = Kind::kSymlink;
  } else if (slash || type == S_IFDIR || (opsys != ZIP_OPSYS_UNIX && (attr & kDosDirectory))) {
    e.kind = Kind::kDir;
  } else if (type == 0 || type == S_IFREG) {
    e.kind = Kind::kFile;
  } else {
    return unsafe(e.name, "is not a file, directory or symbolic link");
  }
  if (e.parts.empty() && e.kind != Kind::kDir) return unsafe(e.name, "has no file name");
  mode_t perm = unixMode & 0777;  // drops setuid, setgid and sticky
  if (perm == 0) perm = e.kind == Kind::kDir ? 0755 : 0644;
  if (e.kind == Kind::kDir) perm |= 0500;
  e.mode = perm;
  return e;
}

// Checks a symlink target: relative, and shaped `(../)*name/name...` with no more `..` steps than
// the link's depth. `..` after a name is refused because that name could itself be a symlink.
Result<void> checkTarget(const Entry& e, std::string_view target) {
  if (target.empty()) return unsafe(e.name, "is a symbolic link with an empty target");
  if (target.find('\0') != std::string_view::npos) return unsafe(e.name, "is a symbolic link with a NUL in its target");
  if (target.find('\\') != std::string_view::npos)
    return unsafe(e.name, "is a symbolic link with a backslash in its target");
  if (target.front() == '/') return unsafe(e.name, "is a symbolic link to an absolute path");
  size_t ups = 0;
  bool sawName = false;
  for (size_t pos = 0; pos <= target.size();) {
    size_t slash = std::min(target.find('/', pos), target.size());
    std::string_view part = target.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part != "..") {
      sawName = true;
    } else if (sawName) {
      return unsafe(e.name, "is a symbolic link whose target has '..' after a name");
    } else if (++ups > e.parts.size() - 1) {
      return unsafe(e.name, "escapes the code directory");
    }
  }
  return {};
}

bool writeAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= size_t(n);
  }
  return true;
}

// One extraction: walks the entries in order, keeping the last parent directory open because zips
// usually list a directory's files together.
class Extractor {
 public:
  Extractor(zip_t* za, int rootFd, const ZipLimits& limits) : za_(za), rootFd_(rootFd), limits_(limits) {}

  Result<uint64_t> run(zip_uint64_t count) {
    for (zip_uint64_t i = 0; i < count; ++i) {
      auto e = describe(za_, i);
      if (!e) return std::unexpected(e.error());
      if (e->kind == Kind::kDir && e->parts.empty()) continue;  // "./": the root itself
      auto parent = openParent(*e);
      if (!parent) return std::unexpected(parent.error());
      Result<void> done = e->kind == Kind::kDir    ? makeDir(*e, *parent)
                          : e->kind == Kind::kFile ? writeFile(i, *e, *parent)
                                                   : makeSymlink(i, *e, *parent);
      if (!done) return std::unexpected(done.error());
    }
    if (auto ok = applyDirModes(); !ok) return std::unexpected(ok.error());
    return total_;
  }

 private:
  Result<void> charge(uint64_t n) {
    if (n > limits_.maxUnzippedBytes - total_) return tooBig(limits_);
    total_ += n;
    return {};
  }

  // Opens directory `name` under `parent`, creating it 0755 if missing. Never follows a symlink.
  Result<UniqueFd> openOrMakeDir(int parent, const std::string& name, const Entry& e) {
    constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    UniqueFd fd(::openat(parent, name.c_str(), kFlags));
    if (!fd.valid() && errno == ENOENT) {
      if (::mkdirat(parent, name.c_str(), 0700) != 0) return fsError(e.name, errno);
      fd.reset(::openat(parent, name.c_str(), kFlags));
      if (fd.valid() && ::fchmod(fd.get(), 0755) != 0) return fsError(e.name, errno);
    }
    if (fd.valid()) return fd;
    int err = errno;
    // O_NOFOLLOW|O_DIRECTORY on a symlink fails with ELOOP or ENOTDIR depending on the kernel.
    struct stat st {};
    if ((err == ELOOP || err == ENOTDIR) && ::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(st.st_mode))
      return unsafe(e.name, "goes through a symbolic link");
    return fsError(e.name, err);
  }

  // The directory fd that will hold `e`, creating missing parents. Borrowed: valid until the next call.
  Result<int> openParent(const Entry& e) {
    std::vector<std::string> dirs(e.parts.begin(), e.parts.end() - 1);
    if (dirs.empty()) return rootFd_;
    if (cachedFd_.valid() && dirs == cachedDirs_) return cachedFd_.get();
    cachedFd_.reset();
    UniqueFd cur;
    for (const std::string& d : dirs) {
      auto next = openOrMakeDir(cur.valid() ? cur.get() : rootFd_, d, e);
      if (!next) return std::unexpected(next.error());
      cur = std::move(*next);
    }
    cachedDirs_ = std::move(dirs);
    cachedFd_ = std::move(cur);
    return cachedFd_.get();
  }

  Result<void> makeDir(const Entry& e, int parent) {
    auto fd = openOrMakeDir(parent, e.parts.back(), e);
    if (!fd) return std::unexpected(fd.error());
    dirModes_.emplace_back(e.parts, e.mode);  // applied at the end: we still write inside it
    return {};
  }

  Result<zip_file_t*> openEntry(zip_uint64_t index, uint64_t maxSize) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za_, index, 0, &st) != 0) return corrupt();
    // The declared size only serves to fail early; the real count is taken while writing.
    if ((st.valid & ZIP_STAT_SIZE) && st.size > maxSize) return tooBig(limits_);
    zip_file_t* zf = zip_fopen_index(za_, index, 0);
    if (zf == nullptr) return corrupt();
    return zf;
  }

  Result<void> writeFile(zip_uint64_t index, const Entry& e, int parent) {
    auto zf = openEntry(index, limits_.maxUnzippedBytes - total_);
    if (!zf) return std::unexpected(zf.error());
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> in(*zf, zip_fclose);
    const std::string& leaf = e.parts.back();
    UniqueFd out(::openat(parent, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out.valid()) return fsError(e.name, errno);
    buf_.resize(kChunk);
    for (;;) {
      zip_int64_t n = zip_fread(in.get(), buf_.data(), buf_.size());
      if (n < 0) return corrupt();
      if (n == 0) break;
      if (auto ok = charge(uint64_t(n)); !ok) return ok;
      if (!writeAll(out.get(), buf_.data(), size_t(n))) return fsError(e.name, errno);
    }
    if (zip_fclose(in.release()) != 0) return corrupt();
    if (::fchmod(out.get(), e.mode) != 0) return fsError(e.name, errno);
    return {};
  }

  Result<void> makeSymlink(zip_uint64_t index, const Entry& e, int parent) {
    auto zf = openEntry(index, UINT64_MAX);
    if (!zf) return std::unexpected(zf.error());
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> in(*zf, zip_fclose);
    std::string target(kPathMax + 1, '\0');
    size_t got = 0;
    while (got < target.size()) {
      zip_int64_t n = zip_fread(in.get(), target.data() + got, target.size() - got);
      if (n < 0) return corrupt();
      if (n == 0) break;
      got += size_t(n);
    }
    if (got > kPathMax) return unsafe(e.name, "is a symbolic link with a target longer than 4095 bytes");
    if (zip_fclose(in.release()) != 0) return corrupt();
    target.resize(got);
    if (auto ok = checkTarget(e, target); !ok) return ok;
    if (auto ok = charge(got); !ok) return ok;
    if (::symlinkat(target.c_str(), parent, e.parts.back().c_str()) != 0) return fsError(e.name, errno);
    return {};
  }

  // Deepest first, so a directory that ends up without write permission is done after its children.
  Result<void> applyDirModes() {
    std::stable_sort(dirModes_.begin(), dirModes_.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    for (const auto& [parts, mode] : dirModes_) {
      std::string rel;
      for (const std::string& p : parts) rel += (rel.empty() ? "" : "/") + p;
      UniqueFd fd(::openat(rootFd_, rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.valid() || ::fchmod(fd.get(), mode) != 0)
        return failErrno("setting the mode of '" + quote(rel) + "'", errno);
    }
    return {};
  }

  zip_t* za_;
  int rootFd_;
  const ZipLimits& limits_;
  uint64_t total_ = 0;
  std::vector<std::string> cachedDirs_;  // the path of cachedFd_, relative to the root
  UniqueFd cachedFd_;
  std::vector<std::pair<std::vector<std::string>, mode_t>> dirModes_;
  std::string buf_;
};

// Removes a half-built `dest` unless dismissed.
struct RemoveOnFailure {
  const fs::path& path;
  bool armed = true;
  ~RemoveOnFailure() {
    if (armed) (void)removeTree(path);
  }
};

}  // namespace

Result<uint64_t> extractZip(std::string_view zipBytes, const fs::path& dest, const ZipLimits& limits) {
  if (zipBytes.size() > limits.maxZippedBytes)
    return fail(Code::kRequestTooLarge,
                "Zipped size must be smaller than " + std::to_string(limits.maxZippedBytes) + " bytes");
  if (zipBytes.empty()) return corrupt();  // libzip would open zero bytes as an empty archive

  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(zipBytes.data(), zipBytes.size(), 0, &err);
  if (src == nullptr) {
    zip_error_fini(&err);
    return fail(Code::kInternal, "zip_source_buffer_create failed");
  }
  Archive archive(zip_open_from_source(src, ZIP_RDONLY, &err));
  zip_error_fini(&err);
  if (!archive) {
    zip_source_free(src);
    return corrupt();
  }
  zip_int64_t count = zip_get_num_entries(archive.get(), 0);
  if (count < 0) return corrupt();
  if (uint64_t(count) > limits.maxEntries)
    return fail(Code::kInvalidParameterValue, "Could not unzip uploaded file: it has " + std::to_string(count) +
                                                  " entries; the limit is " + std::to_string(limits.maxEntries));

  if (::mkdir(dest.c_str(), 0700) != 0) return failErrno("creating " + dest.string(), errno);
  RemoveOnFailure guard{dest};
  UniqueFd root(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.valid() || ::fchmod(root.get(), 0755) != 0) return failErrno("opening " + dest.string(), errno);
  auto total = Extractor(archive.get(), root.get(), limits).run(zip_uint64_t(count));
  if (total) guard.armed = false;
  return total;
}

Result<void> removeTree(const fs::path& path) {
  std::error_code ec;
  fs::file_status st = fs::symlink_status(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return {};
    return failErrno("inspecting " + path.string(), ec.value());
  }
  if (fs::is_directory(st)) {
    // Give every directory owner rwx before the iterator descends into it, so read-only trees go too.
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::recursive_directory_iterator it(path, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      std::error_code ignored;
      if (it->symlink_status(ignored).type() == fs::file_type::directory)
        fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ignored);
    }
  }
  fs::remove_all(path, ec);
  if (ec) return failErrno("removing " + path.string(), ec.value());
  return {};
}

}  // namespace lamina::artifact
