"""Function logs through the CloudWatch Logs API (boto3 and `aws logs tail`), and their durability."""
import subprocess
import threading
import time

from conftest import LaminaServer, create_bash_function


def wait_for(fn, timeout=10):
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value or time.time() > deadline:
            return value
        time.sleep(0.1)


def test_logs_via_boto3(lam, logs_client):
    create_bash_function(lam, "logged")
    request_id = lam.invoke(FunctionName="logged", Payload=b'{"n":1}')["ResponseMetadata"]["RequestId"]
    streams = wait_for(lambda: logs_client.describe_log_streams(
        logGroupName="/aws/lambda/logged", orderBy="LastEventTime", descending=True)["logStreams"])
    assert streams and streams[0]["logStreamName"].count("/[$LATEST]") == 1
    events = wait_for(lambda: [e["message"] for e in logs_client.get_log_events(
        logGroupName="/aws/lambda/logged", logStreamName=streams[0]["logStreamName"], startFromHead=True)["events"]
        if "REPORT" in e["message"]])
    assert events and request_id in events[0]
    filtered = logs_client.filter_log_events(logGroupName="/aws/lambda/logged", filterPattern=f'"{request_id}"')
    messages = [e["message"] for e in filtered["events"]]
    assert any(m.startswith("START RequestId: " + request_id) for m in messages)
    assert any(m.startswith("END RequestId: " + request_id) for m in messages)
    assert any("init: global code ran in logged" == m for m in
               [e["message"] for e in logs_client.filter_log_events(logGroupName="/aws/lambda/logged")["events"]])
    groups = logs_client.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    assert "/aws/lambda/logged" in [g["logGroupName"] for g in groups]


def test_aws_logs_tail(lamina_server, lam):
    create_bash_function(lam, "tailed")
    request_id = lam.invoke(FunctionName="tailed")["ResponseMetadata"]["RequestId"]
    def tail():
        p = subprocess.run(["/usr/bin/aws", "--endpoint-url", lamina_server.endpoint, "logs", "tail",
                            "/aws/lambda/tailed", "--since", "10m"], env=lamina_server.env,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout if f"REPORT RequestId: {request_id}" in p.stdout else ""
    assert wait_for(tail)


def test_aws_logs_tail_follow_sees_new_invocations(lamina_server, lam):
    create_bash_function(lam, "followed")
    lam.invoke(FunctionName="followed")  # as on AWS, the log group appears with the first run
    proc = subprocess.Popen(["/usr/bin/aws", "--endpoint-url", lamina_server.endpoint, "logs", "tail",
                             "/aws/lambda/followed", "--follow", "--since", "1m"],
                            env={**lamina_server.env, "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    reader = threading.Thread(target=lambda: [lines.append(l) for l in proc.stdout], daemon=True)
    reader.start()
    try:
        time.sleep(1)
        request_id = lam.invoke(FunctionName="followed")["ResponseMetadata"]["RequestId"]
        assert wait_for(lambda: any(f"REPORT RequestId: {request_id}" in l for l in lines), timeout=20)
    finally:
        proc.kill()
        proc.wait()


def test_logs_survive_restart(tmp_path):
    server = LaminaServer(tmp_path / "data").start()
    lam = server.client()
    create_bash_function(lam, "persist")
    request_id = lam.invoke(FunctionName="persist")["ResponseMetadata"]["RequestId"]
    server.stop()
    server = LaminaServer(tmp_path / "data").start()
    try:
        logs = server.client("logs")
        events = logs.filter_log_events(logGroupName="/aws/lambda/persist")["events"]
        assert any(e["message"].startswith("REPORT RequestId: " + request_id) for e in events)
    finally:
        server.stop()
