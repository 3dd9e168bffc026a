"""Keep-alive policies and the memory budget (issue 4): the adaptive per-function keep-alive learns
a function's idle gaps; a memory budget stops idle environments to make room — boto3 against the
real binary."""
import base64
import time

from conftest import LaminaServer, create_python_function

NOOP = "def handler(event, context):\n    return 'ok'\n"


def cold(lam, name):
    resp = lam.invoke(FunctionName=name, LogType="Tail")
    return "Init Duration" in base64.b64decode(resp["LogResult"]).decode()


def test_adaptive_keep_alive_learns_a_functions_rhythm(tmp_path):
    # Invoked every ~0.5 s, while the fixed keep-alive is 0.3 s: every call is a cold start until
    # the histogram (0.1 s bins) holds 10 gaps; then the window is ~0.66 s and calls are warm.
    server = LaminaServer(tmp_path / "d", extra_args=["--keep-alive", "0.3", "--keep-alive-policy", "adaptive",
                                                      "--keep-alive-bin", "0.1"]).start()
    try:
        lam = server.client()
        create_python_function(lam, "rhythm", NOOP)
        starts = []
        for _ in range(15):
            starts.append(cold(lam, "rhythm"))
            time.sleep(0.5)
        assert all(starts[1:6]), starts  # the fixed 0.3 s keep-alive expires between calls
        assert not any(starts[-3:]), starts  # learned: kept warm across the gap
    finally:
        server.stop()


def test_fixed_keep_alive_misses_the_same_rhythm(tmp_path):
    server = LaminaServer(tmp_path / "d", extra_args=["--keep-alive", "0.3"]).start()
    try:
        lam = server.client()
        create_python_function(lam, "rhythm", NOOP)
        starts = []
        for _ in range(13):
            starts.append(cold(lam, "rhythm"))
            time.sleep(0.5)
        assert all(starts), starts
    finally:
        server.stop()


def test_memory_budget_stops_idle_environments_to_make_room(tmp_path):
    server = LaminaServer(tmp_path / "d", extra_args=["--memory-budget", "300"]).start()
    try:
        lam = server.client()
        create_python_function(lam, "big", NOOP, MemorySize=256)
        create_python_function(lam, "small", NOOP, MemorySize=128)
        assert cold(lam, "big")
        assert not cold(lam, "big")  # warm while the budget allows
        assert cold(lam, "small")    # 256 + 128 > 300: big's idle environment made room
        assert cold(lam, "big")      # ... so big starts cold again (and small's made room for it)
        assert cold(lam, "small")
    finally:
        server.stop()


def test_without_a_budget_both_stay_warm(lam):
    create_python_function(lam, "big", NOOP, MemorySize=256)
    create_python_function(lam, "small", NOOP, MemorySize=128)
    assert cold(lam, "big") and cold(lam, "small")
    assert not cold(lam, "big") and not cold(lam, "small")


def test_adaptive_policy_unloads_and_prewarms_for_long_gaps(tmp_path):
    """A call every ~3 s, 0.5 s bins: once learned, the environment is unloaded right after a call and
    a fresh one is pre-warmed (at 0.9 x 3 s - 2 s lead = 0.7 s) before the next call, which is warm."""
    import os

    def environments(daemon):  # the daemon's children are the environments' inits (no spares here)
        n = 0
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    n += int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1]) == daemon
                except OSError:
                    pass
        return n

    server = LaminaServer(tmp_path / "d", extra_args=["--keep-alive", "1", "--keep-alive-policy", "adaptive",
                                                      "--keep-alive-bin", "0.5", "--spare-environments", "0"]).start()
    try:
        lam = server.client()
        create_python_function(lam, "nightly", NOOP)
        seen = []
        for _ in range(14):
            was_cold = cold(lam, "nightly")
            time.sleep(0.4)
            right_after = environments(server.proc.pid)
            time.sleep(1.2)
            before_next = environments(server.proc.pid)
            time.sleep(1.4)
            seen.append((was_cold, right_after, before_next))
        assert all(s[0] for s in seen[:5]), seen  # the fixed 1 s keep-alive misses a 3 s gap
        assert seen[-2:] == [(False, 0, 1)] * 2, seen  # learned: unloaded, pre-warmed, warm
    finally:
        server.stop()
