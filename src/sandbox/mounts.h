// The filesystem view of one sandboxed environment, built in its own mount namespace:
//
//   /            the host's root, recursively bound read-only (nosuid, nodev)
//   /var/task    the function's code, read-only          /opt   its layers, read-only (or empty)
//   /var/runtime lamina's runtime clients, read-only
//   /tmp         a private tmpfs of EphemeralStorage size  /proc  a fresh proc of the pid namespace
//   /dev         a read-only tmpfs with null, zero, random, urandom and the fd symlinks
//   masked paths an empty read-only tmpfs (directories), or a nodev bind of /dev/null (files),
//                which cannot even be opened
//
// Split in two because of where each half runs. planView() runs in the daemon before clone: it may
// allocate, stat and list directories, and it turns the view into a flat list of system calls with
// every path already spelled out. runMountPlan() runs in the clone child, which is a copy of a
// multithreaded daemon and so may only make async-signal-safe calls: it walks that list with plain
// system calls, allocating nothing.
//
// Mount points that the host lacks (/var/task, usually) are made without touching the host: the
// parent directory is "shadowed". /var gets a read-only overlay of a scratch directory holding the
// new mount point over the host's /var (one mount; mounts below the host's /var do not show through
// it). "/", and /var where overlayfs is unavailable, get a tmpfs holding read-only binds of each
// entry plus the new directory (three system calls per entry). A host with /var/task (an empty
// directory) needs neither.
//
// Threading: a MountPlan is a value; planView is thread-safe; runMountPlan only in the child.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/result.h"

namespace lamina::sandbox {

struct ViewSpec {
  std::filesystem::path taskDir;     // bound read-only at /var/task; empty = an empty directory
  std::filesystem::path optDir;      // bound read-only at /opt; empty = an empty directory
  std::filesystem::path runtimeDir;  // bound read-only at /var/runtime; empty = an empty directory
  int tmpSizeMb = 512;
  // Hidden in the view. Missing paths are skipped; paths under /tmp, /dev, /var/task or /opt are
  // skipped too (those trees are the sandbox's own). Applied last, so they hide anything below.
  std::vector<std::filesystem::path> maskPaths;
};

// One system call (or two) of building the view. Fields unused by an op stay empty.
struct MountStep {
  enum class Op : uint8_t {
    kMakePrivate,  // every mount private, so nothing done here propagates to the host
    kCapture,      // slots[slot] = detached recursive copy of `source`, with `attrSet` applied
    kAttach,       // attach slots[slot] at `target`, close the slot
    kMount,        // mount(source, target, fstype, flags, data)
    kSetAttr,      // mount_setattr(target, attrSet), recursive or not
    kMkdir,        // mkdir(target, mode)
    kMkfile,       // create the empty file `target` (a mount point for a file bind)
    kSymlink,      // symlink `target` -> `source`
    kPivot,        // make `target` the root and detach the old one
  };
  Op op;
  std::string source;
  std::string target;
  std::string fstype;
  std::string data;
  unsigned long flags = 0;  // MS_* for kMount
  uint64_t attrSet = 0;     // MOUNT_ATTR_* for kCapture and kSetAttr
  bool recursive = false;   // kSetAttr
  mode_t mode = 0755;       // kMkdir
  int slot = -1;            // kCapture, kAttach
  std::string what;         // how a failure reads: "mounting /tmp"
};

struct MountPlan {
  std::vector<MountStep> steps;
  std::vector<int> slots;  // captured trees' fds; sized here, filled in by the child
};

// The plan for `view`. Fails if the host cannot offer a mount point (e.g. no /var at all).
Result<MountPlan> planView(const ViewSpec& view);

// Child only. Runs every step in order; on failure returns the errno and stores the failing step's
// index in *failedStep. Async-signal-safe.
int runMountPlan(MountPlan& plan, size_t* failedStep);

}  // namespace lamina::sandbox
