// Hostile-input-safe extraction of an uploaded code zip into a fresh directory.
//
// The zip bytes come straight from a client: every name, mode, size and symlink target in them is
// untrusted. extractZip never writes outside `dest`, never follows a symlink it did not verify,
// and stops writing as soon as the real (not declared) unzipped size passes the limit. It holds no
// state; concurrent calls are fine as long as each gets its own `dest`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "core/result.h"

namespace lamina::artifact {

struct ZipLimits {
  uint64_t maxZippedBytes = 52428800;     // 50 MB, AWS direct-upload limit
  uint64_t maxUnzippedBytes = 262144000;  // 250 MB
  uint64_t maxEntries = 20000;
};

// AWS's message for a zip it cannot read.
inline constexpr std::string_view kCouldNotUnzip =
    "Could not unzip uploaded file. Please check your file, then try to upload again.";

// Extracts the zip held in `zipBytes` into `dest`, which must not exist yet; its parent must. `dest`
// is created with mode 0755.
//
// Rejected (kInvalidParameterValue, naming the entry): absolute names, any `..` component,
// backslashes, names over PATH_MAX or components over NAME_MAX, entries whose path goes through a
// symlink, duplicate or conflicting entries, device/fifo/socket entries, and symlinks whose target
// is absolute, empty, or escapes the tree. A symlink target must be `../` steps followed by plain
// names (`..` after a name is refused: that name might be another symlink, so a lexical check of
// the target would lie).
//
// Modes: Unix modes in the external attributes are kept (so a `bootstrap` keeps its exec bit) with
// setuid/setgid/sticky stripped; zips without Unix modes (e.g. made on Windows) get 0644 files and
// 0755 directories. Directories always keep owner r-x so the tree can be walked and removed.
// Parent directories the zip omits are created 0755.
//
// Limits: the entry count (checked before anything is created), and the running total of bytes
// actually written (file data plus symlink targets), checked before each write. The headers'
// declared sizes only serve to fail early: libzip does not hold the data to them.
//
// Errors: unreadable/corrupt zip or empty input -> kInvalidParameterValue kCouldNotUnzip;
// unzipped size over the limit -> kInvalidParameterValue "Unzipped size must be smaller than N
// bytes"; zipped size over the limit -> kRequestTooLarge "Zipped size must be smaller than N bytes";
// disk trouble -> kInternal with errno. On any failure everything created under `dest`, and `dest`
// itself, is removed before returning.
//
// Returns the total unzipped byte count.
Result<uint64_t> extractZip(std::string_view zipBytes, const std::filesystem::path& dest, const ZipLimits& limits);

// Removes `path` and everything below it, including trees whose directories lack write or search
// permission (it restores owner rwx on directories first). Never follows symlinks. A missing
// `path` is success.
Result<void> removeTree(const std::filesystem::path& path);

}  // namespace lamina::artifact
