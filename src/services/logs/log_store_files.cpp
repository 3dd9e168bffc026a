// LogStore's file reading: rebuilding the index at open(), reading a stream's events, removing a
// group's directory. All paths are relative to the store's root directory fd.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <limits>

#include "core/strings.h"
#include "services/logs/log_format.h"
#include "services/logs/log_store.h"

namespace lamina::services::logs {

namespace {

struct DirEntry {
  std::string name;
  bool isDir = false;
};

Result<std::vector<DirEntry>> listDir(int dirFd) {
  int dupFd = ::fcntl(dirFd, F_DUPFD_CLOEXEC, 0);
  if (dupFd < 0) return failErrno("dup", errno);
  DIR* d = ::fdopendir(dupFd);
  if (!d) {
    int err = errno;
    ::close(dupFd);
    return failErrno("fdopendir", err);
  }
  ::rewinddir(d);  // the dup shares its offset with dirFd
  std::vector<DirEntry> out;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    bool isDir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {  // some filesystems (xfs without ftype, overlay) leave it unset
      struct stat st {};
      isDir = ::fstatat(dirFd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    out.push_back({std::string(name), isDir});
  }
  ::closedir(d);
  return out;
}

// The whole file; nullopt if it does not exist.
Result<std::optional<std::string>> readFileAt(int dirFd, const std::string& name) {
  core::UniqueFd fd(::openat(dirFd, name.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::optional<std::string>();
    return failErrno("opening " + name, errno);
  }
  std::string out;
  struct stat st {};
  if (::fstat(fd.get(), &st) == 0 && st.st_size > 0) out.reserve(size_t(st.st_size) + 4096);
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failErrno("reading " + name, errno);
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  return std::optional<std::string>(std::move(out));
}

// Calls fn(line, seq) for every complete line (a trailing partial line is being written or was
// cut by a crash, and is skipped); seq counts from 1.
template <class Fn>
void forEachLine(std::string_view content, Fn&& fn) {
  uint64_t seq = 0;
  size_t start = 0;
  while (true) {
    size_t nl = content.find('\n', start);
    if (nl == std::string_view::npos) return;
    fn(content.substr(start, nl - start), ++seq);
    start = nl + 1;
  }
}

std::optional<int64_t> toInt(std::string_view s) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

Result<void> LogStore::scan() {
  auto entries = listDir(rootFd_.get());
  if (!entries) return std::unexpected(entries.error());
  for (const DirEntry& e : *entries) {
    if (!e.isDir) continue;
    if (auto r = scanGroup(e.name); !r) return std::unexpected(std::move(r.error().context(e.name)));
  }
  return {};
}

Result<void> LogStore::scanGroup(const std::string& dir) {
  core::UniqueFd dfd(::openat(rootFd_.get(), dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd.valid()) return failErrno("opening", errno);
  auto meta = readFileAt(dfd.get(), std::string(kMetaFile));
  if (!meta) return std::unexpected(meta.error());

  // Names and creation times from .meta; -1 = unknown (the .meta line never made it to disk).
  std::optional<std::string> groupName;
  int64_t groupCreated = -1;
  std::map<std::string, std::pair<std::string, int64_t>> streamsByStem;
  if (*meta) {
    forEachLine(**meta, [&](std::string_view line, uint64_t) {
      auto parts = core::split(line, ' ');
      if (parts.size() != 3) return;
      auto created = toInt(parts[1]);
      auto name = core::uriDecode(parts[2]);
      if (!created || !name || name->empty()) return;
      if (parts[0] == "G" && !groupName) {
        groupName = *name;
        groupCreated = *created;
      } else if (parts[0] == "S") {
        streamsByStem.try_emplace(diskName(*name), *name, *created);
      }
    });
  }
  if (!groupName) groupName = decodeName(dir);
  // A directory we cannot name, or one named for another group, is not ours to serve.
  if (!groupName || diskName(*groupName) != dir) return {};

  auto entries = listDir(dfd.get());
  if (!entries) return std::unexpected(entries.error());
  for (const DirEntry& e : *entries) {
    std::string_view name = e.name;
    if (e.isDir || !name.ends_with(kLogSuffix)) continue;
    std::string stem(name.substr(0, name.size() - kLogSuffix.size()));
    if (streamsByStem.contains(stem)) continue;
    auto decoded = decodeName(stem);
    if (decoded && diskName(*decoded) == stem) streamsByStem.try_emplace(stem, *decoded, -1);
  }

  Group g{.name = *groupName, .dir = dir, .creationTime = groupCreated};
  int64_t earliest = std::numeric_limits<int64_t>::max();
  for (auto& [stem, nameAndCreated] : streamsByStem) {
    Stream s;
    s.info.name = nameAndCreated.first;
    s.info.creationTime = nameAndCreated.second;
    s.file = stem + std::string(kLogSuffix);
    auto content = readFileAt(dfd.get(), s.file);
    if (!content) return std::unexpected(content.error());
    if (*content && !(*content)->empty()) {
      std::string& text = **content;
      size_t keep = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
      if (keep != text.size()) {
        // A write cut short by a crash; drop the fragment so the next event starts a clean line.
        core::UniqueFd wfd(::openat(dfd.get(), s.file.c_str(), O_WRONLY | O_CLOEXEC));
        if (!wfd.valid() || ::ftruncate(wfd.get(), off_t(keep)) != 0) return failErrno("truncating " + s.file, errno);
        text.resize(keep);
      }
      StreamInfo& info = s.info;
      forEachLine(text, [&info](std::string_view line, uint64_t) {
        ++info.eventCount;  // every line holds a seq, even one we cannot parse
        auto p = parseLine(line);
        if (!p) return;
        info.firstEventTimestamp = std::min(info.firstEventTimestamp.value_or(p->timestampMs), p->timestampMs);
        info.lastEventTimestamp = std::max(info.lastEventTimestamp.value_or(p->timestampMs), p->timestampMs);
        info.lastIngestionTime = std::max(info.lastIngestionTime.value_or(p->ingestionMs), p->ingestionMs);
        if (info.creationTime < 0) info.creationTime = p->ingestionMs;
      });
      info.storedBytes = int64_t(text.size());
    }
    if (s.info.creationTime < 0) s.info.creationTime = 0;
    earliest = std::min(earliest, s.info.creationTime);
    g.streams.emplace(s.info.name, std::move(s));
  }
  if (g.creationTime < 0) g.creationTime = g.streams.empty() ? 0 : earliest;
  std::lock_guard lk(mu_);
  groups_.emplace(g.name, std::move(g));
  return {};
}

Result<void> LogStore::removeGroupDir(const std::string& dir) {
  core::UniqueFd dfd(::openat(rootFd_.get(), dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd.valid()) {
    if (errno == ENOENT) return {};  // nothing was written yet
    return failErrno("opening " + dir, errno);
  }
  auto entries = listDir(dfd.get());
  if (!entries) return std::unexpected(entries.error());
  for (const DirEntry& e : *entries)
    if (::unlinkat(dfd.get(), e.name.c_str(), e.isDir ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT)
      return failErrno("removing " + dir + "/" + e.name, errno);
  if (::unlinkat(rootFd_.get(), dir.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return failErrno("removing " + dir, errno);
  return {};
}

Result<std::vector<StoredEvent>> LogStore::readEvents(std::string_view group, std::string_view stream, int64_t fromMs,
                                                      int64_t toMs) {
  flush();
  std::string dir, file;
  {
    std::lock_guard lk(mu_);
    auto git = groups_.find(group);
    if (git == groups_.end()) return fail(Code::kResourceNotFound, "The specified log group does not exist.");
    auto sit = git->second.streams.find(stream);
    if (sit == git->second.streams.end())
      return fail(Code::kResourceNotFound, "The specified log stream does not exist.");
    dir = git->second.dir;
    file = sit->second.file;
  }
  std::vector<StoredEvent> out;
  core::UniqueFd dfd(::openat(rootFd_.get(), dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd.valid()) {
    if (errno == ENOENT) return out;  // deleted meanwhile
    return failErrno("opening " + dir, errno);
  }
  auto content = readFileAt(dfd.get(), file);
  if (!content) return std::unexpected(content.error());
  if (!*content) return out;  // a stream without events has no file
  forEachLine(**content, [&out, fromMs, toMs](std::string_view line, uint64_t seq) {
    auto p = parseLine(line);
    if (!p || p->timestampMs < fromMs || p->timestampMs > toMs) return;
    out.push_back(StoredEvent{p->timestampMs, p->ingestionMs, unescapeMessage(p->escapedMessage), seq});
  });
  return out;
}

}  // namespace lamina::services::logs
