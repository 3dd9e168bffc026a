"""Zygote cold starts (issue 6): Python runtime processes forked from a pre-started interpreter
must be indistinguishable, to the function, from exec'd ones, and must not share what they should
not. The isolation guarantees are tested for zygote-born environments in test_sandbox.py (every
test there runs in both modes); this file compares the two modes directly and covers what only a
zygote can get wrong."""
import hashlib
import json
import os
import signal
import time

import pytest

from conftest import LaminaServer, create_python_function
from test_sandbox import SIGTERM_HANDLER, start_zygote, wait_for, zygotes_running

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="zygotes need the namespace sandbox (a root daemon)")

REPORT = r'''
import os, random, re, resource, signal, sys, time, uuid
import __main__

def handler(event, context):
    if event.get("op") == "exit":
        os._exit(event["code"])
    if event.get("op") == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if event.get("op") == "scan":  # every needle-shaped string anywhere in our memory
        pattern = re.compile(rb"lamina-needle-[0-9a-f]{24}")
        found = set()
        with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
            for line in maps:
                addr, perms = line.split()[:2]
                if not perms.startswith("r"):
                    continue
                lo, hi = (int(x, 16) for x in addr.split("-"))
                try:
                    mem.seek(lo)
                    found.update(m.decode() for m in pattern.findall(mem.read(hi - lo)))
                except (OSError, ValueError, OverflowError):
                    pass
        return sorted(found)
    status = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
    env = dict(os.environ)
    for k in ("AWS_LAMBDA_LOG_STREAM_NAME", "_X_AMZN_TRACE_ID", "AWS_LAMBDA_RUNTIME_API"):
        env.pop(k, None)
    return {
        "born": "zygote" if b"zygote.py" in open("/proc/self/cmdline", "rb").read() else "exec",
        "env": env,
        "argv": sys.argv,
        "path": sys.path,
        "flags": [sys.flags.optimize, sys.flags.dont_write_bytecode, sys.flags.isolated, sys.flags.hash_randomization,
                  sys.flags.utf8_mode],
        "main": __main__.__file__,
        "cwd": os.getcwd(),
        "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups()],
        "caps": [status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")],
        "nnp": status["NoNewPrivs"].strip(),
        "own_proc_files": [os.stat(f"/proc/self/{f}").st_uid for f in ("mem", "environ", "fd")],
        "seccomp": status["Seccomp"].strip(),
        "nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
        "fds": sorted(os.listdir("/proc/self/fd")),
        "umask": os.umask(0o022),
        "signals": {s.name: str(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE,
                                                                 signal.SIGCHLD, signal.SIGHUP)},
        "blocked": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
        "tz": time.tzname,
        "encoding": [sys.getfilesystemencoding(), sys.stdout.encoding, sys.stdout.line_buffering],
        "pid": os.getpid(),
        "random": random.random(),
        "uuid": str(uuid.uuid4()),
    }
'''


@pytest.fixture
def servers(tmp_path):
    plain = LaminaServer(tmp_path / "exec", extra_args=["--sandbox", "namespace", "--zygotes", "off"]).start()
    zyg = LaminaServer(tmp_path / "zygote", extra_args=["--sandbox", "namespace", "--zygotes", "on"]).start()
    try:
        start_zygote(zyg, zyg.client("lambda"))
        yield plain, zyg
    finally:
        plain.stop()
        zyg.stop()


def report(lam, name, **event):
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event))
    body = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp, body
    return body


def cold(lam, name):
    """Forces the next invoke onto a new environment."""
    lam.update_function_configuration(FunctionName=name, Description=str(time.time()))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)


def test_a_zygote_born_process_sees_what_an_execd_one_sees(servers):
    plain, zyg = servers
    seen = {}
    for mode, server in (("exec", plain), ("zygote", zyg)):
        lam = server.client("lambda")
        create_python_function(lam, "same", REPORT, Environment={"Variables": {"GREETING": "hello"}})
        seen[mode] = report(lam, "same")
        assert seen[mode]["born"] == mode
    for key in ("born", "pid", "random", "uuid"):
        seen["exec"].pop(key), seen["zygote"].pop(key)
    # The daemons' own endpoints differ (each listens on its own port); nothing else may.
    for s in seen.values():
        s["env"].pop("AWS_ENDPOINT_URL")
    assert seen["zygote"] == seen["exec"]
    assert seen["zygote"]["env"]["GREETING"] == "hello"


def test_zygote_born_environments_do_not_share_random_state(servers):
    _, zyg = servers
    lam = zyg.client("lambda")
    create_python_function(lam, "dice", REPORT)
    first = report(lam, "dice")
    cold(lam, "dice")
    second = report(lam, "dice")
    assert first["born"] == second["born"] == "zygote"
    assert first["random"] != second["random"] and first["uuid"] != second["uuid"]


def test_no_other_functions_variables_in_a_zygote_born_process(servers):
    _, zyg = servers
    lam = zyg.client("lambda")
    needle = "lamina-needle-" + os.urandom(12).hex()  # the probe never holds it: it matches a pattern
    create_python_function(lam, "holder", REPORT, Environment={"Variables": {"NEEDLE": needle}})
    assert report(lam, "holder")["born"] == "zygote"
    create_python_function(lam, "snoop", REPORT)
    assert report(lam, "snoop")["born"] == "zygote"
    # The scan itself works: the holder finds the needle in its own memory.
    assert needle in report(lam, "holder", op="scan")
    assert needle not in report(lam, "snoop", op="scan")


def test_variables_read_at_start_get_a_fresh_interpreter(servers):
    _, zyg = servers
    lam = zyg.client("lambda")
    create_python_function(lam, "seeded", REPORT, Environment={"Variables": {"PYTHONHASHSEED": "0"}})
    seen = report(lam, "seeded")
    assert seen["born"] == "exec"
    assert seen["flags"][3] == 0  # hash randomization off, as PYTHONHASHSEED=0 asks


def test_exit_status_and_signals_of_a_zygote_born_process_reach_the_caller(servers):
    _, zyg = servers
    lam = zyg.client("lambda")
    create_python_function(lam, "dies", REPORT)
    assert report(lam, "dies")["born"] == "zygote"
    resp = lam.invoke(FunctionName="dies", Payload=json.dumps({"op": "exit", "code": 3}))
    body = json.loads(resp["Payload"].read())
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in body["errorMessage"]
    assert report(lam, "dies")["born"] == "zygote"  # the next invoke gets a new environment
    resp = lam.invoke(FunctionName="dies", Payload=json.dumps({"op": "kill"}))
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "Runtime.ExitError"
    assert "signal: killed" in body["errorMessage"]


# test_sandbox's handler that logs SIGTERM, answering with its command line instead.
GRACEFUL = SIGTERM_HANDLER + """
def handler(event, context):
    return open("/proc/self/cmdline", "rb").read().decode().split("\\0")
"""


def test_a_zygote_born_runtime_gets_sigterm_on_idle_expiry(tmp_path):
    s = LaminaServer(tmp_path / "d", extra_args=["--sandbox", "namespace", "--keep-alive", "1",
                                                 "--shutdown-grace-ms", "5000"]).start()
    try:
        lam = s.client()
        logs = s.client("logs")
        start_zygote(s, lam)
        create_python_function(lam, "graceful", GRACEFUL)
        argv = json.loads(lam.invoke(FunctionName="graceful")["Payload"].read())
        assert any(a.endswith("zygote.py") for a in argv)

        def said_goodbye():
            events = logs.filter_log_events(logGroupName="/aws/lambda/graceful")["events"]
            return any("SIGTERM received" in e["message"] for e in events)
        assert wait_for(said_goodbye, 15)
    finally:
        s.stop()


def test_a_killed_zygote_is_replaced_and_cold_starts_keep_working(tmp_path):
    s = LaminaServer(tmp_path / "d", extra_args=["--sandbox", "namespace"]).start()
    try:
        lam = s.client()
        start_zygote(s, lam)
        zygotes = [int(p) for p in os.listdir("/proc") if p.isdigit() and _is_zygote(int(p), s.proc.pid)]
        assert len(zygotes) == 1
        os.kill(zygotes[0], signal.SIGKILL)
        create_python_function(lam, "after", REPORT)
        assert report(lam, "after")["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "after"  # however it was born
        assert wait_for(lambda: zygotes_running(s) >= 1, 30)
        cold(lam, "after")
        assert report(lam, "after")["born"] == "zygote"
        assert "zygote exited; starting a new one" in s.log_path.read_text() or \
            "zygote died" in s.log_path.read_text()
    finally:
        s.stop()


def _is_zygote(pid, daemon):
    try:
        stat = open(f"/proc/{pid}/stat").read()
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        return ppid == daemon and b"zygote.py" in open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return False


NODE_REPORT = r'''
import fs from "node:fs";
import crypto from "node:crypto";
import http from "node:http";

export const handler = async (event) => {
  const status = Object.fromEntries(fs.readFileSync("/proc/self/status", "utf8").split("\n")
    .filter((l) => l.includes(":\t")).map((l) => l.split(":\t")));
  const env = { ...process.env };
  for (const k of ["AWS_LAMBDA_LOG_STREAM_NAME", "_X_AMZN_TRACE_ID", "AWS_ENDPOINT_URL"]) delete env[k];
  // The event loop, the thread pool (fs.promises) and sockets all work after the fork.
  const local = await new Promise((resolve) => {
    const server = http.createServer((q, s) => s.end("pong")).listen(0, "127.0.0.1", () => {
      http.get({ port: server.address().port, host: "127.0.0.1" }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => server.close(() => resolve(body)));
      });
    });
  });
  await new Promise((r) => setTimeout(r, 5));
  return {
    born: fs.readFileSync("/proc/self/cmdline", "utf8").includes("zygote.cjs") ? "zygote" : "exec",
    env,
    argv: process.argv,
    cwd: process.cwd(),
    ids: [process.getuid(), process.geteuid(), process.getgid(), process.getegid(), process.getgroups()],
    caps: ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"].map((k) => status[k].trim()),
    nnp: status.NoNewPrivs.trim(),
    seccomp: status.Seccomp.trim(),
    own: ["mem", "environ", "fd"].map((f) => fs.statSync("/proc/self/" + f).uid),
    umask: process.umask(),
    pid: [process.pid, Number(fs.readlinkSync("/proc/self"))],
    tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
    gc: [typeof globalThis.gc, typeof (await import("node:vm")).runInNewContext("typeof gc")],
    file: (await fs.promises.readFile("/var/task/index.mjs", "utf8")).length,
    local,
    random: Math.random(),
    bytes: crypto.randomBytes(8).toString("hex"),
  };
};
'''


def create_node_report(lam, name):
    import subprocess
    major = subprocess.run(["node", "-p", "process.versions.node.split('.')[0]"], capture_output=True,
                           text=True).stdout.strip()
    from conftest import ROLE, make_zip
    lam.create_function(FunctionName=name, Runtime=f"nodejs{major}.x", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": make_zip({"index.mjs": NODE_REPORT})}, Timeout=10)


def until_zygote_born(lam, name, timeout=30):
    """Cold-starts `name` until it is zygote-born (the zygote of its runtime starts on first use)."""
    deadline = time.time() + timeout
    while True:
        seen = report(lam, name)
        if seen["born"] == "zygote" or time.time() > deadline:
            return seen
        time.sleep(0.2)
        cold(lam, name)


@pytest.mark.skipif(not os.path.exists("/usr/include/node/node_api.h"), reason="lamina built without node headers")
def test_a_zygote_born_node_process_sees_what_an_execd_one_sees(servers):
    plain, zyg = servers
    seen = {}
    for mode, server in (("exec", plain), ("zygote", zyg)):
        lam = server.client("lambda")
        create_node_report(lam, "same-node")
        seen[mode] = until_zygote_born(lam, "same-node") if mode == "zygote" else report(lam, "same-node")
        assert seen[mode]["born"] == mode
        assert seen[mode]["local"] == "pong"
        assert seen[mode]["pid"][0] == seen[mode]["pid"][1]
    for key in ("born", "random", "bytes"):
        seen["exec"].pop(key), seen["zygote"].pop(key)
    assert seen["zygote"] == seen["exec"]


@pytest.mark.skipif(not os.path.exists("/usr/include/node/node_api.h"), reason="lamina built without node headers")
def test_zygote_born_node_environments_do_not_share_random_state(servers):
    _, zyg = servers
    lam = zyg.client("lambda")
    create_node_report(lam, "node-dice")
    first = until_zygote_born(lam, "node-dice")
    cold(lam, "node-dice")
    second = report(lam, "node-dice")
    assert first["born"] == second["born"] == "zygote"
    assert first["random"] != second["random"]
    assert first["bytes"] != second["bytes"]


@pytest.mark.skipif(not os.path.exists("/usr/include/node/node_api.h"), reason="lamina built without node headers")
def test_node_exit_codes_are_alike_in_both_modes(servers):
    from conftest import ROLE, make_zip
    import subprocess
    major = subprocess.run(["node", "-p", "process.versions.node.split('.')[0]"], capture_output=True,
                           text=True).stdout.strip()
    seen = {}
    for mode, server in (("exec", servers[0]), ("zygote", servers[1])):
        lam = server.client("lambda")
        create_node_report(lam, "warm-node")
        if mode == "zygote":
            assert until_zygote_born(lam, "warm-node")["born"] == "zygote"
        lam.create_function(FunctionName="stuck", Runtime=f"nodejs{major}.x", Role=ROLE, Handler="index.handler",
                            Code={"ZipFile": make_zip({"index.mjs": "await new Promise(() => {});\n"
                                                                    "export const handler = async () => 1;\n"})})
        lam.create_function(FunctionName="quits", Runtime=f"nodejs{major}.x", Role=ROLE, Handler="index.handler",
                            Code={"ZipFile": make_zip({"index.mjs": "export const handler = async () => "
                                                                    "process.exit(3);\n"})})
        seen[mode] = []
        for name in ("stuck", "quits"):
            resp = lam.invoke(FunctionName=name)
            body = json.loads(resp["Payload"].read())
            seen[mode].append((resp.get("FunctionError"), body["errorType"], body["errorMessage"].split("Error: ", 1)[1]))
    assert seen["zygote"] == seen["exec"] == [
        ("Unhandled", "Runtime.ExitError", "Runtime exited with error: exit status 13"),
        ("Unhandled", "Runtime.ExitError", "Runtime exited with error: exit status 3")]


def test_cold_starts_survive_killed_waiting_processes(tmp_path):
    s = LaminaServer(tmp_path / "d", extra_args=["--sandbox", "namespace"]).start()
    try:
        lam = s.client()
        start_zygote(s, lam)
        create_python_function(lam, "victim", REPORT)
        report(lam, "victim")
        for _ in range(2):  # spares built from now on carry a waiting process
            cold(lam, "victim")
            report(lam, "victim")

        # This daemon's cgroups only: other lamina instances on the machine must not be touched.
        instance = "lamina/d" + hashlib.sha256(s.data_dir.encode()).hexdigest()[:16] + "/"

        def waiting():  # this daemon's zygote-born processes (uid 993): the function's and the spares'
            found = []
            for p in os.listdir("/proc"):
                try:
                    if p.isdigit() and os.stat(f"/proc/{p}").st_uid == 993 and \
                            b"zygote.py" in open(f"/proc/{p}/cmdline", "rb").read() and \
                            instance in open(f"/proc/{p}/cgroup").read():
                        found.append(int(p))
                except OSError:
                    pass
            return found
        # The function's own and a spare's (spares built before the zygote ran have none, and
        # take() prefers spares that have one, so an old one may stay).
        assert wait_for(lambda: len(waiting()) >= 2, 10)
        time.sleep(0.5)  # the spares' processes have said they are ready
        for pid in waiting():
            os.kill(pid, signal.SIGKILL)
        cold(lam, "victim")
        assert report(lam, "victim")["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "victim"
        assert "exec'ing instead" in s.log_path.read_text()  # it took a spare whose process was gone
    finally:
        s.stop()
