"""Invoke end to end with boto3 and the AWS CLI: results, function errors, timeouts, crashes, init
failures, oversize payloads, log tails, warm reuse and concurrency."""
import base64
import json
import subprocess
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import create_bash_function, create_python_function, make_zip


def tail(resp):
    return base64.b64decode(resp["LogResult"]).decode()


def test_echo_with_log_tail(lam):
    create_bash_function(lam, "echo")
    resp = lam.invoke(FunctionName="echo", Payload=b'{"hello":"world"}', LogType="Tail")
    assert resp["StatusCode"] == 200
    assert resp["Payload"].read() == b'{"hello":"world"}'
    assert "FunctionError" not in resp
    assert resp["ExecutedVersion"] == "$LATEST"
    log = tail(resp)
    request_id = resp["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id} Version: $LATEST" in log
    assert f"handling {request_id}" in log  # the function saw the same request id
    assert f"END RequestId: {request_id}" in log
    report = [l for l in log.splitlines() if l.startswith("REPORT")][0]
    fields = report.split("\t")
    assert fields[0] == f"REPORT RequestId: {request_id}"
    assert fields[1].startswith("Duration: ") and fields[1].endswith(" ms")
    assert fields[2].startswith("Billed Duration: ")
    assert fields[3] == "Memory Size: 128 MB"
    assert fields[4].startswith("Max Memory Used: ")
    assert any(f.startswith("Init Duration: ") for f in fields)  # cold start


def test_warm_reuse_keeps_global_state(lam):
    # An environment's identity: a token drawn once at init (pids repeat across pid namespaces).
    source = "import uuid\ncount = 0\ntoken = str(uuid.uuid4())\n" \
             "def handler(event, context):\n    global count\n    count += 1\n    return {'count': count, 'pid': token}\n"
    create_python_function(lam, "counter", source)
    results = [json.loads(lam.invoke(FunctionName="counter")["Payload"].read()) for _ in range(3)]
    assert [r["count"] for r in results] == [1, 2, 3]
    assert len({r["pid"] for r in results}) == 1
    warm = lam.invoke(FunctionName="counter", LogType="Tail")
    assert "Init Duration" not in tail(warm)


def test_concurrent_invokes_start_more_environments(lam):
    source = "import time, uuid\ntoken = str(uuid.uuid4())\n" \
             "def handler(event, context):\n    time.sleep(1)\n    return token\n"
    create_python_function(lam, "parallel", source, Timeout=10)
    pids, errors = [], []

    def call():
        try:
            pids.append(json.loads(lam.invoke(FunctionName="parallel")["Payload"].read()))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(pids)) == 4


def test_function_error(lam):
    create_bash_function(lam, "failing")
    resp = lam.invoke(FunctionName="failing", Payload=b'{"action":"fail"}')
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read()) == {"errorMessage": "it failed", "errorType": "CustomError"}


def test_timeout_replaces_environment(lam):
    create_bash_function(lam, "slow", Timeout=1)
    t0 = time.time()
    resp = lam.invoke(FunctionName="slow", Payload=b'{"action":"sleep"}', LogType="Tail")
    assert time.time() - t0 < 10
    assert resp["FunctionError"] == "Unhandled"
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    assert "Task timed out after 1.00 seconds" in tail(resp)
    after = lam.invoke(FunctionName="slow", Payload=b'{"ok":1}', LogType="Tail")
    assert after["Payload"].read() == b'{"ok":1}'
    assert "Init Duration" in tail(after)  # a new environment


def test_crash_is_runtime_exit_error(lam):
    create_bash_function(lam, "crashy")
    resp = lam.invoke(FunctionName="crashy", Payload=b'{"action":"crash"}', LogType="Tail")
    assert resp["FunctionError"] == "Unhandled"
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    assert "about to crash" in tail(resp)
    assert lam.invoke(FunctionName="crashy", Payload=b'[1]')["Payload"].read() == b"[1]"


def test_init_failure_of_custom_runtime(lam):
    bootstrap = "#!/bin/bash\necho 'cannot start'\nexit 2\n"
    create_bash_function(lam, "noinit", zip=make_zip({"bootstrap": (bootstrap, 0o755)}))
    resp = lam.invoke(FunctionName="noinit")
    assert resp["FunctionError"] == "Unhandled"
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "Runtime.ExitError"
    assert "exit status 2" in body["errorMessage"]


def test_init_error_posted_by_runtime(lam):
    bootstrap = ('#!/bin/bash\ncurl -sS -X POST -H "Lambda-Runtime-Function-Error-Type: Runtime.ConfigInvalid" '
                 '-d \'{"errorMessage":"bad config","errorType":"Runtime.ConfigInvalid"}\' '
                 '"http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error"\nexit 1\n')
    create_bash_function(lam, "initerr", zip=make_zip({"bootstrap": (bootstrap, 0o755)}))
    resp = lam.invoke(FunctionName="initerr")
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read()) == {"errorMessage": "bad config", "errorType": "Runtime.ConfigInvalid"}


def test_missing_bootstrap(lam):
    lam.create_function(FunctionName="nobootstrap", Runtime="provided.al2", Role="arn:aws:iam::000000000000:role/x",
                        Handler="x", Code={"ZipFile": make_zip({"readme.txt": "hi"})})
    resp = lam.invoke(FunctionName="nobootstrap")
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read())["errorType"] == "Runtime.InvalidEntrypoint"


def test_oversize_request_is_413(lam):
    create_bash_function(lam, "big")
    payload = b'"' + b"x" * (6 * 1024 * 1024) + b'"'
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="big", Payload=payload)
    assert e.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_oversize_response_is_function_error(lam):
    source = "def handler(event, context):\n    return 'x' * (7 * 1024 * 1024)\n"
    create_python_function(lam, "bigresponse", source, Timeout=10)
    resp = lam.invoke(FunctionName="bigresponse")
    assert resp["FunctionError"] == "Unhandled"
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    assert "exceeded maximum allowed payload size (6291556 bytes)" in body["errorMessage"]


def test_invalid_json_payload(lam):
    create_bash_function(lam, "json")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="json", Payload=b"not json")
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_dry_run_and_event(lam):
    create_bash_function(lam, "dry")
    assert lam.invoke(FunctionName="dry", InvocationType="DryRun")["StatusCode"] == 204
    assert lam.invoke(FunctionName="dry", InvocationType="Event")["StatusCode"] == 202  # test_async.py has more
    with pytest.raises(ClientError) as e:  # validated before queueing, as AWS does
        lam.invoke(FunctionName="dry", InvocationType="Event", Payload=b"not json")
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_environment_variables_reach_the_function(lam):
    source = "import os\ndef handler(event, context):\n    return {k: os.environ.get(k) for k in " \
             "['STAGE', 'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_REGION', " \
             "'AWS_LAMBDA_FUNCTION_VERSION', 'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_EXECUTION_ENV', '_HANDLER']}\n"
    create_python_function(lam, "envs", source, MemorySize=256, Environment={"Variables": {"STAGE": "prod"}})
    env = json.loads(lam.invoke(FunctionName="envs")["Payload"].read())
    assert env == {"STAGE": "prod", "AWS_LAMBDA_FUNCTION_NAME": "envs", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                   "AWS_REGION": "us-east-1", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                   "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/envs", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
                   "_HANDLER": "app.handler"}


def test_update_takes_effect_on_next_invoke(lam):
    create_python_function(lam, "v", "def handler(e, c):\n    return 'v1'\n")
    assert lam.invoke(FunctionName="v")["Payload"].read() == b'"v1"'
    lam.update_function_code(FunctionName="v", ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 'v2'\n"}))
    assert lam.invoke(FunctionName="v")["Payload"].read() == b'"v2"'


def test_awscli_invoke(lamina_server, tmp_path):
    lam = lamina_server.client()
    create_bash_function(lam, "cli")
    out = tmp_path / "out.json"
    p = subprocess.run(["/usr/bin/aws", "--endpoint-url", lamina_server.endpoint, "lambda", "invoke",
                        "--function-name", "cli", "--cli-binary-format", "raw-in-base64-out",
                        "--payload", '{"via":"cli"}', "--log-type", "Tail", str(out)],
                       env=lamina_server.env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    meta = json.loads(p.stdout)
    assert meta["StatusCode"] == 200
    assert "REPORT RequestId" in base64.b64decode(meta["LogResult"]).decode()
    assert json.loads(out.read_text()) == {"via": "cli"}


def test_graceful_shutdown_finishes_inflight(tmp_path):
    from conftest import LaminaServer
    server = LaminaServer(tmp_path / "d").start()
    lam = server.client()
    create_python_function(lam, "slowok", "import time\ndef handler(e, c):\n    time.sleep(1.5)\n    return 'done'\n",
                           Timeout=10)
    result = {}

    def call():
        result["body"] = lam.invoke(FunctionName="slowok")["Payload"].read()

    t = threading.Thread(target=call)
    t.start()
    time.sleep(0.8)
    rc = server.stop()
    t.join()
    assert result["body"] == b'"done"'
    assert rc == 0


def test_client_context_reaches_python(lam):
    source = "def handler(event, context):\n    cc = context.client_context\n" \
             "    return {'custom': cc.custom, 'arn': context.invoked_function_arn, 'rid': context.aws_request_id}\n"
    create_python_function(lam, "ctx", source)
    cc = base64.b64encode(json.dumps({"custom": {"k": "v"}, "client": {}, "env": {}}).encode()).decode()
    resp = lam.invoke(FunctionName="ctx", ClientContext=cc)
    body = json.loads(resp["Payload"].read())
    assert body["custom"] == {"k": "v"}
    assert body["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:ctx"
    assert body["rid"] == resp["ResponseMetadata"]["RequestId"]


def test_python_exception_is_aws_error_json(lam):
    source = "def handler(event, context):\n    raise ValueError('boom')\n"
    create_python_function(lam, "raises", source)
    resp = lam.invoke(FunctionName="raises", LogType="Tail")
    assert resp["FunctionError"] == "Unhandled"
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "boom"
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]
    assert "[ERROR] ValueError: boom" in tail(resp)


def test_python_import_error_is_init_error(lam):
    create_python_function(lam, "noimport", "import not_a_module\n")
    resp = lam.invoke(FunctionName="noimport")
    assert resp["FunctionError"] == "Unhandled"
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'not_a_module'" in body["errorMessage"]


def test_unavailable_runtimes_are_rejected_clearly(lam):
    def runs(v):  # pyenv installs shims for versions it does not have: try to start each
        try:
            return subprocess.run([v, "-c", ""], capture_output=True, timeout=20).returncode == 0
        except OSError:
            return False
    missing = next(v for v in ("python3.6", "python3.7", "python3.8", "python3.9", "python3.12", "python3.13")
                   if not runs(v))
    with pytest.raises(ClientError) as e:
        create_python_function(lam, "oldpy", "def handler(e, c):\n    return 1\n", runtime=missing)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "not supported by this lamina host" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        create_python_function(lam, "ruby", "x", runtime="ruby3.3", handler="index.handler")
    assert "not supported by lamina yet" in e.value.response["Error"]["Message"]


def test_idle_environments_shut_down_after_keep_alive(tmp_path):
    from conftest import LaminaServer
    server = LaminaServer(tmp_path / "d", extra_args=["--keep-alive", "0.5"]).start()
    try:
        lam = server.client()
        create_python_function(lam, "idle", "import uuid\ntoken = str(uuid.uuid4())\ndef handler(e, c):\n    return token\n")
        first = json.loads(lam.invoke(FunctionName="idle")["Payload"].read())
        assert json.loads(lam.invoke(FunctionName="idle")["Payload"].read()) == first  # warm
        time.sleep(2)
        resp = lam.invoke(FunctionName="idle", LogType="Tail")
        assert json.loads(resp["Payload"].read()) != first
        assert "Init Duration" in tail(resp)
    finally:
        server.stop()


def test_runtime_api_rejects_out_of_order_calls(lam):
    # The function probes the Runtime API's own errors and returns what it saw.
    bootstrap = r'''#!/bin/bash
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  H=$(mktemp); EVENT=$(curl -sS -D "$H" "$API/invocation/next")
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$H" | tr -d '[:space:]' | cut -d: -f2)
  DEADLINE=$(grep -Fi Lambda-Runtime-Deadline-Ms "$H" | tr -d '[:space:]' | cut -d: -f2)
  ARN=$(grep -Fi Lambda-Runtime-Invoked-Function-Arn "$H" | tr -d '[:space:]' | cut -d: -f2-)
  TRACE=$(grep -Fi Lambda-Runtime-Trace-Id "$H" | tr -d '[:space:]' | cut -d: -f2-)
  WRONG=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -d x "$API/invocation/not-the-id/response")
  WRONGTYPE=$(curl -sS -X POST -d x "$API/invocation/not-the-id/response")
  AGAIN=$(curl -sS -o /dev/null -w '%{http_code}' "$API/invocation/next")
  INITERR=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -d '{}' "$API/init/error")
  BODY="{\"previousSecond\":${SECOND:-0},\"wrong\":$WRONG,\"wrongBody\":$WRONGTYPE,\"nextAgain\":$AGAIN,\"initErrorLate\":$INITERR,\"deadline\":$DEADLINE,\"arn\":\"$ARN\",\"trace\":\"$TRACE\"}"
  OK=$(curl -sS -X POST -d "$BODY" "$API/invocation/$ID/response")
  SECOND=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -d x "$API/invocation/$ID/response")
  echo "ack=$OK second=$SECOND"
done
'''
    create_bash_function(lam, "probe", zip=make_zip({"bootstrap": (bootstrap, 0o755)}))
    t0 = time.time() * 1000
    resp = lam.invoke(FunctionName="probe", LogType="Tail")
    body = json.loads(resp["Payload"].read())
    assert body["wrong"] == 400
    assert body["wrongBody"] == {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
    assert body["nextAgain"] == 403
    assert body["initErrorLate"] == 403
    assert t0 + 2000 < body["deadline"] < t0 + 4000  # epoch ms, Timeout=3 s
    assert body["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:probe"
    assert body["trace"].startswith("Root=1-")
    assert body["previousSecond"] == 0
    second = json.loads(lam.invoke(FunctionName="probe")["Payload"].read())
    assert second["previousSecond"] == 400  # a second response for an answered request id
