// Version detection, Lambda's CPU sizing, and the file helpers both cgroup backends use. Every
// access is relative to a directory fd and O_CLOEXEC.
#include "sandbox/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <thread>

#include "core/strings.h"

namespace lamina::sandbox {

using cgroup_detail::UniqueFd;

CgroupLimits limitsForMemory(int memoryMb, int hostCpus) {
  constexpr int64_t kMaxVcpus = 6;
  // cpu.cfs_quota_us and cpu.max reject quotas below 1 ms with EINVAL.
  constexpr int64_t kMinQuotaUs = 1000;
  CgroupLimits limits;
  limits.memoryBytes = int64_t(memoryMb) * 1024 * 1024;
  int64_t quota = limits.cpuPeriodUs * memoryMb / kMbPerVcpu;
  quota = std::min(quota, limits.cpuPeriodUs * std::max(hostCpus, 1));
  quota = std::min(quota, limits.cpuPeriodUs * kMaxVcpus);
  limits.cpuQuotaUs = std::max(quota, kMinQuotaUs);
  return limits;
}

CgroupLimits limitsForInit(int memoryMb, int hostCpus) {
  CgroupLimits limits = limitsForMemory(memoryMb, hostCpus);
  limits.cpuQuotaUs = limitsForMemory(kMbPerVcpu * std::max(hostCpus, 1), hostCpus).cpuQuotaUs;
  return limits;
}

Result<std::unique_ptr<CgroupManager>> CgroupManager::open(const std::filesystem::path& root,
                                                           std::string_view instanceName, CgroupOptions options) {
  using namespace cgroup_detail;
  if (!validName(instanceName)) return fail(Code::kValidation, "invalid cgroup instance name");
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return failErrno("opening cgroup root " + root.string(), errno);
  UniqueFd rootFd(fd);
  if (hasFile(rootFd.get(), "cgroup.controllers")) return openV2(std::move(rootFd), instanceName, std::move(options));
  // Hybrid systems mount a cgroup2 tree at "unified" beside the v1 trees, usually with no
  // controllers (systemd uses it for process tracking; here it offers only hugetlb). A controller
  // lives in one hierarchy only, so v2 is usable only if memory was given to it.
  if (auto unified = openDir(rootFd.get(), "unified")) {
    auto controllers = readFile(unified->get(), "cgroup.controllers");
    if (controllers) {
      auto names = core::split(core::trim(*controllers), ' ');
      if (std::find(names.begin(), names.end(), "memory") != names.end())
        return openV2(std::move(*unified), instanceName, std::move(options));
    }
  }
  for (const char* controller : {"memory", "cpu", "pids", "freezer"}) {
    auto dir = openDir(rootFd.get(), controller);
    if (dir && hasFile(dir->get(), "cgroup.procs")) return openV1(std::move(rootFd), instanceName, std::move(options));
  }
  return fail(Code::kInternal, "no cgroup v2 or v1 hierarchy under " + root.string());
}

namespace cgroup_detail {

bool validName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

Result<UniqueFd> openDir(int dirFd, const std::string& name) {
  int fd = ::openat(dirFd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return failErrno("opening " + name, errno);
  return UniqueFd(fd);
}

bool hasFile(int dirFd, const char* name) { return ::faccessat(dirFd, name, F_OK, 0) == 0; }

Result<void> writeFile(int dirFd, const char* name, std::string_view value) {
  UniqueFd fd(::openat(dirFd, name, O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd.valid()) return failErrno(std::string("opening ") + name, errno);
  // cgroupfs parses each write() as one value: never split it, so no partial-write loop.
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return failErrno("writing " + std::string(value) + " to " + name, errno);
  if (size_t(n) != value.size()) return fail(Code::kInternal, std::string("short write to ") + name);
  return {};
}

Result<std::string> readFile(int dirFd, const char* name) {
  UniqueFd fd(::openat(dirFd, name, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return failErrno(std::string("opening ") + name, errno);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failErrno(std::string("reading ") + name, errno);
    if (n == 0) return out;
    out.append(buf, size_t(n));
  }
}

namespace {
Result<int64_t> parseInt(std::string_view text, const char* name) {
  text = core::trim(text);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size())
    return fail(Code::kInternal, std::string("unexpected contents of ") + name + ": " + std::string(text));
  return v;
}
}  // namespace

Result<int64_t> readInt(int dirFd, const char* name) {
  auto text = readFile(dirFd, name);
  if (!text) return std::unexpected(text.error());
  return parseInt(*text, name);
}

Result<int64_t> readKeyed(int dirFd, const char* name, std::string_view key) {
  auto text = readFile(dirFd, name);
  if (!text) return std::unexpected(text.error());
  for (auto line : core::split(*text, '\n')) {
    auto space = line.find(' ');
    if (space != std::string_view::npos && line.substr(0, space) == key) return parseInt(line.substr(space + 1), name);
  }
  return fail(Code::kNotFound, std::string(name) + " has no " + std::string(key));
}

Result<std::vector<pid_t>> readPids(int dirFd) {
  auto text = readFile(dirFd, "cgroup.procs");
  if (!text) return std::unexpected(text.error());
  std::vector<pid_t> pids;
  for (auto line : core::split(*text, '\n')) {
    if (core::trim(line).empty()) continue;
    auto v = parseInt(line, "cgroup.procs");
    if (!v) return std::unexpected(v.error());
    pids.push_back(pid_t(*v));
  }
  return pids;
}

Result<std::vector<std::string>> subdirectories(int dirFd) {
  // fdopendir takes ownership of its fd, so give it a fresh one.
  int fd = ::openat(dirFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return failErrno("opening cgroup directory", errno);
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(fd);
    return failErrno("fdopendir", err);
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) names.emplace_back(n);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

Result<UniqueFd> makeGroupDir(int parentFd, const std::string& name, bool mayExist, std::string_view hierarchy,
                              const CgroupOptions& options) {
  bool created = ::mkdirat(parentFd, name.c_str(), 0755) == 0;
  if (!created && !(mayExist && errno == EEXIST)) return failErrno("creating cgroup " + name, errno);
  auto dir = openDir(parentFd, name);
  if (dir && created && options.afterMkdir) options.afterMkdir(dir->get(), hierarchy);
  return dir;
}

int removeGroupDir(int parentFd, const std::string& name, std::string_view hierarchy, const CgroupOptions& options) {
  if (options.beforeRmdir) {
    if (auto dir = openDir(parentFd, name)) options.beforeRmdir(dir->get(), hierarchy);
  }
  if (::unlinkat(parentFd, name.c_str(), AT_REMOVEDIR) == 0) return 0;
  return errno;
}

Result<void> pollUntil(const CgroupOptions& options, std::string_view what, const std::function<Result<bool>()>& step) {
  using std::chrono::microseconds;
  microseconds slept{0};
  microseconds pause{50};
  for (;;) {
    auto done = step();
    if (!done) return std::unexpected(done.error());
    if (*done) return {};
    if (slept >= options.pollTimeout)
      return fail(Code::kInternal, std::string(what) + ": timed out after " +
                                       std::to_string(options.pollTimeout.count() / 1000) + " ms");
    if (options.sleep)
      options.sleep(pause);
    else
      std::this_thread::sleep_for(pause);
    slept += pause;
    pause = std::min(pause * 2, microseconds(5000));
  }
}

}  // namespace cgroup_detail

}  // namespace lamina::sandbox
