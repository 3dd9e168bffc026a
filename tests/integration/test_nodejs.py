"""Node.js functions (nodejs20.x, the host's node) through the real server with boto3: CommonJS and
ES module handlers, async and callback styles, the context object, AWS's error documents for thrown
errors and rejected promises, init errors, console lines in AWS's format, warm reuse, and the
runtimes the host cannot serve."""
import base64
import json
import re
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, make_zip

NODE_MAJOR = subprocess.run(["node", "-p", "process.versions.node.split('.')[0]"], capture_output=True,
                            text=True).stdout.strip()
RUNTIME = f"nodejs{NODE_MAJOR}.x"
pytestmark = pytest.mark.skipif(RUNTIME not in ("nodejs18.x", "nodejs20.x", "nodejs22.x"),
                                reason="needs node 18, 20 or 22 on the host")
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def create_node_function(lam, name, files, handler="index.handler", **kw):
    params = dict(FunctionName=name, Runtime=RUNTIME, Role=ROLE, Handler=handler,
                  Code={"ZipFile": make_zip(files)}, Timeout=kw.pop("Timeout", 5))
    params.update(kw)
    return lam.create_function(**params)


def invoke(lam, name, payload=None, **kw):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(payload if payload is not None else {}).encode(),
                   LogType="Tail", **kw)
    body = json.loads(r["Payload"].read() or b"null")
    return r, body, base64.b64decode(r["LogResult"]).decode()


def test_commonjs_async_handler_and_context(lam):
    src = """
exports.handler = async (event, context) => ({
  echo: event,
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  memoryLimitInMB: context.memoryLimitInMB,
  invokedFunctionArn: context.invokedFunctionArn,
  awsRequestId: context.awsRequestId,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  remaining: context.getRemainingTimeInMillis(),
  waits: context.callbackWaitsForEmptyEventLoop,
  env: process.env.AWS_EXECUTION_ENV,
  trace: process.env._X_AMZN_TRACE_ID,
});
"""
    create_node_function(lam, "node-cjs", {"index.js": src}, MemorySize=256)
    r, body, log = invoke(lam, "node-cjs", {"a": 1})
    assert "FunctionError" not in r
    assert body["echo"] == {"a": 1}
    assert body["functionName"] == "node-cjs"
    assert body["functionVersion"] == "$LATEST"
    assert body["memoryLimitInMB"] == "256"  # a string, as AWS's runtime gives it
    assert body["invokedFunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:node-cjs"
    assert body["awsRequestId"] == r["ResponseMetadata"]["RequestId"]
    assert body["logGroupName"] == "/aws/lambda/node-cjs"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", body["logStreamName"])
    assert 0 < body["remaining"] <= 5000
    assert body["waits"] is True
    assert body["env"] == f"AWS_Lambda_{RUNTIME}"
    assert body["trace"].startswith("Root=1-")
    assert "Init Duration" in log


def test_es_module_handler_and_warm_reuse(lam):
    src = """
let calls = 0;
const started = Date.now();
export const handler = async (event) => ({ calls: ++calls, started });
"""
    create_node_function(lam, "node-esm", {"index.mjs": src})
    _, first, _ = invoke(lam, "node-esm")
    _, second, log = invoke(lam, "node-esm")
    assert first["calls"] == 1 and second["calls"] == 2 and first["started"] == second["started"]
    assert "Init Duration" not in log


def test_type_module_package_and_nested_handler_path(lam):
    files = {"package.json": '{"type": "module"}',
             "src/app.js": "export async function main(event) { return {esm: typeof require === 'undefined'}; }"}
    create_node_function(lam, "node-pkg-esm", files, handler="src/app.main")
    _, body, _ = invoke(lam, "node-pkg-esm")
    assert body == {"esm": True}


def test_callback_style_and_console_lines(lam):
    src = """
exports.handler = (event, context, callback) => {
  console.log("hello", {n: 1});
  console.error("oops");
  console.warn("careful");
  setTimeout(() => callback(null, {done: event.x}), 20);
};
"""
    create_node_function(lam, "node-cb", {"index.js": src})
    r, body, log = invoke(lam, "node-cb", {"x": 7})
    assert body == {"done": 7}
    rid = r["ResponseMetadata"]["RequestId"]
    assert re.search(rf"^{TS}\t{rid}\tINFO\thello {{ n: 1 }}$", log, re.M), log
    assert re.search(rf"^{TS}\t{rid}\tERROR\toops$", log, re.M), log
    assert re.search(rf"^{TS}\t{rid}\tWARN\tcareful$", log, re.M), log


def test_callback_error_and_context_fail(lam):
    files = {"index.js": """
exports.viaCallback = (event, context, callback) => callback(new RangeError("too far"));
exports.viaFail = (event, context) => context.fail(new Error("failed"));
exports.viaSucceed = (event, context) => context.succeed({ok: true});
"""}
    create_node_function(lam, "node-cb-err", files, handler="index.viaCallback")
    r, body, _ = invoke(lam, "node-cb-err")
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "RangeError" and body["errorMessage"] == "too far"
    lam.update_function_configuration(FunctionName="node-cb-err", Handler="index.viaFail")
    r, body, _ = invoke(lam, "node-cb-err")
    assert r["FunctionError"] == "Unhandled" and body["errorMessage"] == "failed"
    lam.update_function_configuration(FunctionName="node-cb-err", Handler="index.viaSucceed")
    r, body, _ = invoke(lam, "node-cb-err")
    assert "FunctionError" not in r and body == {"ok": True}


def test_thrown_errors_and_rejections_have_aws_shape(lam):
    files = {"index.mjs": """
class ValidationError extends Error { constructor(m) { super(m); this.name = "ValidationError"; } }
export const thrown = async () => { throw new ValidationError("bad input"); };
export const rejected = () => Promise.reject(new TypeError("nope"));
"""}
    create_node_function(lam, "node-err", files, handler="index.thrown")
    r, body, log = invoke(lam, "node-err")
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValidationError"
    assert body["errorMessage"] == "bad input"
    assert isinstance(body["trace"], list) and body["trace"][0].startswith("ValidationError: bad input")
    rid = r["ResponseMetadata"]["RequestId"]
    assert re.search(rf"^{TS}\t{rid}\tERROR\tInvoke Error \t", log, re.M), log
    lam.update_function_configuration(FunctionName="node-err", Handler="index.rejected")
    r, body, _ = invoke(lam, "node-err")
    assert (body["errorType"], body["errorMessage"]) == ("TypeError", "nope")


@pytest.mark.parametrize("files,handler,error_type,message", [
    ({"index.js": "exports.other = async () => 1;"}, "index.handler", "Runtime.HandlerNotFound",
     "index.handler is undefined or not exported"),
    ({"index.js": "exports.handler = async () => 1;"}, "missing.handler", "Runtime.ImportModuleError",
     "Error: Cannot find module 'missing'"),
    ({"index.js": "exports.handler = async () => {;"}, "index.handler", "Runtime.UserCodeSyntaxError",
     "SyntaxError: "),
    ({"index.js": "exports.handler = async () => 1;"}, "index", "Runtime.MalformedHandlerName",
     "Bad handler"),
])
def test_init_errors(lam, files, handler, error_type, message):
    name = "node-init-" + error_type.split(".")[1].lower()
    create_node_function(lam, name, files, handler=handler)
    r, body, log = invoke(lam, name)
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == error_type, body
    assert body["errorMessage"].startswith(message), body
    assert "INIT_REPORT" in log or "Init Duration" in log or "START" in log


def test_unserializable_result_is_a_marshal_error(lam):
    create_node_function(lam, "node-marshal", {"index.js": "exports.handler = async () => { const a = {}; a.a = a; "
                                                           "return a; };"})
    r, body, _ = invoke(lam, "node-marshal")
    assert r["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("Error", "Unable to stringify response body")  # as aws-lambda-ric


def test_runtimes_the_host_cannot_serve(lam):
    other = next(r for r in ("nodejs18.x", "nodejs20.x", "nodejs22.x") if r != RUNTIME)
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="node-other", Runtime=other, Role=ROLE, Handler="index.handler",
                            Code={"ZipFile": make_zip({"index.js": "exports.handler = async () => 1;"})})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "not supported by this lamina host" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="node-old", Runtime="nodejs16.x", Role=ROLE, Handler="index.handler",
                            Code={"ZipFile": make_zip({"index.js": "exports.handler = async () => 1;"})})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_callback_waits_for_the_empty_event_loop_unless_told_not_to(lam):
    import time
    src = """
let ticks = 0;
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait;
  setTimeout(() => { ticks++; }, 1500);  // pending work after the callback
  callback(null, {ticksBefore: ticks});
};
"""
    create_node_function(lam, "node-loop", {"index.js": src})
    invoke(lam, "node-loop", {"wait": True})  # cold start out of the way (and leaves ticks at 1)
    started = time.time()
    invoke(lam, "node-loop", {"wait": True})
    assert time.time() - started >= 1.4  # answered only once the timer had run
    started = time.time()
    _, body, _ = invoke(lam, "node-loop", {"wait": False})
    assert time.time() - started < 1.0  # answered at once; the timer stays pending
    assert body == {"ticksBefore": 2}
