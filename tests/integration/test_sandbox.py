"""Isolation and resources, seen from inside real functions (issue 3): the namespace sandbox,
cgroup limits, freezing, OOM kills, graceful shutdown and leak-freedom. The daemon runs with
`--sandbox namespace`, so a machine that cannot isolate fails here instead of falling back.

Every test on the `server` fixture runs twice (issue 6): with runtime processes exec'd, and with
them forked from a Python zygote (every probe then checks that it was zygote-born)."""
import hashlib
import json
import os
import re
import socket
import time
from pathlib import Path

import pytest

from conftest import LaminaServer, create_python_function, make_zip, ROLE

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the namespace sandbox needs a root daemon")

PROBE = r'''
import errno, json, os, socket, threading, time, uuid
TOKEN = str(uuid.uuid4())
TICKS = 0

def _tick():
    global TICKS
    while True:
        time.sleep(0.01)
        TICKS += 1

threading.Thread(target=_tick, daemon=True).start()

def _try(fn):
    try:
        return {"ok": True, "value": fn()}
    except OSError as e:
        return {"ok": False, "errno": errno.errorcode.get(e.errno, str(e.errno))}

def _listening():
    ports = []
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        f = line.split()
        if f[3] == "0A":
            ports.append(int(f[1].split(":")[1], 16))
    return sorted(ports)

def _connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.close()
    return True

def handler(event, context):
    op = event.get("op")
    if op == "identity":
        status = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
        return {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "capeff": status["CapEff"].strip(),
                "nonewprivs": status["NoNewPrivs"].strip(), "token": TOKEN, "cwd": os.getcwd(),
                "task_root": os.environ["LAMBDA_TASK_ROOT"], "runtime_api": os.environ["AWS_LAMBDA_RUNTIME_API"]}
    if op == "read":
        return _try(lambda: open(event["path"], "rb").read(64).decode("latin-1"))
    if op == "write":
        return _try(lambda: open(event["path"], "w").write(event.get("data", "x")))
    if op == "listdir":
        return _try(lambda: sorted(os.listdir(event["path"])))
    if op == "pids":
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        return {"pids": pids, "init": open("/proc/1/cmdline", "rb").read().decode().strip("\0")}
    if op == "net":
        return {"listening": _listening(), "connect": _try(lambda: _connect(event["port"]))}
    if op == "cgroup":
        return open("/proc/self/cgroup").read()
    if op == "born":  # a zygote-born process still runs the zygote's program
        return "zygote" if b"zygote.py" in open("/proc/self/cmdline", "rb").read() else "exec"
    if op == "tmp_size":
        st = os.statvfs("/tmp")
        return st.f_blocks * st.f_frsize
    if op == "alloc":
        data = "x" * (event["mb"] << 20)
        return len(data)
    if op == "ticks":
        return TICKS
    if op == "threads":  # how many threads this environment can start
        stop = threading.Event()
        started = 0
        try:
            while started < 2000:
                threading.Thread(target=stop.wait, daemon=True).start()
                started += 1
        except RuntimeError:
            pass
        time.sleep(event.get("hold", 0))  # keep them alive while another environment counts
        stop.set()
        return started
    if op == "edge":
        import boto3
        from botocore.config import Config
        lam = boto3.client("lambda", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                           config=Config(retries={"total_max_attempts": 1}))
        return [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    return {"token": TOKEN}
'''


MODE = None  # of the current `server` fixture: "exec" or "zygote"; None for tests with their own daemon


def zygotes_running(server):
    import urllib.request
    text = urllib.request.urlopen(server.endpoint + "/metrics", timeout=5).read().decode()
    m = re.search(r"^lamina_zygotes_running (\d+)$", text, re.M)
    return int(m.group(1)) if m else 0


def start_zygote(server, lam):
    """Makes the daemon start its python3.11 zygote (the first cold start asks for it) and waits."""
    create_python_function(lam, "zygote-warmup", "def handler(e, c):\n    return 1\n")
    lam.invoke(FunctionName="zygote-warmup", Payload=b"{}")
    assert wait_for(lambda: zygotes_running(server) >= 1, timeout=30), "the zygote did not start"


@pytest.fixture(params=["exec", "zygote"])
def server(tmp_path, request):
    global MODE
    MODE = request.param
    s = LaminaServer(tmp_path / "data", extra_args=["--sandbox", "namespace", "--zygotes",
                                                    "on" if MODE == "zygote" else "off"]).start()
    if MODE == "zygote":
        start_zygote(s, s.client("lambda"))
    yield s
    s.stop()
    MODE = None


@pytest.fixture
def lam(server):
    return server.client("lambda")


def call(lam, name, **event):
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event))
    body = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp, body
    return body


def probe(lam, name="probe", **kw):
    create_python_function(lam, name, PROBE, Timeout=kw.pop("Timeout", 10), **kw)
    if MODE is not None:
        assert call(lam, name, op="born") == MODE
    return name


def cgroup_dir(cgroup_text, controller):
    """The host directory of this process's cgroup for `controller` (v1), or the v2 group."""
    for line in cgroup_text.splitlines():
        _, controllers, path = line.split(":", 2)
        names = controllers.split(",") if controllers else []
        if controller in names:
            for d in (controllers, controller):
                p = Path("/sys/fs/cgroup") / d / path.lstrip("/")
                if p.exists():
                    return p
        if not controllers and (Path("/sys/fs/cgroup") / "cgroup.controllers").exists():
            return Path("/sys/fs/cgroup") / path.lstrip("/")
    raise AssertionError(f"no {controller} cgroup in {cgroup_text!r}")


def instance_groups(server):
    """The names of this daemon's environment cgroups (running, idle or spare), over every hierarchy."""
    instance = "d" + hashlib.sha256(server.data_dir.encode()).hexdigest()[:16]
    paths = list(Path("/sys/fs/cgroup").glob(f"*/lamina/{instance}/env-*")) + \
        list(Path("/sys/fs/cgroup").glob(f"lamina/{instance}/env-*"))
    return sorted({p.name for p in paths})


def children(pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                stat = open(f"/proc/{p}/stat").read()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(p))
    return out


def daemon_children(pid):
    """The daemon's children but its zygotes (which live as long as the daemon)."""
    out = []
    for c in children(pid):
        try:
            if b"zygote.py" not in open(f"/proc/{c}/cmdline", "rb").read():
                out.append(c)
        except OSError:
            pass
    return out


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_for(cond, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def test_runs_unprivileged_without_capabilities(lam):
    me = call(lam, probe(lam), op="identity")
    assert me["uid"] != 0 and me["euid"] != 0 and me["gid"] != 0
    assert int(me["capeff"], 16) == 0
    assert me["nonewprivs"] == "1"
    assert me["task_root"] == "/var/task" and me["cwd"] == "/var/task"
    assert me["runtime_api"] == "127.0.0.1:9001"


def test_filesystem_view(lam, server):
    name = probe(lam)
    assert call(lam, name, op="read", path="/etc/shadow")["ok"] is False
    assert call(lam, name, op="read", path="/var/task/app.py")["ok"] is True
    assert call(lam, name, op="write", path="/var/task/app.py")["errno"] == "EROFS"
    assert call(lam, name, op="write", path="/var/task/new.txt")["errno"] == "EROFS"
    assert call(lam, name, op="write", path="/etc/hostname")["errno"] in ("EROFS", "EACCES")
    assert call(lam, name, op="write", path="/opt/x")["errno"] in ("EROFS", "EACCES")
    # The daemon's data dir (database, every function's code, logs): masked by an empty read-only
    # tmpfs, or (under /tmp, as here) simply absent from the private /tmp.
    listing = call(lam, name, op="listdir", path=server.data_dir)
    assert listing in ({"ok": True, "value": []}, {"ok": False, "errno": "ENOENT"})
    assert call(lam, name, op="read", path=server.data_dir + "/lamina.db")["errno"] == "ENOENT"
    assert call(lam, name, op="listdir", path="/root")["value"] == []


def test_tmp_is_private_writable_and_sized_by_ephemeral_storage(lam):
    a = probe(lam, "tmp-a")
    b = probe(lam, "tmp-b", EphemeralStorage={"Size": 1024})
    assert call(lam, a, op="write", path="/tmp/secret", data="mine")["ok"] is True
    assert call(lam, a, op="read", path="/tmp/secret")["value"] == "mine"  # warm: the same /tmp
    assert call(lam, b, op="read", path="/tmp/secret")["errno"] == "ENOENT"
    assert call(lam, a, op="tmp_size") == 512 << 20
    assert call(lam, b, op="tmp_size") == 1024 << 20


def test_sees_only_its_own_processes(lam):
    view = call(lam, probe(lam), op="pids")
    assert view["init"] == "lamina-init"
    assert 1 in view["pids"] and 2 in view["pids"]
    assert len(view["pids"]) <= 3  # init, the runtime, and at most a helper the runtime started


def test_own_network_namespace_hides_host_and_other_environments(lam, server):
    host = socket.socket()
    host.bind(("127.0.0.1", 0))
    host.listen()
    host_port = host.getsockname()[1]
    try:
        name = probe(lam)
        net = call(lam, name, op="net", port=host_port)
        edge_port = int(server.endpoint.rsplit(":", 1)[1])
        # Only the environment's own listeners: its Runtime API and lamina's edge.
        assert net["listening"] == sorted({9001, 9000 if edge_port == 9001 else edge_port})
        assert net["connect"] == {"ok": False, "errno": "ECONNREFUSED"}  # host loopback is not reachable
        # Another function's environment: the same address, but its own Runtime API (it works for
        # each of them, and neither sees the other's listener).
        other = probe(lam, "other")
        assert call(lam, other, op="net", port=host_port)["listening"] == net["listening"]
    finally:
        host.close()


def test_function_code_reaches_lamina_apis_through_aws_endpoint_url(lam):
    name = probe(lam)
    assert name in call(lam, name, op="edge")


def test_cgroup_limits_follow_memory_size(lam):
    small = probe(lam, "cpu-256", MemorySize=256)
    big = probe(lam, "cpu-1769", MemorySize=1769)
    ncpu = len(os.sched_getaffinity(0))
    for name, mb in ((small, 256), (big, 1769)):
        cg = call(lam, name, op="cgroup")
        if (Path("/sys/fs/cgroup") / "cgroup.controllers").exists():  # v2
            d = cgroup_dir(cg, "")
            assert (d / "memory.max").read_text().strip() == str(mb << 20)
            quota, period = (d / "cpu.max").read_text().split()
            assert int(period) == 100000
            assert int(quota) == min(100000 * mb // 1769, 100000 * ncpu)
            assert (d / "pids.max").read_text().strip() == "1024"
        else:
            mem = cgroup_dir(cg, "memory")
            assert (mem / "memory.limit_in_bytes").read_text().strip() == str(mb << 20)
            if (mem / "memory.memsw.limit_in_bytes").exists():  # no swap on top
                assert (mem / "memory.memsw.limit_in_bytes").read_text().strip() == str(mb << 20)
            cpu = cgroup_dir(cg, "cpu")
            assert (cpu / "cpu.cfs_period_us").read_text().strip() == "100000"
            assert int((cpu / "cpu.cfs_quota_us").read_text()) == min(100000 * mb // 1769, 100000 * ncpu)
            assert (cgroup_dir(cg, "pids") / "pids.max").read_text().strip() == "1024"


def test_processes_and_threads_are_capped_at_1024_per_environment(lam):
    a = probe(lam, "threads-a", MemorySize=512)
    b = probe(lam, "threads-b", MemorySize=512)
    counts = {}

    def count(name):
        counts[name] = call(lam, name, op="threads", hold=3)
    import threading
    workers = [threading.Thread(target=count, args=(n,)) for n in (a, b)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    # Init, the runtime's main thread and its tick thread count too. Both environments, running at
    # once as the same uid, get their own 1024: the limit is the cgroup's, not the uid's.
    assert 1000 <= counts[a] < 1024, counts
    assert counts[b] == counts[a], counts


def test_out_of_memory_fails_like_aws_and_the_next_invoke_succeeds(lam):
    name = probe(lam, "hungry", MemorySize=128)
    resp = lam.invoke(FunctionName=name, Payload=json.dumps({"op": "alloc", "mb": 400}), LogType="Tail")
    body = json.loads(resp["Payload"].read())
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.OutOfMemory"
    request_id = resp["ResponseMetadata"]["RequestId"]
    assert body["errorMessage"] == f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
    import base64
    log = base64.b64decode(resp["LogResult"]).decode()
    assert "Status: error\tError Type: Runtime.OutOfMemory" in log
    used = int(re.search(r"Max Memory Used: (\d+) MB", log).group(1))
    assert used >= 100  # the cgroup's peak, close to the 128 MB limit
    again = lam.invoke(FunctionName=name, Payload=json.dumps({"op": "identity"}), LogType="Tail")
    assert "FunctionError" not in again
    assert "Init Duration" in base64.b64decode(again["LogResult"]).decode()  # a fresh environment


def test_idle_environment_is_frozen(lam):
    name = probe(lam, "freezer")
    first = call(lam, name, op="ticks")
    cg = call(lam, name, op="cgroup")
    t0 = call(lam, name, op="ticks")
    time.sleep(1.0)  # frozen after 100 ms idle
    if (Path("/sys/fs/cgroup") / "cgroup.controllers").exists():
        events = (cgroup_dir(cg, "") / "cgroup.events").read_text()
        assert "frozen 1" in events
    else:
        assert (cgroup_dir(cg, "freezer") / "freezer.state").read_text().strip() == "FROZEN"
    t1 = call(lam, name, op="ticks")
    assert t0 >= first
    # The background thread ticks every 10 ms: ~100 ticks in that second if it kept running; it
    # ran only for the ~100 ms before the freeze.
    assert t1 - t0 < 50, (t0, t1)


def test_no_freeze_when_disabled(tmp_path):
    s = LaminaServer(tmp_path / "d", extra_args=["--sandbox", "namespace", "--freeze-after-ms", "0"]).start()
    try:
        lam = s.client()
        name = probe(lam, "thawed")
        t0 = call(lam, name, op="ticks")
        time.sleep(1.0)
        assert call(lam, name, op="ticks") - t0 > 50
    finally:
        s.stop()


SIGTERM_HANDLER = r'''
import signal, sys
def _on_term(signum, frame):
    print("[runtime] SIGTERM received, cleaning up", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, _on_term)
def handler(event, context):
    return "ok"
'''


def test_idle_expiry_sends_sigterm_first(tmp_path):
    # A generous grace: on a loaded machine the thawed runtime may need a while to run its handler.
    s = LaminaServer(tmp_path / "d", extra_args=["--sandbox", "namespace", "--keep-alive", "0.5",
                                                 "--spare-environments", "0", "--shutdown-grace-ms", "5000"]).start()
    try:
        lam = s.client()
        logs = s.client("logs")
        create_python_function(lam, "graceful", SIGTERM_HANDLER)
        assert json.loads(lam.invoke(FunctionName="graceful")["Payload"].read()) == "ok"

        def said_goodbye():
            events = logs.filter_log_events(logGroupName="/aws/lambda/graceful")["events"]
            return any("SIGTERM received" in e["message"] for e in events)
        assert wait_for(said_goodbye, 10)
        assert wait_for(lambda: instance_groups(s) == [], 10)
    finally:
        s.stop()


def test_a_runtime_ignoring_sigterm_is_killed_after_the_grace(tmp_path):
    s = LaminaServer(tmp_path / "d", extra_args=["--sandbox", "namespace", "--keep-alive", "0.3",
                                                 "--spare-environments", "0", "--shutdown-grace-ms", "300"]).start()
    try:
        lam = s.client()
        stubborn = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ndef handler(e, c):\n    return 'ok'\n"
        create_python_function(lam, "stubborn", stubborn)
        assert json.loads(lam.invoke(FunctionName="stubborn")["Payload"].read()) == "ok"
        assert len(children(s.proc.pid)) == 1
        assert wait_for(lambda: children(s.proc.pid) == [] and instance_groups(s) == [], 10)
    finally:
        s.stop()


@pytest.mark.parametrize("spares", [0, 2])
def test_no_leaks_after_create_invoke_delete_loop(tmp_path, spares):
    server = LaminaServer(tmp_path / "d", extra_args=["--sandbox", "namespace",
                                                      "--spare-environments", str(spares)]).start()
    try:
        lam = server.client()
        pid = server.proc.pid
        # Spares are children of the daemon with their own cgroup, waiting to become environments.
        settled = lambda: len(daemon_children(pid)) == spares and len(instance_groups(server)) == spares  # noqa: E731
        assert wait_for(settled, 10), (daemon_children(pid), instance_groups(server))

        def churn(round):
            for i in range(8):
                name = f"churn-{round}-{i}"
                create_python_function(lam, name, "def handler(e, c):\n    return 'ok'\n")
                assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "ok"
                lam.delete_function(FunctionName=name)
            # A crash and a timeout leave nothing behind either.
            create_python_function(lam, f"crash-{round}", "import os\ndef handler(e, c):\n    os._exit(3)\n")
            assert lam.invoke(FunctionName=f"crash-{round}")["FunctionError"] == "Unhandled"
            create_python_function(lam, f"slow-{round}", "import time\ndef handler(e, c):\n    time.sleep(5)\n",
                                   Timeout=1)
            assert lam.invoke(FunctionName=f"slow-{round}")["FunctionError"] == "Unhandled"
            lam.delete_function(FunctionName=f"crash-{round}")
            lam.delete_function(FunctionName=f"slow-{round}")
            assert wait_for(settled, 10), (daemon_children(pid), instance_groups(server))

        # The first round reaches the steady state (with spares: the python zygote running, and
        # spares carrying a waiting process of it); a second round must not add to it.
        churn(1)
        time.sleep(0.5)  # the last refill finishes
        baseline_fds = open_fds(pid)
        churn(2)
        # No descriptor leaks (sockets holding network namespaces, pidfds, pipes) either.
        assert wait_for(lambda: open_fds(pid) <= baseline_fds, 10), (open_fds(pid), baseline_fds)
    finally:
        server.stop()


def test_restart_reaps_what_a_killed_daemon_left(tmp_path):
    args = ["--sandbox", "namespace", "--spare-environments", "0"]
    s = LaminaServer(tmp_path / "d", extra_args=args).start()
    lam = s.client()
    probe(lam, "survivor")
    call(lam, "survivor", op="identity")
    assert len(instance_groups(s)) > 0
    s.kill9()
    left = instance_groups(s)
    assert left, "a killed daemon leaves its environment cgroups behind (this test needs that)"
    s2 = LaminaServer(tmp_path / "d", extra_args=args).start()
    try:
        assert instance_groups(s2) == []
        assert "reaped 1 environment(s)" in s2.log_path.read_text()
        call(s2.client(), "survivor", op="identity")  # and the function still runs
    finally:
        s2.stop()


def test_non_executable_bootstrap_is_an_invalid_entrypoint(lam):
    zipped = make_zip({"bootstrap": ("#!/bin/sh\necho hi\n", 0o700)})  # root-only: the sandbox user cannot run it
    lam.create_function(FunctionName="private", Runtime="provided.al2023", Role=ROLE, Handler="x",
                        Code={"ZipFile": zipped})
    resp = lam.invoke(FunctionName="private")
    body = json.loads(resp["Payload"].read())
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.InvalidEntrypoint"


def test_check_reports_the_isolation_in_use(tmp_path):
    import subprocess
    from conftest import BINARY
    out = subprocess.run([BINARY, "server", "--check", "--data-dir", str(tmp_path / "d")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "sandbox: namespace" in out.stdout
    assert re.search(r"cgroup v[12]", out.stdout)
    assert "full isolation available" in out.stdout


def test_process_sandbox_is_announced_loudly(tmp_path):
    s = LaminaServer(tmp_path / "d", extra_args=["--sandbox", "process"]).start()
    try:
        assert "WARNING" in s.log_path.read_text() and "--sandbox process" in s.log_path.read_text()
        lam = s.client()
        me = call(lam, probe(lam), op="identity")
        assert me["task_root"] != "/var/task"  # no mount namespace: the real code path
    finally:
        s.stop()


def test_a_non_root_daemon_isolates_with_user_namespaces(tmp_path):
    import shutil
    import subprocess
    import tempfile
    from conftest import BINARY
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    home = Path(tempfile.mkdtemp(prefix="lamina-nobody-", dir="/tmp"))  # pytest's tmp dirs are root-only
    try:
        binary = str(home / "lamina")  # the checkout may not be reachable for uid 65534
        shutil.copy(BINARY, binary)
        os.chown(home, 65534, 65534)
        drop = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        check = subprocess.run(drop + [binary, "server", "--check", "--data-dir", str(home / "d")],
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 1, check.stdout + check.stderr  # incomplete: no cgroups
        assert "sandbox: namespace" in check.stdout and "namespaces: user" in check.stdout
        assert "MISSING" in check.stdout and "not root" in check.stdout
        (home / "d").mkdir(exist_ok=True)
        os.chown(home / "d", 65534, 65534)
        s = LaminaServer(home / "d", extra_args=["--sandbox", "namespace"], binary=binary, prefix=drop).start()
        try:
            assert "not root" in s.log_path.read_text()
            lam = s.client()
            name = probe(lam)
            me = call(lam, name, op="identity")
            assert me["uid"] == 993 and int(me["capeff"], 16) == 0 and me["task_root"] == "/var/task"
            assert call(lam, name, op="read", path="/etc/shadow")["ok"] is False
            assert call(lam, name, op="write", path="/var/task/app.py")["errno"] == "EROFS"
            assert call(lam, name, op="pids")["init"] == "lamina-init"
            import base64
            log = base64.b64decode(lam.invoke(FunctionName=name, Payload=b'{"op":"ticks"}', LogType="Tail")["LogResult"])
            used = int(re.search(rb"Max Memory Used: (\d+) MB", log).group(1))
            assert used >= 5  # the runtime's own peak RSS (no cgroup without root)
            assert call(lam, name, op="listdir", path=str(home / "d")) in (
                {"ok": True, "value": []}, {"ok": False, "errno": "ENOENT"})  # masked, or under the private /tmp
        finally:
            s.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)
