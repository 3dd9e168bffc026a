"""Asynchronous invocation (InvocationType=Event) against the real server with boto3: 202 then the
handler's log line, retries of a failing function, OnSuccess/OnFailure destinations receiving AWS's
invocation record, event age expiry, throttled events waiting instead of failing, the event invoke
configuration API with AWS's errors, and every acknowledged event running after kill -9."""
import json
import time
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import LaminaServer, create_python_function

HANDLER = """
import json, os, time
def handler(event, context):
    print("attempt " + str(event.get("marker")) + " " + context.aws_request_id)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise ValueError("boom " + str(event.get("marker")))
    return {"ok": event.get("marker")}
"""

RECORDER = """
import json
def handler(event, context):
    print("RECORD " + json.dumps(event))
    return None
"""


def wait_for(fn, timeout=20, interval=0.1):
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        time.sleep(interval)


def log_messages(logs, function, pattern):
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}", filterPattern=f'"{pattern}"')
    except ClientError as e:
        if e.response["Error"]["Code"] == "ResourceNotFoundException":
            return []
        raise
    return [e["message"].rstrip("\n") for e in events["events"]]


def attempts(logs, function, marker):
    return [m for m in log_messages(logs, function, marker) if m.startswith("attempt ")]


def records(logs, function):
    return [json.loads(m.split("RECORD ", 1)[1]) for m in log_messages(logs, function, "RECORD")]


def event(lam, function, payload, **kw):
    r = lam.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(payload).encode(), **kw)
    assert r["StatusCode"] == 202
    assert r["Payload"].read() == b""
    return r["ResponseMetadata"]["RequestId"]


@pytest.fixture
def fast_retries(tmp_path):
    server = LaminaServer(tmp_path / "data", extra_args=["--async-retry-delays", "0.2,0.4"]).start()
    yield server
    server.stop()


def test_event_is_accepted_then_runs_and_logs(lam, logs_client):
    create_python_function(lam, "async-echo", HANDLER)
    marker = uuid.uuid4().hex
    request_id = event(lam, "async-echo", {"marker": marker})
    lines = wait_for(lambda: attempts(logs_client, "async-echo", marker))
    assert lines == [f"attempt {marker} {request_id}"]  # the event runs under the request id returned
    starts = wait_for(lambda: log_messages(logs_client, "async-echo", f"START RequestId: {request_id}"))
    assert len(starts) == 1


def test_failing_function_is_retried_then_failure_destination_gets_the_record(fast_retries):
    lam, logs = fast_retries.client("lambda"), fast_retries.client("logs")
    create_python_function(lam, "async-fails", HANDLER)
    dest = create_python_function(lam, "async-on-failure", RECORDER)
    cfg = lam.put_function_event_invoke_config(
        FunctionName="async-fails", DestinationConfig={"OnFailure": {"Destination": dest["FunctionArn"]}})
    assert cfg["DestinationConfig"] == {"OnFailure": {"Destination": dest["FunctionArn"]}, "OnSuccess": {}}
    marker = uuid.uuid4().hex
    request_id = event(lam, "async-fails", {"marker": marker, "fail": True})
    record = wait_for(lambda: records(logs, "async-on-failure"))[0]
    # One try plus the default two retries, all under the same request id.
    assert attempts(logs, "async-fails", marker) == [f"attempt {marker} {request_id}"] * 3
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": request_id, "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:async-fails:$LATEST",
        "condition": "RetriesExhausted", "approximateInvokeCount": 3}
    assert record["requestPayload"] == {"marker": marker, "fail": True}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == f"boom {marker}"
    assert record["timestamp"].endswith("Z")


def test_configured_retries_are_honoured(fast_retries):
    lam, logs = fast_retries.client("lambda"), fast_retries.client("logs")
    create_python_function(lam, "async-no-retry", HANDLER)
    dest = create_python_function(lam, "async-no-retry-dlq", RECORDER)
    lam.put_function_event_invoke_config(FunctionName="async-no-retry", MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": dest["FunctionArn"]}})
    marker = uuid.uuid4().hex
    event(lam, "async-no-retry", {"marker": marker, "fail": True})
    record = wait_for(lambda: records(logs, "async-no-retry-dlq"))[0]
    assert record["requestContext"]["approximateInvokeCount"] == 1
    time.sleep(1)  # longer than both retry delays: no further attempt comes
    assert len(attempts(logs, "async-no-retry", marker)) == 1


def test_success_destination_gets_the_response(lam, logs_client):
    create_python_function(lam, "async-ok", HANDLER)
    dest = create_python_function(lam, "async-on-success", RECORDER)
    lam.put_function_event_invoke_config(FunctionName="async-ok",
                                         DestinationConfig={"OnSuccess": {"Destination": dest["FunctionArn"]}})
    marker = uuid.uuid4().hex
    request_id = event(lam, "async-ok", {"marker": marker})
    record = wait_for(lambda: records(logs_client, "async-on-success"))[0]
    assert record["requestContext"] == {
        "requestId": request_id, "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:async-ok:$LATEST",
        "condition": "Success", "approximateInvokeCount": 1}
    assert record["requestPayload"] == {"marker": marker}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"ok": marker}


def test_event_age_expiry_fails_without_waiting_for_a_late_retry(tmp_path):
    # The first retry would come 70 s after the event, past its 60 s maximum age: as AWS does, the
    # event goes to its failure destination at once, with condition EventAgeExceeded.
    server = LaminaServer(tmp_path / "data", extra_args=["--async-retry-delays", "0.3,70"]).start()
    try:
        lam, logs = server.client("lambda"), server.client("logs")
        create_python_function(lam, "async-aged", HANDLER)
        dest = create_python_function(lam, "async-aged-dlq", RECORDER)
        lam.put_function_event_invoke_config(FunctionName="async-aged", MaximumEventAgeInSeconds=60,
                                             DestinationConfig={"OnFailure": {"Destination": dest["FunctionArn"]}})
        marker = uuid.uuid4().hex
        started = time.time()
        event(lam, "async-aged", {"marker": marker, "fail": True})
        record = wait_for(lambda: records(logs, "async-aged-dlq"), timeout=30)[0]
        assert time.time() - started < 30
        # One retry fit in the 60 s (after 0.3 s); the second (70 s later) would not.
        assert record["requestContext"]["condition"] == "EventAgeExceeded"
        assert record["requestContext"]["approximateInvokeCount"] == 2
        assert record["responseContext"]["functionError"] == "Unhandled"
        assert len(attempts(logs, "async-aged", marker)) == 2
        metrics = urllib.request.urlopen(server.endpoint + "/metrics").read().decode()
        assert 'lamina_async_events_dropped_total{function="async-aged",reason="EventAgeExceeded"} 1' in metrics
    finally:
        server.stop()


def test_event_that_waits_out_its_maximum_age_behind_a_throttle_expires(lam, logs_client):
    # Takes a minute: 60 s is the smallest MaximumEventAgeInSeconds AWS allows.
    create_python_function(lam, "async-blocked", HANDLER, Timeout=70)
    dest = create_python_function(lam, "async-blocked-dlq", RECORDER)
    lam.put_function_concurrency(FunctionName="async-blocked", ReservedConcurrentExecutions=1)
    lam.put_function_event_invoke_config(FunctionName="async-blocked", MaximumEventAgeInSeconds=60,
                                         DestinationConfig={"OnFailure": {"Destination": dest["FunctionArn"]}})
    blocker, waiter = uuid.uuid4().hex, uuid.uuid4().hex
    event(lam, "async-blocked", {"marker": blocker, "sleep": 62})
    wait_for(lambda: attempts(logs_client, "async-blocked", blocker))
    started = time.time()
    request_id = event(lam, "async-blocked", {"marker": waiter})
    record = wait_for(lambda: records(logs_client, "async-blocked-dlq"), timeout=75, interval=0.5)[0]
    assert 59 <= time.time() - started < 70
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0  # it never got to run
    assert record["requestPayload"] == {"marker": waiter}
    assert attempts(logs_client, "async-blocked", waiter) == []


def test_throttled_events_wait_instead_of_failing(lam, logs_client, lamina_server):
    create_python_function(lam, "async-narrow", HANDLER, Timeout=10)
    lam.put_function_concurrency(FunctionName="async-narrow", ReservedConcurrentExecutions=1)
    markers = [uuid.uuid4().hex for _ in range(5)]
    for m in markers:
        event(lam, "async-narrow", {"marker": m, "sleep": 0.2})
    for m in markers:
        wait_for(lambda: attempts(logs_client, "async-narrow", m))
    # One environment at a time: never more than one ran at once, and each event ran exactly once.
    assert all(len(attempts(logs_client, "async-narrow", m)) == 1 for m in markers)
    metrics = wait_for(lambda: (lambda text: text if "lamina_async_queue_depth 0" in text else None)(
        urllib.request.urlopen(lamina_server.endpoint + "/metrics").read().decode()))
    assert 'lamina_async_events_received_total{function="async-narrow"} 5' in metrics


def test_reserved_concurrency_zero_sends_events_straight_to_failure(lam, logs_client):
    create_python_function(lam, "async-disabled", HANDLER)
    dest = create_python_function(lam, "async-disabled-dlq", RECORDER)
    lam.put_function_event_invoke_config(FunctionName="async-disabled",
                                         DestinationConfig={"OnFailure": {"Destination": dest["FunctionArn"]}})
    lam.put_function_concurrency(FunctionName="async-disabled", ReservedConcurrentExecutions=0)
    marker = uuid.uuid4().hex
    event(lam, "async-disabled", {"marker": marker})
    record = wait_for(lambda: records(logs_client, "async-disabled-dlq"))[0]
    assert record["requestPayload"] == {"marker": marker}
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert attempts(logs_client, "async-disabled", marker) == []


def test_payload_limit_is_one_megabyte(lam):
    create_python_function(lam, "async-big", HANDLER)
    body = b'{"pad":"' + b"x" * (1048576 - 10) + b'"}'
    assert len(body) == 1048576
    assert lam.invoke(FunctionName="async-big", InvocationType="Event", Payload=body)["StatusCode"] == 202
    too_big = b'{"pad":"' + b"x" * (1048576 - 9) + b'"}'
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="async-big", InvocationType="Event", Payload=too_big)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert e.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert e.value.response["Error"]["Message"] == \
        "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)"


def test_invoke_async_legacy_operation(lam, logs_client):
    create_python_function(lam, "async-legacy", HANDLER)
    marker = uuid.uuid4().hex
    r = lam.invoke_async(FunctionName="async-legacy", InvokeArgs=json.dumps({"marker": marker}).encode())
    assert r["Status"] == 202
    wait_for(lambda: attempts(logs_client, "async-legacy", marker))


def test_event_invoke_config_api(lam, lamina_server):
    raw = lamina_server.client("lambda", parameter_validation=False)  # lets out-of-range values reach the server
    create_python_function(lam, "eic", HANDLER)
    create_python_function(lam, "eic-other", HANDLER)
    other = "arn:aws:lambda:us-east-1:000000000000:function:eic-other"
    arn = "arn:aws:lambda:us-east-1:000000000000:function:eic"

    def err(call, **kw):
        with pytest.raises(ClientError) as e:
            call(**kw)
        return (e.value.response["ResponseMetadata"]["HTTPStatusCode"], e.value.response["Error"]["Code"],
                e.value.response["Error"]["Message"])

    assert err(lam.get_function_event_invoke_config, FunctionName="eic") == (
        404, "ResourceNotFoundException", f"The function {arn}:$LATEST doesn't have an EventInvokeConfig")
    r = lam.put_function_event_invoke_config(FunctionName="eic", MaximumRetryAttempts=0)
    assert r["FunctionArn"] == f"{arn}:$LATEST"
    assert r["MaximumRetryAttempts"] == 0 and "MaximumEventAgeInSeconds" not in r
    assert r["DestinationConfig"] == {"OnFailure": {}, "OnSuccess": {}}
    assert isinstance(r["LastModified"].timestamp(), float)
    # Put replaces the whole configuration; Update merges.
    r = lam.put_function_event_invoke_config(FunctionName="eic", MaximumEventAgeInSeconds=60)
    assert "MaximumRetryAttempts" not in r and r["MaximumEventAgeInSeconds"] == 60
    r = lam.update_function_event_invoke_config(FunctionName="eic", MaximumRetryAttempts=1,
                                                DestinationConfig={"OnSuccess": {"Destination": other}})
    assert (r["MaximumRetryAttempts"], r["MaximumEventAgeInSeconds"]) == (1, 60)
    assert r["DestinationConfig"] == {"OnFailure": {}, "OnSuccess": {"Destination": other}}
    got = lam.get_function_event_invoke_config(FunctionName="eic", Qualifier="$LATEST")
    assert got["MaximumRetryAttempts"] == 1 and got["DestinationConfig"]["OnSuccess"]["Destination"] == other

    version = lam.publish_version(FunctionName="eic")["Version"]
    lam.create_alias(FunctionName="eic", Name="live", FunctionVersion=version)
    assert err(lam.get_function_event_invoke_config, FunctionName="eic", Qualifier=version)[2] == \
        f"The function {arn}:{version} doesn't have an EventInvokeConfig"
    assert lam.put_function_event_invoke_config(FunctionName=f"eic:{version}", MaximumEventAgeInSeconds=120)[
        "FunctionArn"] == f"{arn}:{version}"
    assert lam.put_function_event_invoke_config(FunctionName=f"{arn}:live", MaximumRetryAttempts=2)[
        "FunctionArn"] == f"{arn}:live"
    listed = lam.list_function_event_invoke_configs(FunctionName="eic")["FunctionEventInvokeConfigs"]
    assert sorted(c["FunctionArn"] for c in listed) == [f"{arn}:$LATEST", f"{arn}:{version}", f"{arn}:live"]
    first = lam.list_function_event_invoke_configs(FunctionName="eic", MaxItems=1)
    rest = lam.list_function_event_invoke_configs(FunctionName="eic", Marker=first["NextMarker"])
    assert len(first["FunctionEventInvokeConfigs"]) == 1 and len(rest["FunctionEventInvokeConfigs"]) == 2

    # AWS's errors (recorded on AWS: LocalStack's test_lambda_api snapshots).
    assert err(lam.put_function_event_invoke_config, FunctionName="nope") == (
        400, "InvalidParameterValueException", "You must specify at least one of error handling or destination setting.")
    assert err(lam.put_function_event_invoke_config, FunctionName="nope", MaximumRetryAttempts=1) == (
        404, "ResourceNotFoundException", "The function doesn't exist.")
    assert err(lam.put_function_event_invoke_config, FunctionName="eic", Qualifier="nosuchalias",
               MaximumRetryAttempts=1) == (404, "ResourceNotFoundException", "The function doesn't exist.")
    assert err(lam.put_function_event_invoke_config, FunctionName="eic",
               DestinationConfig={"OnSuccess": {"Destination": arn}}) == (
        400, "InvalidParameterValueException", "You can't specify the function as a destination for itself.")
    missing = "arn:aws:lambda:us-east-1:000000000000:function:doesnotexist"
    assert err(lam.put_function_event_invoke_config, FunctionName="eic",
               DestinationConfig={"OnSuccess": {"Destination": missing}}) == (
        400, "InvalidParameterValueException", f"The destination ARN {missing} is invalid.")
    iam = arn.replace(":lambda:", ":iam:")
    assert err(lam.put_function_event_invoke_config, FunctionName="eic",
               DestinationConfig={"OnSuccess": {"Destination": iam}}) == (
        400, "InvalidParameterValueException",
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination={iam}), "
        "onFailure=null) is invalid.")
    code = err(lam.put_function_event_invoke_config, FunctionName="eic",
               DestinationConfig={"OnFailure": {"Destination": arn.replace(":lambda:", ":_-/!lambda:")}})
    assert code[:2] == (400, "ValidationException") and "'destinationConfig.onFailure.destination'" in code[2]
    assert err(raw.put_function_event_invoke_config, FunctionName="eic", MaximumRetryAttempts=3) == (
        400, "ValidationException", "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to "
        "satisfy constraint: Member must have value less than or equal to 2")
    assert err(raw.put_function_event_invoke_config, FunctionName="eic", MaximumEventAgeInSeconds=59) == (
        400, "ValidationException", "1 validation error detected: Value '59' at 'maximumEventAgeInSeconds' failed to "
        "satisfy constraint: Member must have value greater than or equal to 60")
    assert err(lam.put_function_event_invoke_config, FunctionName=f"eic:{version}", Qualifier="$LATEST",
               MaximumRetryAttempts=1) == (
        400, "InvalidParameterValueException",
        "The derived qualifier from the function name does not match the specified qualifier.")
    assert err(lam.update_function_event_invoke_config, FunctionName="eic-other", MaximumRetryAttempts=1) == (
        404, "ResourceNotFoundException", f"The function {other}:$LATEST doesn't have an EventInvokeConfig")
    assert err(lam.list_function_event_invoke_configs, FunctionName="nope") == (
        404, "ResourceNotFoundException", "The function doesn't exist.")

    # Deleting the alias or version takes its configuration along; Delete removes one.
    lam.delete_alias(FunctionName="eic", Name="live")
    lam.delete_function_event_invoke_config(FunctionName="eic")
    listed = lam.list_function_event_invoke_configs(FunctionName="eic")["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"{arn}:{version}"]
    assert err(lam.delete_function_event_invoke_config, FunctionName="eic")[0] == 404


def test_config_survives_restart(tmp_path):
    server = LaminaServer(tmp_path / "data").start()
    try:
        lam = server.client("lambda")
        create_python_function(lam, "eic-durable", HANDLER)
        lam.put_function_event_invoke_config(FunctionName="eic-durable", MaximumRetryAttempts=1,
                                             MaximumEventAgeInSeconds=300)
        server.kill9()
        server.start()
        got = server.client("lambda").get_function_event_invoke_config(FunctionName="eic-durable")
        assert (got["MaximumRetryAttempts"], got["MaximumEventAgeInSeconds"]) == (1, 300)
    finally:
        server.stop()


def test_every_acknowledged_event_runs_after_kill9(tmp_path):
    server = LaminaServer(tmp_path / "data").start()
    try:
        lam = server.client("lambda")
        create_python_function(lam, "async-slow", HANDLER, Timeout=10)
        lam.put_function_concurrency(FunctionName="async-slow", ReservedConcurrentExecutions=2)
        markers = [uuid.uuid4().hex for _ in range(30)]
        for m in markers:
            event(lam, "async-slow", {"marker": m, "sleep": 0.25})
        time.sleep(1)  # some have run, two are running, most are queued
        server.kill9()
        server.start()
        logs = server.client("logs")

        def missing():
            return [m for m in markers if not attempts(logs, "async-slow", m)]
        wait_for(lambda: not missing(), timeout=60, interval=0.5)
        # Only an event whose run the crash cut can have run twice.
        repeated = [m for m in markers if len(attempts(logs, "async-slow", m)) > 1]
        assert len(repeated) <= 2, repeated
        wait_for(lambda: "lamina_async_queue_depth 0" in
                 urllib.request.urlopen(server.endpoint + "/metrics").read().decode())
    finally:
        server.stop()
