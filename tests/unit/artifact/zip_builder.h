// ZipBuilder: builds zip archives in memory with libzip, for the artifact tests. Names, modes and
// symlink targets are written exactly as given (hostile ones included). Test-only; single-threaded.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zip.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lamina::artifact::testutil {

class ZipBuilder {
 public:
  // `mode` is the full Unix st_mode (type and permissions); 0 records none (as Python's ZipInfo does).
  ZipBuilder& file(std::string name, std::string data, uint32_t mode = S_IFREG | 0644) {
    entries_.push_back({std::move(name), std::move(data), ZIP_OPSYS_UNIX, mode << 16, false});
    return *this;
  }
  ZipBuilder& dir(std::string name, uint32_t mode = S_IFDIR | 0755) {
    entries_.push_back({std::move(name), "", ZIP_OPSYS_UNIX, mode << 16, true});
    return *this;
  }
  ZipBuilder& symlink(std::string name, std::string target) {
    entries_.push_back({std::move(name), std::move(target), ZIP_OPSYS_UNIX, uint32_t(S_IFLNK | 0777) << 16, false});
    return *this;
  }
  // Entries as a Windows tool writes them: MS-DOS attributes, no Unix mode.
  ZipBuilder& dosFile(std::string name, std::string data) {
    entries_.push_back({std::move(name), std::move(data), ZIP_OPSYS_DOS, 0x20, false});
    return *this;
  }
  ZipBuilder& dosDir(std::string name) {
    entries_.push_back({std::move(name), "", ZIP_OPSYS_DOS, 0x10, true});
    return *this;
  }

  // The archive bytes. If libzip refuses something (it will not write duplicate names or control
  // characters; forge those with patch()) the test fails and the result is empty.
  std::string build() const {
    std::string out = write();
    if (out.empty()) ADD_FAILURE() << "ZipBuilder: libzip refused the archive";
    return out;
  }

 private:
  struct Entry {
    std::string name;
    std::string data;
    zip_uint8_t opsys;
    zip_uint32_t attr;
    bool isDir;
  };

  std::string write() const {
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &err);
    zip_error_fini(&err);
    if (buffer == nullptr) return "";
    zip_source_keep(buffer);
    zip_t* za = zip_open_from_source(buffer, ZIP_TRUNCATE, nullptr);
    if (za == nullptr) {
      zip_source_free(buffer);
      return "";
    }
    bool ok = true;
    for (const Entry& e : entries_) {
      zip_int64_t idx = -1;
      if (e.isDir) {
        idx = zip_dir_add(za, e.name.c_str(), ZIP_FL_ENC_UTF_8);
      } else {
        zip_source_t* data = zip_source_buffer(za, e.data.data(), e.data.size(), 0);
        idx = data ? zip_file_add(za, e.name.c_str(), data, ZIP_FL_ENC_UTF_8) : -1;
        if (idx < 0 && data) zip_source_free(data);
      }
      ok = ok && idx >= 0 && zip_file_set_external_attributes(za, zip_uint64_t(idx), 0, e.opsys, e.attr) == 0;
    }
    if (!ok || zip_close(za) != 0) {
      zip_discard(za);  // zip_close leaves the archive open when it fails
      zip_source_free(buffer);
      return "";
    }
    std::string out;
    zip_stat_t st;
    if (zip_source_open(buffer) == 0) {
      if (zip_source_stat(buffer, &st) == 0) {
        out.resize(st.size);
        zip_int64_t n = zip_source_read(buffer, out.data(), st.size);
        out.resize(n < 0 ? 0 : size_t(n));
      }
      zip_source_close(buffer);
    }
    zip_source_free(buffer);
    return out;
  }

  std::vector<Entry> entries_;
};

// Replaces every occurrence of `from` with `to` (same length) in zip bytes: a way to forge what
// libzip will not write, e.g. two entries with one name.
inline std::string patch(std::string bytes, const std::string& from, const std::string& to) {
  for (size_t pos = bytes.find(from); pos != std::string::npos; pos = bytes.find(from, pos + to.size()))
    bytes.replace(pos, from.size(), to);
  return bytes;
}

}  // namespace lamina::artifact::testutil
