// Minimal zip support for `lamina deploy`: builds deployment packages in memory with the STORE
// method (no compression, no zlib dependency) and lists the entries of an existing archive.
//
// Entries carry their Unix mode in the external attributes ("version made by" = Unix), so an
// executable `bootstrap` keeps its exec bit through the server's unzip. Timestamps are fixed at the
// DOS epoch (1980-01-01) so that zipping the same folder twice gives the same bytes, and so the same
// CodeSha256. No Zip64: archives stop at 4 GiB and 65,535 entries (Lambda's limit is 50 MB).
// Plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace lamina::cli {

// CRC-32 (IEEE 802.3, the zip polynomial) of `data`.
uint32_t crc32(std::string_view data);

class ZipWriter {
 public:
  // `name` uses '/' separators and is relative; `mode` is the full st_mode (type and permission bits).
  Result<void> addFile(std::string_view name, std::string_view data, uint32_t mode);
  // A directory entry; `name` without the trailing '/'.
  Result<void> addDirectory(std::string_view name, uint32_t mode);
  // Appends the central directory and returns the archive. The writer is empty afterwards.
  Result<std::string> finish();

 private:
  Result<void> add(std::string name, std::string_view data, uint32_t mode);

  std::string out_;
  std::string central_;
  uint32_t entries_ = 0;
};

struct FolderZip {
  std::string bytes;
  size_t files = 0;
  std::vector<std::string> skipped;  // relative paths of symlinks and special files left out
};

// Zips everything below `root` (not `root` itself): directories walked recursively, entries in sorted
// order, symlinks and special files skipped (reported in `skipped`).
Result<FolderZip> zipFolder(const std::filesystem::path& root);

// The whole content of the regular file `path`.
Result<std::string> readFileBytes(const std::filesystem::path& path);

// The entry names of the zip archive `zip`, read from its central directory. Fails when `zip` is
// not a zip archive (or uses Zip64).
Result<std::vector<std::string>> zipEntryNames(std::string_view zip);

}  // namespace lamina::cli
