"""lamina's Python zygote (see src/sandbox/zygote.h for the whole protocol).

Started by the daemon as ``<python3.X> -u /var/runtime/python/zygote.py``: root, in a mount
namespace with the environments' generic view, with the variables every function of this runtime
starts with. It imports what bootstrap.py imports and compiles bootstrap.py once; then, for each new
environment, it forks a keeper that joins the environment and forks the runtime process, which
becomes exactly what ``python3.X -u /var/runtime/python/bootstrap.py`` would have been, minus the
interpreter's start-up.

The zygote never reads a request's contents (only its descriptors arrive here), so no function's
variables or code ever sit in the memory later environments are forked from.
"""

import os
import sys

# What bootstrap.py imports at its top, so that a forked runtime process finds them loaded.
import importlib  # noqa: F401
import json  # noqa: F401
import logging  # noqa: F401
import re  # noqa: F401
import socket
import time
import traceback  # noqa: F401

import ctypes
import gc
import resource
import signal
import struct
import types

_BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bootstrap.py")
with open(_BOOTSTRAP, "rb") as _f:
    _CODE = compile(_f.read(), _BOOTSTRAP, "exec", dont_inherit=True)
del _f

# The interpreter's C locale coercion (PEP 538) put LC_CTYPE into the zygote's environment at
# start; a fresh interpreter would put it into the function's.
_COERCED_LC_CTYPE = os.environb.get(b"LC_CTYPE")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.syscall.restype = ctypes.c_long

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWNET = 0x40000000
_CLONE_NEWPID = 0x20000000
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_SET_SECCOMP = 22
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_SECCOMP_MODE_FILTER = 2
_SYS_CAPSET = 126  # x86_64
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_MAX_SPEC = 256 * 1024


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def _serve():
    """The zygote's loop. Returns only in a forked runtime process: (relay, output fd, spec)."""
    ctl = socket.socket(fileno=int(os.environ.pop("LAMINA_ZYGOTE_FD")))
    settings = ctl.recv(4096).split(b"\0")
    uid, gid, last_cap = int(settings[0]), int(settings[1]), int(settings[2])
    program = ctl.recv(1 << 20)
    sandbox = (uid, gid, last_cap, ctypes.create_string_buffer(program, len(program)))
    if os.uname().machine != "x86_64":
        raise SystemExit("lamina zygote: only x86_64 is supported")
    if sys.version_info < (3, 9):
        raise SystemExit("lamina zygote: needs Python 3.9 or later (os.pidfd_open, socket.send_fds)")

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # keepers are reaped by the kernel
    devnull = os.open(os.devnull, os.O_RDWR)
    gc.collect()
    gc.freeze()  # objects from here on stay out of the collector: fewer copied pages per fork
    ctl.send(b"R")
    os.dup2(devnull, 1)  # start-up errors went to the daemon; from now on nobody reads them
    os.dup2(devnull, 2)
    os.close(devnull)
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(ctl, 1, 16)
        except InterruptedError:
            continue
        if not msg:
            os._exit(0)  # the daemon is gone
        if len(fds) < 3:
            for fd in fds:
                os.close(fd)
            continue
        pid = os.fork()
        if pid == 0:
            ctl.close()
            return _keep(fds, sandbox)
        for fd in fds:
            os.close(fd)


def _keep(fds, sandbox):
    """The keeper: joins the environment, forks the runtime process and relays its wait status."""
    relay = socket.socket(fileno=fds[0])
    step = "joining the cgroup"
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        init_pidfd, out, procs = fds[1], fds[2], fds[3:]
        for fd in procs:
            os.write(fd, b"0")
            os.close(fd)
        step = "joining the namespaces"
        _check(
            _libc.setns(init_pidfd, _CLONE_NEWNS | _CLONE_NEWUTS | _CLONE_NEWIPC | _CLONE_NEWNET | _CLONE_NEWPID),
            "setns",
        )
        os.close(init_pidfd)
        step = "fork"
        pid = os.fork()
    except BaseException as e:
        _report(relay, step, e)
        os._exit(1)
    if pid == 0:
        return _become(relay, out, sandbox)
    status = 9  # SIGKILL, if the process vanished some other way
    try:
        os.close(out)
        pidfd = os.pidfd_open(pid)
        socket.send_fds(relay, [b"P" + struct.pack("=i", pid)], [pidfd])
        os.close(pidfd)
        status = os.waitpid(pid, 0)[1]
    except BaseException:
        pass
    try:
        relay.send(b"X" + struct.pack("=i", status))
    except OSError:
        pass
    os._exit(0)


def _report(relay, step, e):
    try:
        relay.send(("E%s: %s" % (step, e)).encode("utf-8", "replace")[:1000])
    except OSError:
        pass


def _become(relay, out, sandbox):
    """The runtime process: drops everything the sandbox drops and says so ("K"), then waits for
    its function's spec (cwd, argv, environment) and takes the function's world."""
    uid, gid, last_cap, bpf = sandbox
    step = "setting up descriptors"
    try:
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        keep = relay.fileno()
        os.closerange(3, keep)
        os.closerange(keep + 1, 1 << 30)
        step = "setting rlimits"
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        step = "dropping the capability bounding set"
        for cap in range(last_cap + 1):
            _check(_libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0), "PR_CAPBSET_DROP")
        _check(_libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "PR_CAP_AMBIENT")
        step = "changing to the sandbox user"
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        _check(_libc.syscall(_SYS_CAPSET, ctypes.byref(header), ctypes.byref(data)), "capset")
        # Changing ids made the process undumpable (its /proc files root's); an exec'd one is not.
        _check(_libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0), "PR_SET_DUMPABLE")
        _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
        _check(_libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "PR_SET_PDEATHSIG")
        step = "installing the seccomp filter"
        prog = _SockFprog(len(bpf) // 8, ctypes.cast(bpf, ctypes.c_void_p))
        _check(_libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0), "PR_SET_SECCOMP")
        relay.send(b"K")
        step = "reading the spec"
        spec = relay.recv(_MAX_SPEC)
        if not spec:
            os._exit(0)  # the environment was not needed after all
        parts = spec.split(b"\0")[:-1]
        cwd = parts[0]
        argc = int(parts[1])
        argv = [os.fsdecode(a) for a in parts[2 : 2 + argc]]
        env = parts[2 + argc :]
        step = "changing to the working directory"
        os.chdir(cwd)
        step = "taking the function's environment"
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        environ = os.environb
        environ.clear()
        for entry in env:
            name, _, value = entry.partition(b"=")
            environ[name] = value
        if _COERCED_LC_CTYPE is not None and b"LC_CTYPE" not in environ:
            environ[b"LC_CTYPE"] = _COERCED_LC_CTYPE
        time.tzset()
        sys.argv = argv
        relay.send(b"S")
        relay.close()
    except BaseException as e:
        _report(relay, step, e)
        os._exit(127)
    main = types.ModuleType("__main__")
    main.__file__ = _BOOTSTRAP
    main.__cached__ = None
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    return main.__dict__


_namespace = _serve()
# Only the runtime process gets here: run the runtime client as the interpreter would have.
del _serve, _keep, _become, _report
exec(_CODE, _namespace)
