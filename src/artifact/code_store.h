// CodeStore: content-addressed code zips and their extracted, read-only trees.
//
// Layout under `root`: blobs/<sha256hex>.zip (the uploaded bytes), trees/<sha256hex>/ (extracted
// once per hash, write bits removed from every file and directory before it becomes visible), and
// tmp/ (work in progress; cleared by open()). Both blobs and trees appear only by rename(2), so a
// reader sees a complete one or none. A blob is durable when put() returns; a tree is a cache
// that ensureTree() can rebuild from its blob.
//
// Thread-safety: every method may be called from any thread concurrently, including put() of the
// same bytes; the object holds only its root path. One process per root: open() clears tmp/.
// Methods block on disk I/O; keep them off I/O threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "artifact/unzip.h"
#include "core/result.h"

namespace lamina::artifact {

struct StoredCode {
  std::string sha256Hex;     // content address
  std::string sha256Base64;  // what Lambda reports as CodeSha256
  uint64_t zippedSize = 0;
  uint64_t unzippedSize = 0;
};

class CodeStore {
 public:
  // Creates root/{blobs,trees,tmp} as needed and clears leftovers in root/tmp.
  static Result<CodeStore> open(std::filesystem::path root);

  // Validates and extracts `zipBytes` (see extractZip for the errors), then stores the blob. A hash
  // already present is not extracted again; its unzipped size is measured from the tree.
  Result<StoredCode> put(std::string_view zipBytes, const ZipLimits& limits = {});

  // Paths for a content address. Precondition: `sha256Hex` is 64 lowercase hex digits (it comes from
  // put() or our own records); the other methods check that and fail/return false otherwise.
  std::filesystem::path blobPath(std::string_view sha256Hex) const;
  std::filesystem::path treePath(std::string_view sha256Hex) const;

  bool has(std::string_view sha256Hex) const;  // blob and tree both present

  // The stored zip bytes. Code::kNotFound if there is no such blob.
  Result<std::string> readBlob(std::string_view sha256Hex) const;

  // The tree for `sha256Hex`, re-extracting it from the blob if the tree is missing (e.g. removed by
  // hand). Code::kNotFound without a blob; kInternal if the blob no longer matches its hash.
  Result<std::filesystem::path> ensureTree(std::string_view sha256Hex, const ZipLimits& limits = {});

 private:
  explicit CodeStore(std::filesystem::path root) : root_(std::move(root)) {}

  // Extracts into tmp/, marks it read-only and renames it to trees/<hex> unless another caller got
  // there first. Returns the unzipped size of what was extracted.
  Result<uint64_t> installTree(std::string_view zipBytes, std::string_view sha256Hex, const ZipLimits& limits);
  // Writes blobs/<hex>.zip durably (temp file, fsync, rename, fsync of blobs/).
  Result<void> writeBlob(std::string_view zipBytes, std::string_view sha256Hex);

  std::filesystem::path root_;
};

}  // namespace lamina::artifact
