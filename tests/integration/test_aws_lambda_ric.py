"""AWS's own Node.js runtime interface client (npm's aws-lambda-ric, built from the committed lock
file in tests/integration/node) as a provided.al2023 function's bootstrap, unmodified, against the
real server — and the same handlers under lamina's nodejs runtime, which must answer alike."""
import base64
import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import ROLE, make_zip

RIC = Path(__file__).resolve().parent / "node" / "node_modules" / "aws-lambda-ric"
NODE_MAJOR = subprocess.run(["node", "-p", "process.versions.node.split('.')[0]"], capture_output=True,
                            text=True).stdout.strip()
pytestmark = pytest.mark.skipif(not (RIC / "dist" / "rapid-client.node").exists(),
                                reason="run `make integration` (npm ci in tests/integration/node) first")
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"

HANDLERS = """
export const handler = async (event, context) => {
  console.log("handled", event.msg);
  return {msg: event.msg, rid: context.awsRequestId, fn: context.functionName,
          mem: context.memoryLimitInMB, arn: context.invokedFunctionArn, live: context.getRemainingTimeInMillis() > 0};
};
export const fails = async () => { throw new TypeError("ric boom"); };
export const rejectsString = () => Promise.reject("plain string");
export const callback = (event, context, cb) => setTimeout(() => cb(null, {via: "callback"}), 5);
"""


def ric_zip():
    files = {"bootstrap": ('#!/bin/sh\nexec node /var/task/node_modules/aws-lambda-ric/bin/index.mjs "$_HANDLER"\n',
                           0o755),
             "index.mjs": HANDLERS}
    for path in [RIC / "package.json", RIC / "bin" / "index.mjs", *sorted((RIC / "dist").iterdir())]:
        mode = 0o755 if path.suffix == ".node" else 0o644
        files[str(path.relative_to(RIC.parent.parent))] = (path.read_bytes(), mode)
    return make_zip(files)


@pytest.fixture
def both(lam):
    """The same handlers as an aws-lambda-ric custom runtime and as lamina's nodejs runtime."""
    lam.create_function(FunctionName="ric", Runtime="provided.al2023", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": ric_zip()}, Timeout=10)
    lam.create_function(FunctionName="ours", Runtime=f"nodejs{NODE_MAJOR}.x", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": make_zip({"index.mjs": HANDLERS})}, Timeout=10)
    return lam


def call(lam, name, payload=None):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(), LogType="Tail")
    return r, json.loads(r["Payload"].read() or b"null"), base64.b64decode(r["LogResult"]).decode()


def test_aws_lambda_ric_runs_unmodified(both, logs_client):
    r, body, log = call(both, "ric", {"msg": "hi"})
    assert "FunctionError" not in r, body
    assert body == {"msg": "hi", "rid": r["ResponseMetadata"]["RequestId"], "fn": "ric", "mem": "128",
                    "arn": "arn:aws:lambda:us-east-1:000000000000:function:ric", "live": True}
    init = logs_client.filter_log_events(logGroupName="/aws/lambda/ric", filterPattern='"Executing"')["events"]
    assert "Executing 'index.handler' in function directory '/var/task'" in init[0]["message"]
    rid = r["ResponseMetadata"]["RequestId"]
    assert re.search(rf"^{TS}\t{rid}\tINFO\thandled hi$", log, re.M), log
    r2, body2, _ = call(both, "ric", {"msg": "again"})  # warm: same environment, next event
    assert body2["msg"] == "again" and body2["rid"] == r2["ResponseMetadata"]["RequestId"]


@pytest.mark.parametrize("handler", ["index.handler", "index.fails", "index.rejectsString", "index.callback",
                                     "index.missing", "nofile.handler"])
def test_lamina_nodejs_runtime_answers_like_aws_lambda_ric(both, handler):
    for name in ("ric", "ours"):
        both.update_function_configuration(FunctionName=name, Handler=handler)
    ric_r, ric_body, ric_log = call(both, "ric", {"msg": "same"})
    our_r, our_body, our_log = call(both, "ours", {"msg": "same"})
    assert ("FunctionError" in ric_r) == ("FunctionError" in our_r)

    def comparable(body, r):
        if isinstance(body, dict):
            body = dict(body)
            body.pop("trace", None)  # stack frames differ in paths and line numbers
            if body.get("rid") == r["ResponseMetadata"]["RequestId"]:
                body["rid"] = "<request id>"
            body.pop("fn", None)
            body.pop("arn", None)
            if "errorMessage" in body:  # module paths differ: /var/task vs the same — keep text
                body["errorMessage"] = body["errorMessage"].split("\n")[0]
        return body
    assert comparable(our_body, our_r) == comparable(ric_body, ric_r)

    def levels(log):  # the console lines' shape: level and message, without time, request id and stack
        out = []
        for line in log.splitlines():
            if not re.match(rf"^{TS}\t", line):
                continue
            line = re.sub(rf"^{TS}\t[0-9a-f-]+\t", "", line)
            if " \t{" in line:  # "Invoke Error \t{json}": frames differ
                head, doc = line.split(" \t", 1)
                doc = json.loads(doc)
                doc.pop("stack", None)
                line = (head, doc)
            out.append(line)
        return out
    assert levels(our_log) == levels(ric_log)
