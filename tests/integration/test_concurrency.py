"""Reserved concurrency and throttling (issue 4): Put/Get/DeleteFunctionConcurrency, the unreserved
minimum, 429s with AWS's Reason under parallel load — boto3 against the real binary."""
import json
import threading

import pytest
from botocore.exceptions import ClientError

from conftest import LaminaServer, create_python_function

SLEEPER = "import time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return 'done'\n"


def parallel_invokes(lam, name, n, sleep=1.5):
    """n invokes at once; returns (successes, [(code, reason, status), ...])."""
    ok, throttled, errors = [], [], []
    barrier = threading.Barrier(n)

    def one():
        barrier.wait()
        try:
            resp = lam.invoke(FunctionName=name, Payload=json.dumps({"sleep": sleep}))
            ok.append(json.loads(resp["Payload"].read()))
        except ClientError as e:
            throttled.append((e.response["Error"]["Code"], e.response.get("Reason"),
                              e.response["ResponseMetadata"]["HTTPStatusCode"]))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return ok, throttled


def test_put_get_delete_function_concurrency(lam):
    create_python_function(lam, "reserved", SLEEPER)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="reserved")
    assert lam.put_function_concurrency(FunctionName="reserved",
                                        ReservedConcurrentExecutions=7)["ReservedConcurrentExecutions"] == 7
    assert lam.get_function_concurrency(FunctionName="reserved")["ReservedConcurrentExecutions"] == 7
    assert lam.get_function(FunctionName="reserved")["Concurrency"] == {"ReservedConcurrentExecutions": 7}
    limits = lam.get_account_settings()["AccountLimit"]
    assert limits["UnreservedConcurrentExecutions"] == limits["ConcurrentExecutions"] - 7
    lam.delete_function_concurrency(FunctionName="reserved")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="reserved")
    assert "Concurrency" not in lam.get_function(FunctionName="reserved")
    limits = lam.get_account_settings()["AccountLimit"]
    assert limits["UnreservedConcurrentExecutions"] == limits["ConcurrentExecutions"]
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName="nope", ReservedConcurrentExecutions=1)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_unreserved_pool_never_drops_below_100(tmp_path):
    server = LaminaServer(tmp_path / "d", extra_args=["--account-concurrency", "150"]).start()
    try:
        lam = server.client()
        create_python_function(lam, "a", SLEEPER)
        create_python_function(lam, "b", SLEEPER)
        lam.put_function_concurrency(FunctionName="a", ReservedConcurrentExecutions=30)
        with pytest.raises(ClientError) as e:
            lam.put_function_concurrency(FunctionName="b", ReservedConcurrentExecutions=21)
        err = e.value.response["Error"]
        assert err["Code"] == "InvalidParameterValueException"
        assert err["Message"] == ("Specified ReservedConcurrentExecutions for function decreases account's "
                                  "UnreservedConcurrentExecution below its minimum value of [100].")
        lam.put_function_concurrency(FunctionName="b", ReservedConcurrentExecutions=20)
        assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100
        # Changing a function's own reservation counts only the others.
        lam.put_function_concurrency(FunctionName="a", ReservedConcurrentExecutions=30)
    finally:
        server.stop()


def test_zero_reservation_throttles_every_invoke(lam):
    create_python_function(lam, "off", SLEEPER)
    lam.put_function_concurrency(FunctionName="off", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="off")
    assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert e.value.response.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"
    lam.delete_function_concurrency(FunctionName="off")
    assert json.loads(lam.invoke(FunctionName="off")["Payload"].read()) == "done"


def test_reservation_caps_parallel_invokes(lam):
    create_python_function(lam, "capped", SLEEPER, Timeout=10)
    lam.put_function_concurrency(FunctionName="capped", ReservedConcurrentExecutions=2)
    ok, throttled = parallel_invokes(lam, "capped", 5)
    assert len(ok) == 2 and len(throttled) == 3
    assert set(throttled) == {("TooManyRequestsException", "ReservedFunctionConcurrentInvocationLimitExceeded", 429)}
    # The slots come back once those invocations end.
    ok, throttled = parallel_invokes(lam, "capped", 2, sleep=0)
    assert len(ok) == 2 and not throttled


def test_account_limit_throttles_unreserved_functions(tmp_path):
    server = LaminaServer(tmp_path / "d", extra_args=["--account-concurrency", "3"]).start()
    try:
        lam = server.client()
        create_python_function(lam, "busy", SLEEPER, Timeout=10)
        ok, throttled = parallel_invokes(lam, "busy", 5)
        assert len(ok) == 3 and len(throttled) == 2
        assert set(throttled) == {("TooManyRequestsException", "ConcurrentInvocationLimitExceeded", 429)}
    finally:
        server.stop()


def test_reservation_survives_a_restart(tmp_path):
    server = LaminaServer(tmp_path / "d").start()
    lam = server.client()
    create_python_function(lam, "kept", SLEEPER)
    lam.put_function_concurrency(FunctionName="kept", ReservedConcurrentExecutions=0)
    server.kill9()
    server = LaminaServer(tmp_path / "d").start()
    try:
        lam = server.client()
        assert lam.get_function_concurrency(FunctionName="kept")["ReservedConcurrentExecutions"] == 0
        with pytest.raises(ClientError) as e:
            lam.invoke(FunctionName="kept")
        assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
    finally:
        server.stop()


def metric(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name}{{{want}}} in:\n{text}")


def test_metrics_count_invocations_errors_throttles_and_cold_starts(lamina_server, lam):
    import urllib.request
    create_python_function(lam, "counted", "def handler(event, context):\n    if event.get('fail'):\n"
                                           "        raise ValueError('no')\n    return 'ok'\n")
    lam.publish_version(FunctionName="counted")
    for _ in range(3):
        lam.invoke(FunctionName="counted")
    lam.invoke(FunctionName="counted", Payload=json.dumps({"fail": True}))
    lam.invoke(FunctionName="counted", Qualifier="1")
    lam.put_function_concurrency(FunctionName="counted", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError):
        lam.invoke(FunctionName="counted")
    with urllib.request.urlopen(lamina_server.endpoint + "/metrics") as resp:
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = resp.read().decode()
    latest = {"function": "counted", "version": "$LATEST"}
    assert metric(text, "lamina_invocations_total", **latest) == 4
    assert metric(text, "lamina_errors_total", **latest) == 1
    assert metric(text, "lamina_throttles_total", **latest) == 1
    assert metric(text, "lamina_cold_starts_total", **latest) == 1
    assert metric(text, "lamina_init_duration_milliseconds_sum", **latest) > 0
    assert metric(text, "lamina_invocations_total", function="counted", version="1") == 1
    assert metric(text, "lamina_duration_milliseconds_count", **latest) == 4
    assert metric(text, "lamina_duration_milliseconds_bucket", **latest, le="+Inf") == 4
    assert metric(text, "lamina_concurrent_executions", function="counted") == 0
    assert metric(text, "lamina_account_concurrency_limit") == 1000


def test_scale_up_rate_limits_new_environments(tmp_path):
    server = LaminaServer(tmp_path / "d", extra_args=["--scale-up-rate", "2"]).start()
    try:
        lam = server.client()
        create_python_function(lam, "burst", SLEEPER, Timeout=10)
        ok, throttled = parallel_invokes(lam, "burst", 4)
        assert len(ok) == 2 and len(throttled) == 2
        assert set(throttled) == {("TooManyRequestsException", "FunctionInvocationRateLimitExceeded", 429)}
        # Warm environments are not new ones: they serve without touching the budget.
        ok, throttled = parallel_invokes(lam, "burst", 2, sleep=0)
        assert len(ok) == 2 and not throttled
    finally:
        server.stop()
