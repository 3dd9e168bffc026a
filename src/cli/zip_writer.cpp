#include "cli/zip_writer.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <fstream>
#include <iterator>
#include <limits>

namespace lamina::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::array<uint32_t, 256> kCrcTable = [] {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}();

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint16_t kVersion = 20;                  // 2.0: directories, STORE
constexpr uint16_t kMadeBy = (3 << 8) | kVersion;  // 3 = Unix: external attributes hold st_mode
constexpr uint16_t kUtf8Names = 0x0800;
constexpr uint16_t kDosTime = 0, kDosDate = (0 << 9) | (1 << 5) | 1;  // 1980-01-01 00:00:00

void put16(std::string& s, uint16_t v) {
  s.push_back(char(v & 0xff));
  s.push_back(char(v >> 8));
}
void put32(std::string& s, uint32_t v) {
  put16(s, uint16_t(v & 0xffff));
  put16(s, uint16_t(v >> 16));
}
uint16_t get16(std::string_view s, size_t at) { return uint16_t(uint8_t(s[at]) | uint8_t(s[at + 1]) << 8); }
uint32_t get32(std::string_view s, size_t at) { return uint32_t(get16(s, at)) | uint32_t(get16(s, at + 2)) << 16; }

Result<void> walk(const fs::path& root, const fs::path& rel, ZipWriter& zip, FolderZip& out) {
  std::error_code ec;
  fs::directory_iterator it(root / rel, ec);
  if (ec) return fail(Code::kInternal, "reading " + (root / rel).string() + ": " + ec.message());
  std::vector<fs::path> names;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return fail(Code::kInternal, "reading " + (root / rel).string() + ": " + ec.message());
    names.push_back(it->path().filename());
  }
  std::sort(names.begin(), names.end());
  for (const fs::path& name : names) {
    fs::path relPath = rel / name;
    fs::path full = root / relPath;
    struct stat st {};
    if (::lstat(full.c_str(), &st) != 0) return failErrno("lstat " + full.string(), errno);
    std::string zipName = relPath.generic_string();
    if (S_ISDIR(st.st_mode)) {
      if (auto r = zip.addDirectory(zipName, st.st_mode); !r) return r;
      if (auto r = walk(root, relPath, zip, out); !r) return r;
    } else if (S_ISREG(st.st_mode)) {
      auto data = readFileBytes(full);
      if (!data) return std::unexpected(data.error());
      if (auto r = zip.addFile(zipName, *data, st.st_mode); !r) return r;
      ++out.files;
    } else {
      out.skipped.push_back(zipName);  // symlinks (which could point outside the folder), fifos, sockets
    }
  }
  return {};
}

}  // namespace

uint32_t crc32(std::string_view data) {
  uint32_t c = 0xffffffffu;
  for (char ch : data) c = kCrcTable[(c ^ uint8_t(ch)) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

Result<void> ZipWriter::addFile(std::string_view name, std::string_view data, uint32_t mode) {
  return add(std::string(name), data, (mode & 07777) | S_IFREG);
}

Result<void> ZipWriter::addDirectory(std::string_view name, uint32_t mode) {
  return add(std::string(name) + "/", {}, (mode & 07777) | S_IFDIR);
}

Result<void> ZipWriter::add(std::string name, std::string_view data, uint32_t mode) {
  constexpr size_t kMax = std::numeric_limits<uint32_t>::max();
  if (name.size() > 0xffff) return fail(Code::kInvalidParameterValue, "zip entry name too long: " + name.substr(0, 80));
  if (entries_ == 0xffff) return fail(Code::kInvalidParameterValue, "too many files for a zip without Zip64 (65,535)");
  if (data.size() >= kMax || out_.size() + data.size() + name.size() + 30 >= kMax)
    return fail(Code::kInvalidParameterValue, "the archive would pass 4 GiB, which needs Zip64");
  uint32_t crc = crc32(data);
  uint32_t offset = uint32_t(out_.size());
  uint32_t size = uint32_t(data.size());

  put32(out_, kLocalSig);
  for (uint16_t v : {kVersion, kUtf8Names, uint16_t(0), kDosTime, kDosDate}) put16(out_, v);  // method 0 = STORE
  for (uint32_t v : {crc, size, size}) put32(out_, v);
  put16(out_, uint16_t(name.size()));
  put16(out_, 0);  // extra field length
  out_ += name;
  out_ += data;

  put32(central_, kCentralSig);
  for (uint16_t v : {kMadeBy, kVersion, kUtf8Names, uint16_t(0), kDosTime, kDosDate}) put16(central_, v);
  for (uint32_t v : {crc, size, size}) put32(central_, v);
  for (uint16_t v : {uint16_t(name.size()), uint16_t(0), uint16_t(0), uint16_t(0), uint16_t(0)})
    put16(central_, v);  // name, extra, comment lengths; disk number; internal attributes
  // External attributes: st_mode in the high half; the MS-DOS directory bit in the low byte.
  put32(central_, (mode << 16) | (S_ISDIR(mode) ? 0x10 : 0));
  put32(central_, offset);
  central_ += name;
  ++entries_;
  return {};
}

Result<std::string> ZipWriter::finish() {
  if (out_.size() + central_.size() >= std::numeric_limits<uint32_t>::max())
    return fail(Code::kInvalidParameterValue, "the archive would pass 4 GiB, which needs Zip64");
  uint32_t cdOffset = uint32_t(out_.size());
  uint32_t cdSize = uint32_t(central_.size());
  std::string zip = std::move(out_);
  zip += central_;
  put32(zip, kEndSig);
  for (uint16_t v : {uint16_t(0), uint16_t(0), uint16_t(entries_), uint16_t(entries_)}) put16(zip, v);
  put32(zip, cdSize);
  put32(zip, cdOffset);
  put16(zip, 0);  // comment length
  out_.clear();
  central_.clear();
  entries_ = 0;
  return zip;
}

Result<FolderZip> zipFolder(const fs::path& root) {
  FolderZip out;
  ZipWriter zip;
  if (auto r = walk(root, fs::path(), zip, out); !r) return std::unexpected(r.error());
  auto bytes = zip.finish();
  if (!bytes) return std::unexpected(bytes.error());
  out.bytes = std::move(*bytes);
  return out;
}

Result<std::string> readFileBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return failErrno("opening " + path.string(), errno);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return failErrno("reading " + path.string(), errno);
  return data;
}

Result<std::vector<std::string>> zipEntryNames(std::string_view zip) {
  auto notZip = [](std::string why) { return fail(Code::kInvalidZipFile, "not a readable zip archive (" + why + ")"); };
  constexpr size_t kEndSize = 22;
  if (zip.size() < kEndSize) return notZip("too short");
  // The end record sits in the last 22 bytes plus a comment of at most 65,535 bytes.
  size_t lowest = zip.size() > kEndSize + 0xffff ? zip.size() - kEndSize - 0xffff : 0;
  size_t end = zip.size() - kEndSize;
  while (get32(zip, end) != kEndSig) {
    if (end == lowest) return notZip("no end of central directory");
    --end;
  }
  uint16_t count = get16(zip, end + 10);
  uint32_t cdSize = get32(zip, end + 12), cdOffset = get32(zip, end + 16);
  if (cdOffset == 0xffffffffu || count == 0xffff) return notZip("Zip64 is not supported");
  if (size_t(cdOffset) + cdSize > end) return notZip("central directory out of bounds");
  std::vector<std::string> names;
  size_t at = cdOffset;
  for (uint16_t i = 0; i < count; ++i) {
    if (at + 46 > end || get32(zip, at) != kCentralSig) return notZip("bad central directory entry");
    size_t nameLen = get16(zip, at + 28), extraLen = get16(zip, at + 30), commentLen = get16(zip, at + 32);
    if (at + 46 + nameLen > end) return notZip("entry name out of bounds");
    names.emplace_back(zip.substr(at + 46, nameLen));
    at += 46 + nameLen + extraLen + commentLen;
  }
  return names;
}

}  // namespace lamina::cli
