"""Tests for lamina's Node.js runtime client (runtimes/nodejs/bootstrap.mjs).

The unit under test is bootstrap.mjs running as a child process, exactly as the daemon starts it
(``node bootstrap.mjs`` with cwd = LAMBDA_TASK_ROOT). A small fake Runtime API server runs
in-process (http.server on 127.0.0.1:0) and records what the client sends.

Every test runs once per node major version (18 or later) found on this host: ``node`` on PATH,
/usr/bin/node*, /usr/local/bin/node*. Set LAMINA_TEST_NODES to an os.pathsep-separated list of
node binaries to choose them explicitly. Without any node >= 18 every test is skipped.

The last tests run AWS's own runtime interface client (npm aws-lambda-ric, installed by
``make integration`` under tests/integration/node) against the same fake server and handlers and
compare what both send; they skip when it is not installed.

Run: /usr/bin/python3 -m pytest runtimes/nodejs/test_node_bootstrap.py
"""

import glob
import http.server
import json
import os
import queue
import re
import shutil
import subprocess
import textwrap
import threading
import time
import uuid
from urllib.parse import unquote

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BOOTSTRAP = os.path.join(HERE, "bootstrap.mjs")
# The file bootstrap.mjs anchors its require() at (see there): <runtime root>/index.mjs.
REQUIRE_ANCHOR = os.path.join(os.path.dirname(HERE), "index.mjs")
RIC = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "integration", "node", "node_modules", "aws-lambda-ric")
ARN = "arn:aws:lambda:us-east-1:123456789012:function:demo"
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
CALLBACK_WARNING = "AWS Lambda plans to remove support for callback-based function handlers starting with Node.js 24."
NODE_JS_EXIT = (
    "The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise "
    "that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes"
)


# ------------------------------------------------------------------------------------------
# Node binaries
# ------------------------------------------------------------------------------------------


def _major_of(node):
    try:
        out = subprocess.run([node, "-p", "process.versions.node"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    try:
        return int(out.stdout.decode().strip().split(".")[0])
    except ValueError:
        return None


def _discover_nodes():
    explicit = os.environ.get("LAMINA_TEST_NODES")
    if explicit:
        return [n for n in explicit.split(os.pathsep) if n]
    candidates = [shutil.which("node") or ""]
    for d in ("/usr/bin", "/usr/local/bin"):
        candidates += sorted(p for p in glob.glob(d + "/node*") if re.search(r"/node(\d+)?$", p))
    found = {}
    for c in candidates:
        if not c or not os.access(c, os.X_OK):
            continue
        major = _major_of(c)
        if major is None or major < 18 or major in found:
            continue
        found[major] = c
    return [found[m] for m in sorted(found)]


NODES = _discover_nodes()
pytestmark = pytest.mark.skipif(not NODES, reason="needs node 18 or later (none on PATH, /usr/bin or /usr/local/bin)")


@pytest.fixture(params=NODES or [None], ids=lambda n: "node%s" % (_major_of(n) if n else "-none"))
def node(request):
    return request.param


# ------------------------------------------------------------------------------------------
# Fake Runtime API
# ------------------------------------------------------------------------------------------


class Post(object):
    def __init__(self, kind, request_id, raw_id, headers, body):
        self.kind = kind  # "response" | "error" | "init_error"
        self.request_id = request_id
        self.raw_id = raw_id  # as it appeared in the path
        self.headers = headers  # lower-cased names
        self.body = body

    def json(self):
        return json.loads(self.body)

    def keys(self):
        return [k for k, _ in json.loads(self.body, object_pairs_hook=lambda pairs: pairs)]

    def __repr__(self):
        return "Post(%s, %s, %r)" % (self.kind, self.request_id, self.body[:300])


class FakeRuntimeApi(object):
    def __init__(self):
        self.events = queue.Queue()
        self.posts = queue.Queue()
        self.stopping = False
        self.connections = set()
        self.next_calls = 0
        self.post_status = {}  # request id -> status to answer its /response or /error with
        self.drop_after_post = set()  # request ids whose post answer is followed by a close
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                http.server.BaseHTTPRequestHandler.setup(self)
                api.connections.add(self.client_address)

            def _reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    self._reply(404, b'{"errorType":"InvalidRequest"}')
                    return
                api.next_calls += 1
                while True:
                    if api.stopping:
                        self.close_connection = True
                        return
                    try:
                        ev = api.events.get(timeout=0.05)
                        break
                    except queue.Empty:
                        continue
                headers = [
                    ("Content-Type", "application/json"),
                    ("Lambda-Runtime-Aws-Request-Id", ev["id"]),
                    ("Lambda-Runtime-Deadline-Ms", str(ev["deadline"])),
                    ("Lambda-Runtime-Invoked-Function-Arn", ev.get("arn", ARN)),
                ]
                for name, header in (
                    ("trace_id", "Lambda-Runtime-Trace-Id"),
                    ("client_context", "Lambda-Runtime-Client-Context"),
                    ("cognito", "Lambda-Runtime-Cognito-Identity"),
                    ("tenant", "Lambda-Runtime-Aws-Tenant-Id"),
                ):
                    if ev.get(name) is not None:
                        headers.append((header, ev[name]))
                if ev.get("close"):
                    headers.append(("Connection", "close"))
                    self.close_connection = True
                self._reply(200, ev["body"], headers)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                m = re.match(r"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$", self.path)
                if m:
                    rid = unquote(m.group(1))
                    api.posts.put(Post(m.group(2), rid, m.group(1), hdrs, body))
                    status = api.post_status.get(rid, 202)
                    self._reply(status, b'{"status":"OK"}' if status == 202 else b'{"errorType":"X"}')
                    if rid in api.drop_after_post:
                        self.close_connection = True
                    return
                if self.path == "/2018-06-01/runtime/init/error":
                    api.posts.put(Post("init_error", None, None, hdrs, body))
                    self._reply(202, b'{"status":"OK"}')
                    return
                self._reply(404, b'{"errorType":"InvalidRequest"}')

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a runtime that exits or is killed resets its connections

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.server.server_address[1]

    def add_event(self, payload=None, body=None, deadline_in_ms=30000, **extra):
        rid = extra.pop("request_id", None) or str(uuid.uuid4())
        if body is None:
            body = json.dumps(payload if payload is not None else {}).encode()
        ev = {"id": rid, "body": body, "deadline": int(time.time() * 1000) + deadline_in_ms}
        ev.update(extra)
        self.events.put(ev)
        return rid

    def wait_post(self, timeout=15):
        try:
            return self.posts.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no post from the runtime within %ss" % timeout)

    def stop(self):
        self.stopping = True
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------------------
# Runtime process
# ------------------------------------------------------------------------------------------


class Runtime(object):
    def __init__(self, argv, api, task_root, handler, env=None):
        self.api = api
        self.task_root = task_root
        e = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": task_root,
            "AWS_LAMBDA_FUNCTION_NAME": "demo",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/demo",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]0123456789abcdef",
            "AWS_REGION": "us-east-1",
            "AWS_EXECUTION_ENV": "AWS_Lambda_nodejs20.x",
        }
        e.update(env or {})
        self.proc = subprocess.Popen(argv, cwd=task_root, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._out = []
        self._err = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self._out)),
            threading.Thread(target=self._read, args=(self.proc.stderr, self._err)),
        ]
        for t in self._readers:
            t.daemon = True
            t.start()

    @staticmethod
    def _read(stream, sink):
        for line in iter(stream.readline, b""):
            sink.append(line)

    def stdout_lines(self):
        # Lines as the daemon sees them: split on '\n' only.
        return b"".join(self._out).decode("utf-8").split("\n")

    def stderr_text(self):
        return b"".join(self._err).decode("utf-8", "replace")

    def wait_stdout(self, pattern, timeout=10):
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        while time.time() < deadline:
            for line in self.stdout_lines():
                if rx.search(line):
                    return line
            time.sleep(0.02)
        raise AssertionError("no stdout line matches %r; stdout=%r stderr=%r" % (pattern, self.stdout_lines(), self.stderr_text()))

    def wait_exit(self, timeout=15):
        rc = self.proc.wait(timeout=timeout)
        for t in self._readers:
            t.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for t in self._readers:
            t.join(5)


@pytest.fixture
def api():
    a = FakeRuntimeApi()
    yield a
    a.stop()


def _write_files(root, files):
    for name, text in files.items():
        p = os.path.join(root, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(textwrap.dedent(text))
    os.makedirs(root, exist_ok=True)


@pytest.fixture
def start(node, api, tmp_path):
    """start(files, handler, env) writes the function's files to a fresh task root and starts
    bootstrap.mjs on it."""
    runtimes = []

    def _start(files, handler="index.handler", env=None):
        root = str(tmp_path / ("task%d" % len(runtimes)))
        _write_files(root, files)
        rt = Runtime([node, BOOTSTRAP], api, root, handler, env)
        runtimes.append(rt)
        return rt

    yield _start
    for rt in runtimes:
        rt.kill()


def invoke(api, payload=None, **kw):
    rid = api.add_event(payload, **kw)
    post = api.wait_post()
    assert post.request_id == rid, post
    return post


def line_re(rid, level, message):
    """A whole console line: time, request id, level, message (a regex)."""
    return "^%s\t%s\t%s\t%s$" % (TS, re.escape(rid), level, message)


# ------------------------------------------------------------------------------------------
# Handlers and module resolution
# ------------------------------------------------------------------------------------------


def test_async_handler_warm_state_and_one_keep_alive_connection(api, start):
    rt = start(
        {
            "index.js": """
            globalThis.loads = (globalThis.loads || 0) + 1;
            let n = 0;
            exports.handler = async (event) => (event === "undefined" ? undefined : { event, n: ++n, loads: globalThis.loads });
            """
        }
    )
    p1 = invoke(api, {"hello": "world"})
    assert p1.kind == "response"
    assert p1.json() == {"event": {"hello": "world"}, "n": 1, "loads": 1}
    assert p1.headers["content-type"] == "application/json"
    assert invoke(api, [1, 2, 3]).json() == {"event": [1, 2, 3], "n": 2, "loads": 1}
    assert invoke(api, "caf\u00e9").json() == {"event": "caf\u00e9", "n": 3, "loads": 1}
    assert invoke(api, "undefined").body == b"null"  # undefined is sent as null
    assert len(api.connections) == 1
    assert rt.proc.poll() is None


@pytest.mark.parametrize(
    "files,handler,expected",
    [
        # <file>.js is CommonJS without a package.json saying otherwise.
        ({"app.js": "exports.handler = async () => 'cjs ' + typeof require;"}, "app.handler", "cjs function"),
        # ... and an ES module when the nearest package.json has "type": "module", even in a parent.
        ({"package.json": '{"type": "module"}', "app.js": "export const handler = async () => 'esm ' + typeof require;"}, "app.handler", "esm undefined"),
        ({"package.json": '{"type": "module"}', "src/app.js": "export async function main() { return 'nested esm'; }"}, "src/app.main", "nested esm"),
        # The nearest package.json decides.
        ({"package.json": '{"type": "module"}', "sub/package.json": '{"type": "commonjs"}', "sub/app.js": "exports.handler = async () => 'nearest ' + typeof module;"}, "sub/app.handler", "nearest object"),
        ({"app.mjs": "export const handler = async () => 'mjs';"}, "app.handler", "mjs"),
        ({"app.cjs": "module.exports = { handler: async () => 'cjs extension' };"}, "app.handler", "cjs extension"),
        # Order: as named, .js, .mjs, .cjs.
        ({"app": "exports.handler = async () => 'as named';", "app.js": "exports.handler = async () => 'js';"}, "app.handler", "as named"),
        ({"app.js": "exports.handler = async () => 'js';", "app.mjs": "export const handler = async () => 'mjs';"}, "app.handler", "js"),
        ({"app.mjs": "export const handler = async () => 'mjs';", "app.cjs": "exports.handler = async () => 'cjs';"}, "app.handler", "mjs"),
        # A folder, required as Node does (its index.js).
        ({"lib/index.js": "exports.handler = async () => 'folder';"}, "lib.handler", "folder"),
        # Nested directories and nested properties.
        ({"a/b/app.js": "exports.handler = async () => __filename.endsWith('/a/b/app.js');"}, "a/b/app.handler", True),
        ({"app.js": "exports.a = { b: { c: async () => 'deep' } };"}, "app.a.b.c", "deep"),
        ({"app.mjs": "export default { handler: async () => 'default export' };"}, "app.default.handler", "default export"),
        # Last: Node's own resolution from the task root (node_modules).
        ({"node_modules/mypkg/index.js": "exports.handler = async () => 'from node_modules';"}, "mypkg.handler", "from node_modules"),
    ],
    ids=[
        "js-commonjs", "js-type-module", "js-type-module-in-parent", "nearest-package-json", "mjs", "cjs",
        "as-named-first", "js-before-mjs", "mjs-before-cjs", "folder", "nested-dir", "nested-property",
        "default-export", "node-modules",
    ],
)
def test_module_resolution(api, start, files, handler, expected):
    start(files, handler=handler)
    p = invoke(api, {})
    assert p.kind == "response", p
    assert p.json() == expected


def test_sync_handler_return_value_is_ignored_and_null_sent_when_loop_empties(api, start):
    # As in the RIC, only callbacks and promises answer; a plain return value does not.
    rt = start(
        {
            "index.js": """
            exports.handler = (event) => {
              setTimeout(() => console.log("timer ran"), 200);
              return "ignored";
            };
            """
        }
    )
    started = time.time()
    p = invoke(api, {})
    assert p.kind == "response" and p.body == b"null"
    assert time.time() - started >= 0.2
    rt.wait_stdout(r"\tINFO\ttimer ran$")


def test_async_handler_that_never_settles_is_runtime_node_js_exit(api, start):
    rt = start({"index.mjs": "export const handler = async (e) => (e === 'hang' ? new Promise(() => {}) : 'ok');"})
    rid = api.add_event("hang")
    p = api.wait_post()
    assert p.kind == "error" and p.request_id == rid
    assert p.json() == {"errorType": "Runtime.NodeJsExit", "errorMessage": NODE_JS_EXIT, "trace": p.json()["trace"]}
    assert p.json()["trace"][0] == "Runtime.NodeJsExit: " + NODE_JS_EXIT
    rt.wait_stdout(line_re(rid, "ERROR", r"Invoke Error \t\{\"errorType\":\"Runtime\.NodeJsExit\".*"))
    assert invoke(api, "next").json() == "ok"


# ------------------------------------------------------------------------------------------
# Callbacks and callbackWaitsForEmptyEventLoop
# ------------------------------------------------------------------------------------------

CALLBACK_APP = """
let fired = 0;
exports.handler = (event, context, callback) => {
  const result = { waits: context.callbackWaitsForEmptyEventLoop, timerDone: false, firedBefore: fired };
  setTimeout(() => { result.timerDone = true; fired++; }, 300);
  if (event.nowait) context.callbackWaitsForEmptyEventLoop = false;
  callback(null, result);
};
"""


def test_callback_waits_for_empty_event_loop(api, start):
    start({"index.js": CALLBACK_APP})
    started = time.time()
    p = invoke(api, {})
    # Sent once the timer ran, and serialised then (the RIC serialises at send time).
    assert p.json() == {"waits": True, "timerDone": True, "firedBefore": 0}
    assert time.time() - started >= 0.3


def test_callback_without_waiting_answers_at_once_and_leaves_timers_pending(api, start):
    start({"index.js": CALLBACK_APP})
    p = invoke(api, {"nowait": True})
    assert p.json() == {"waits": True, "timerDone": False, "firedBefore": 0}  # sent before the timer ran
    # The pending timer is not cancelled: it runs later in the same process (on AWS the frozen
    # sandbox runs it at the next invocation; lamina only freezes when the daemon does).
    time.sleep(0.5)
    assert invoke(api, {"nowait": True}).json()["firedBefore"] == 1


def test_succeed_fail_done_and_first_answer_wins(api, start):
    start(
        {
            "index.js": """
            const kinds = {
              succeed: (e, c) => c.succeed({ ok: 1 }),
              doneOk: (e, c) => c.done(null, "done"),
              doneErr: (e, c) => c.done(new Error("done error")),
              fail: (e, c) => c.fail(new Error("failed")),
              failBare: (e, c) => c.fail(),
              cbString: (e, c, cb) => cb("plain"),
              cbFalse: (e, c, cb) => cb(false),
              twice: (e, c, cb) => { cb(null, "first"); cb(null, "second"); c.succeed("third"); c.fail(new Error("x")); },
              succeedDoesNotWait: (e, c) => { setTimeout(() => {}, 2000); c.succeed("fast"); },
              asyncAndCallback: async (e, c, cb) => { cb(null, "callback"); return "promise"; },
            };
            exports.handler = (event, context, callback) => kinds[event](event, context, callback);
            """
        }
    )
    assert invoke(api, "succeed").json() == {"ok": 1}
    assert invoke(api, "doneOk").json() == "done"
    p = invoke(api, "doneErr")
    assert p.kind == "error" and p.json()["errorMessage"] == "done error"
    p = invoke(api, "fail")
    assert p.kind == "error" and p.json()["errorType"] == "Error" and p.json()["errorMessage"] == "failed"
    # Non-Error values: typeof and toString(); a bare fail() is the string "handled".
    assert invoke(api, "failBare").json() == {"errorType": "string", "errorMessage": "handled", "trace": []}
    assert invoke(api, "cbString").json() == {"errorType": "string", "errorMessage": "plain", "trace": []}
    assert invoke(api, "cbFalse").json() == {"errorType": "boolean", "errorMessage": "false", "trace": []}
    assert invoke(api, "twice").json() == "first"
    started = time.time()
    assert invoke(api, "succeedDoesNotWait").json() == "fast"
    assert time.time() - started < 1.5
    assert invoke(api, "asyncAndCallback").json() == "callback"


# ------------------------------------------------------------------------------------------
# Context
# ------------------------------------------------------------------------------------------

CONTEXT_APP = """
exports.handler = async (event, context) => {
  const a = context.getRemainingTimeInMillis();
  await new Promise((r) => setTimeout(r, 200));
  return {
    keys: Object.keys(context),
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    awsRequestId: context.awsRequestId,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    identity: context.identity === undefined ? "undefined" : context.identity,
    clientContext: context.clientContext === undefined ? "undefined" : context.clientContext,
    tenantId: context.tenantId === undefined ? "undefined" : context.tenantId,
    waits: context.callbackWaitsForEmptyEventLoop,
    remaining: [a, context.getRemainingTimeInMillis()],
    trace: process.env._X_AMZN_TRACE_ID === undefined ? "unset" : process.env._X_AMZN_TRACE_ID,
  };
};
"""


def test_context_fields(api, start):
    start({"index.js": CONTEXT_APP})
    trace = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
    rid = api.add_event({}, deadline_in_ms=5000, arn=ARN + ":prod", trace_id=trace)
    got = api.wait_post().json()
    a, b = got.pop("remaining")
    assert 4000 < a <= 5000 and 150 <= a - b <= 1000
    assert got == {
        # The RIC's property order (console.log(context) shows it).
        "keys": [
            "callbackWaitsForEmptyEventLoop", "succeed", "fail", "done", "functionVersion", "functionName",
            "memoryLimitInMB", "logGroupName", "logStreamName", "clientContext", "identity",
            "invokedFunctionArn", "awsRequestId", "tenantId", "getRemainingTimeInMillis",
        ],
        "functionName": "demo",
        "functionVersion": "$LATEST",
        "invokedFunctionArn": ARN + ":prod",
        "memoryLimitInMB": "256",  # a string, as on AWS
        "awsRequestId": rid,
        "logGroupName": "/aws/lambda/demo",
        "logStreamName": "2024/01/01/[$LATEST]0123456789abcdef",
        "identity": "undefined",
        "clientContext": "undefined",
        "tenantId": "undefined",
        "waits": True,
        "trace": trace,
    }
    # Without the header the variable is removed; an empty header counts as absent.
    assert invoke(api, {}).json()["trace"] == "unset"
    assert invoke(api, {}, trace_id="Root=1-b").json()["trace"] == "Root=1-b"
    assert invoke(api, {}, trace_id="").json()["trace"] == "unset"
    # Not clamped at zero, as in the RIC.
    assert invoke(api, {}, deadline_in_ms=-10000).json()["remaining"][0] < -9000


def test_client_context_identity_and_tenant_are_parsed(api, start):
    start({"index.js": CONTEXT_APP})
    cc = {"client": {"installation_id": "inst-1", "app_title": "My App"}, "custom": {"name": "caf\u00e9"}, "env": {"platform": "Android"}}
    cog = {"cognitoIdentityId": "us-east-1:abc", "cognitoIdentityPoolId": "us-east-1:pool"}
    # Header bytes are UTF-8 (http.server writes header text as latin-1, hence the round trip).
    cc_header = json.dumps(cc, ensure_ascii=False).encode("utf-8").decode("latin-1")
    got = invoke(api, {}, client_context=cc_header, cognito=json.dumps(cog), tenant="tenant-7").json()
    assert got["clientContext"] == cc
    assert got["identity"] == cog
    assert got["tenantId"] == "tenant-7"


def test_bad_client_context_fails_the_invocation(api, start):
    rt = start({"index.js": CONTEXT_APP})
    p = invoke(api, {}, client_context="{not json")
    assert p.kind == "error"
    doc = p.json()
    assert doc["errorType"] == "Error"
    assert doc["errorMessage"].startswith("Cannot parse ClientContext as json: SyntaxError: ")
    assert invoke(api, {}).kind == "response"
    assert rt.proc.poll() is None


def test_event_that_is_not_json_fails_the_invocation(api, start):
    start({"index.js": "exports.handler = async (e) => e;"})
    p = invoke(api, body=b"{not json")
    assert p.kind == "error"
    assert p.json()["errorType"] == "SyntaxError"
    assert invoke(api, {"k": 1}).json() == {"k": 1}


# ------------------------------------------------------------------------------------------
# Errors during invocation
# ------------------------------------------------------------------------------------------

ERRORS_APP = """
class ValidationError extends Error {
  constructor(m) { super(m); this.name = "ValidationError"; }
}
const kinds = {
  throwSync: () => { throw new TypeError("bad input"); },
  throwAsync: async () => { throw new ValidationError("not valid"); },
  rejectError: () => Promise.reject(new RangeError("too far")),
  rejectString: () => Promise.reject("plain string"),
  rejectNumber: () => Promise.reject(42),
  rejectObject: () => Promise.reject({ a: 1 }),
  rejectUndefined: () => Promise.reject(undefined),
  rejectNull: () => Promise.reject(null),
  rejectErrorLike: () => Promise.reject({ name: "Custom", message: "like an error", stack: "Custom: like an error\\n    at somewhere" }),
  withCode: async () => { throw Object.assign(new Error("coded"), { code: "E_CODE", extra: { n: 1 } }); },
  multiline: async () => { throw new Error("line one\\nline two"); },
  unicodeName: async () => { const e = new Error("m"); e.name = "Fehler\u00fc"; throw e; },
};
exports.handler = async (event) => kinds[event]();
"""


@pytest.mark.parametrize(
    "kind,error_type,message,trace0",
    [
        ("throwSync", "TypeError", "bad input", "TypeError: bad input"),
        ("throwAsync", "ValidationError", "not valid", "ValidationError: not valid"),
        ("rejectError", "RangeError", "too far", "RangeError: too far"),
        ("rejectString", "string", "plain string", None),
        ("rejectNumber", "number", "42", None),
        ("rejectObject", "object", "[object Object]", None),
        ("rejectUndefined", "string", "handled", None),
        ("rejectNull", "string", "handled", None),
        ("rejectErrorLike", "Custom", "like an error", "Custom: like an error"),
    ],
)
def test_error_documents(api, start, kind, error_type, message, trace0):
    rt = start({"index.js": ERRORS_APP})
    rid = api.add_event(kind)
    p = api.wait_post()
    assert p.kind == "error" and p.request_id == rid
    assert p.headers["content-type"] == "application/json"
    assert p.keys() == ["errorType", "errorMessage", "trace"]
    doc = p.json()
    assert (doc["errorType"], doc["errorMessage"]) == (error_type, message)
    if trace0 is None:
        assert doc["trace"] == []
    else:
        assert doc["trace"][0] == trace0 and len(doc["trace"]) > 1
    # lamina sends the type as a header too (the RIC's native client does not; callers never see it).
    assert p.headers["lambda-runtime-function-error-type"] == error_type
    # The log line: "Invoke Error" and the error as JSON (non-Errors wrapped in an Error first).
    line = rt.wait_stdout(line_re(rid, "ERROR", r"Invoke Error \t\{.*"))
    logged = json.loads(line.split("\tInvoke Error \t", 1)[1])
    if trace0 is None or kind == "rejectErrorLike":
        assert logged["errorType"] == "Error"
    else:
        assert logged["errorType"] == error_type and logged["errorMessage"] == message
        assert logged["stack"][0] == trace0
    assert invoke(api, "rejectString").kind == "error"  # still serving
    assert rt.proc.poll() is None


def test_error_details_in_log_header_and_xray_cause(api, start):
    rt = start({"index.js": ERRORS_APP})
    rid = api.add_event("withCode")
    p = api.wait_post()
    line = rt.wait_stdout(line_re(rid, "ERROR", r"Invoke Error \t.*"))
    logged = json.loads(line.split("\tInvoke Error \t", 1)[1])
    assert list(logged) == ["errorType", "errorMessage", "code", "extra", "stack"]
    assert logged["code"] == "E_CODE" and logged["extra"] == {"n": 1}
    cause = json.loads(p.headers["lambda-runtime-function-xray-error-cause"])
    assert cause["working_directory"] == rt.task_root
    assert cause["exceptions"][0]["type"] == "Error" and cause["exceptions"][0]["message"] == "coded"
    assert any(f["path"] == os.path.join(rt.task_root, "index.js") for f in cause["exceptions"][0]["stack"])
    # Newlines in the message: escaped in the log line's JSON, kept in the document.
    rid = api.add_event("multiline")
    assert api.wait_post().json()["errorMessage"] == "line one\nline two"
    rt.wait_stdout(line_re(rid, "ERROR", re.escape('Invoke Error \t{"errorType":"Error","errorMessage":"line one\\nline two",') + ".*"))
    # A header value Node could not send is percent-encoded; the document keeps the name.
    p = invoke(api, "unicodeName")
    assert p.json()["errorType"] == "Fehler\u00fc"
    assert p.headers["lambda-runtime-function-error-type"] == "Fehler%C3%BC"


def test_stack_trace_names_the_handler_as_on_aws(api, start):
    start({"index.mjs": "export const handler = async () => {\n  throw new Error('boom');\n};\n"})
    trace = invoke(api, {}).json()["trace"]
    assert trace[0] == "Error: boom"
    # AWS's runtime calls the handler as a method of its Runtime object.
    assert re.match(r"^    at Runtime\.handler \(file://.*/index\.mjs:2:9\)$", trace[1]), trace


def test_unserialisable_results(api, start):
    rt = start(
        {
            "index.js": """
            const circular = () => { const a = {}; a.self = a; return a; };
            const kinds = {
              circular: async () => circular(),
              bigint: async () => ({ n: 10n }),
              fn: async () => () => 1,
              callbackNoWait: (e, c, cb) => { c.callbackWaitsForEmptyEventLoop = false; cb(null, circular()); },
              callbackWaits: (e, c, cb) => cb(null, circular()),
            };
            exports.handler = (event, context, callback) => kinds[event](event, context, callback);
            """
        }
    )
    for kind in ("circular", "bigint", "callbackNoWait"):
        p = invoke(api, kind)
        assert p.kind == "error", kind
        assert (p.json()["errorType"], p.json()["errorMessage"]) == ("Error", "Unable to stringify response body")
    # JSON.stringify writes nothing for a function: the RIC's native client rejects that.
    assert (invoke(api, "fn").json()["errorType"], invoke(api, "fn").json()["errorMessage"]) == ("TypeError", "Wrong arguments")
    # With a callback that waits for the empty loop the failure happens outside the handler: an
    # uncaught exception, as in the RIC (error posted, process exits 129).
    rid = api.add_event("callbackWaits")
    p = api.wait_post()
    assert p.request_id == rid and p.json()["errorMessage"] == "Unable to stringify response body"
    assert rt.wait_exit() == 129
    rt.wait_stdout(line_re(rid, "ERROR", r"Uncaught Exception \t\{\"errorType\":\"Error\",\"errorMessage\":\"Unable to stringify response body\".*"))


def test_uncaught_exception_during_invocation_exits_129(api, start):
    rt = start(
        {
            "index.js": """
            exports.handler = async () => {
              setTimeout(() => { throw new SyntaxError("from a timer"); }, 10);
              await new Promise((r) => setTimeout(r, 5000));
            };
            """
        }
    )
    rid = api.add_event({})
    p = api.wait_post()
    assert p.kind == "error" and p.request_id == rid
    assert (p.json()["errorType"], p.json()["errorMessage"]) == ("SyntaxError", "from a timer")
    assert rt.wait_exit() == 129
    rt.wait_stdout(line_re(rid, "ERROR", r"Uncaught Exception \t\{\"errorType\":\"SyntaxError\".*"))


def test_unhandled_rejection_during_invocation_exits_128(api, start):
    rt = start(
        {
            "index.mjs": """
            export const handler = async () => {
              Promise.reject(new TypeError("floating"));
              await new Promise((r) => setTimeout(r, 5000));
            };
            """
        }
    )
    rid = api.add_event({})
    p = api.wait_post()
    assert p.kind == "error" and p.request_id == rid
    doc = p.json()
    assert (doc["errorType"], doc["errorMessage"]) == ("Runtime.UnhandledPromiseRejection", "TypeError: floating")
    assert rt.wait_exit() == 128
    line = rt.wait_stdout(line_re(rid, "ERROR", r"Unhandled Promise Rejection \t.*"))
    logged = json.loads(line.split("\tUnhandled Promise Rejection \t", 1)[1])
    assert logged["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert logged["reason"]["errorType"] == "TypeError" and logged["promise"] == {}


# ------------------------------------------------------------------------------------------
# Init errors
# ------------------------------------------------------------------------------------------


def _init_error(api, rt, code=129, next_calls=0):
    post = api.wait_post()
    assert post.kind == "init_error", post
    assert rt.wait_exit() == code
    assert api.next_calls <= next_calls
    assert post.keys() == ["errorType", "errorMessage", "trace"]
    assert post.headers["lambda-runtime-function-error-type"] == post.json()["errorType"]
    return post


@pytest.mark.parametrize(
    "files,handler,error_type,message",
    [
        ({"index.js": "exports.handler = async () => {;"}, "index.handler", "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected end of input"),
        ({"index.mjs": "export const handler = async () => {;"}, "index.handler", "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected end of input"),
        ({"index.js": "exports.handler = async () => 1;"}, "missing.handler", "Runtime.ImportModuleError",
         "Error: Cannot find module 'missing'\nRequire stack:\n- " + REQUIRE_ANCHOR),
        ({"index.js": "require('not-installed');"}, "index.handler", "Runtime.ImportModuleError",
         "Error: Cannot find module 'not-installed'\nRequire stack:\n- {root}/index.js\n- " + REQUIRE_ANCHOR),
        # An ES module's missing import is not MODULE_NOT_FOUND: reported as itself, as by the RIC.
        ({"index.mjs": "import x from 'not-installed';"}, "index.handler", "Error",
         "Cannot find package 'not-installed' imported from {root}/index.mjs"),
        ({"index.js": "exports.other = async () => 1;"}, "index.handler", "Runtime.HandlerNotFound", "index.handler is undefined or not exported"),
        ({"index.js": "exports.handler = 42;"}, "index.handler", "Runtime.HandlerNotFound", "index.handler is not a function"),
        ({"index.js": "exports.handler = async () => 1;"}, "index", "Runtime.MalformedHandlerName", "Bad handler"),
        ({"index.js": "exports.handler = async () => 1;"}, "../task/index.handler", "Runtime.MalformedHandlerName",
         "'../task/index.handler' is not a valid handler name. Use absolute paths when specifying root directories in handler names."),
        ({"index.js": "console.log('init output');\nthrow new RangeError('init boom');"}, "index.handler", "RangeError", "init boom"),
    ],
    ids=["syntax-cjs", "syntax-esm", "missing-module", "missing-require", "missing-import", "not-exported", "not-a-function",
         "no-dot", "dot-dot", "global-code-throws"],
)
def test_init_errors(api, start, files, handler, error_type, message):
    rt = start(files, handler=handler)
    post = _init_error(api, rt)
    doc = post.json()
    assert doc["errorType"] == error_type
    assert doc["errorMessage"] == message.replace("{root}", rt.task_root)
    assert doc["trace"][0].startswith(error_type)
    line = rt.wait_stdout(line_re("undefined", "ERROR", r"Uncaught Exception \t\{.*"))
    logged = json.loads(line.split("\tUncaught Exception \t", 1)[1])
    assert (logged["errorType"], logged["errorMessage"]) == (doc["errorType"], doc["errorMessage"])


def test_unhandled_rejection_during_init_exits_128(api, start):
    rt = start({"index.js": "Promise.reject(new Error('init reject'));\nexports.handler = async () => 1;"})
    # As with the RIC, the first /next may already be on its way when the rejection is reported.
    post = _init_error(api, rt, code=128, next_calls=1)
    assert post.json()["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert post.json()["errorMessage"] == "Error: init reject"


def test_module_top_level_await(api, start):
    start({"index.mjs": "const v = await new Promise((r) => setTimeout(() => r('awaited'), 50));\nexport const handler = async () => v;"})
    assert invoke(api, {}).json() == "awaited"


def test_streaming_is_not_supported(api, start):
    rt = start({"index.mjs": "export const handler = awslambda.streamifyResponse(async (e, stream) => stream.end());"})
    post = _init_error(api, rt)
    assert post.json()["errorType"] == "Error"
    assert "not supported by lamina" in post.json()["errorMessage"]
    rt = start({"index.mjs": "export const handler = async () => typeof globalThis.awslambda;"}, env={"AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA": "1"})
    assert invoke(api, {}).json() == "undefined"


def test_callback_handler_warning_at_init(api, start):
    rt = start({"index.js": "exports.handler = (e, c, cb) => cb(null, 1);"})
    assert invoke(api, {}).json() == 1
    warning = [ln for ln in rt.stdout_lines() if CALLBACK_WARNING in ln]
    assert len(warning) == 1 and re.match(line_re("undefined", "WARN", ".*"), warning[0])
    for files, env in (
        ({"index.js": "exports.handler = async (e, c, cb) => 1;"}, None),
        ({"index.js": "exports.handler = (e, c) => c.succeed(1);"}, None),
        ({"index.js": "exports.handler = (e, c, cb) => cb(null, 1);"}, {"AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING": ""}),
    ):
        rt = start(files, env=env)
        assert invoke(api, {}).json() == 1
        assert not any(CALLBACK_WARNING in ln for ln in rt.stdout_lines()), files


# ------------------------------------------------------------------------------------------
# Console
# ------------------------------------------------------------------------------------------

LOG_APP = """
console.log("at init");
exports.handler = async (event, context) => {
  console.log("hello %s", "world", { n: 1 });
  console.info("info", 42);
  console.warn("careful");
  console.error("oops");
  console.debug("debugging");
  console.trace("tracing");
  console.fatal("fatal");
  console.log();
  console.log("multi\\nline\\nmessage");
  process.stderr.write("to stderr\\n");
  setTimeout(() => console.log("after the response"), 100);
  return "done";
};
"""


def test_console_lines(api, start):
    rt = start({"index.js": LOG_APP})
    rid = api.add_event({})
    assert api.wait_post().json() == "done"
    rt.wait_stdout("after the response")
    lines = rt.stdout_lines()
    assert re.match(line_re("undefined", "INFO", "at init"), lines[0]), lines
    expected = [
        ("INFO", "hello world { n: 1 }"),
        ("INFO", "info 42"),
        ("WARN", "careful"),
        ("ERROR", "oops"),
        ("DEBUG", "debugging"),
        ("TRACE", "tracing"),  # no stack trace, as in the RIC
        ("FATAL", "fatal"),
        ("INFO", "undefined"),  # util.format() of nothing
        ("INFO", "multi\rline\rmessage"),
        # The request id stays the last invocation's until the next one.
        ("INFO", "after the response"),
    ]
    for i, (level, message) in enumerate(expected):
        assert re.match(line_re(rid, level, re.escape(message)), lines[1 + i]), (i, lines)
    deadline = time.time() + 5
    while "to stderr" not in rt.stderr_text() and time.time() < deadline:
        time.sleep(0.02)
    assert rt.stderr_text() == "to stderr\n"


def test_console_level_filter(api, start):
    rt = start({"index.js": LOG_APP}, env={"AWS_LAMBDA_LOG_LEVEL": "warn"})
    api.add_event({})
    api.wait_post()
    rt.wait_stdout("\tFATAL\tfatal$")
    levels = [ln.split("\t")[2] for ln in rt.stdout_lines() if ln]
    assert levels == ["WARN", "ERROR", "FATAL"]


def test_json_log_format(api, start):
    files = {
        "index.js": """
        console.log("at init");
        exports.handler = async (event) => {
          console.log("a", 1);
          console.warn({ k: "v" });
          console.error("failed:", new TypeError("t"));
          if (event.fail) throw new RangeError("r");
          return 1;
        };
        """
    }
    rt = start(files, env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    rid = api.add_event({}, tenant="t-1")
    api.wait_post()
    rt.wait_stdout('"message":"failed: ')
    docs = [json.loads(ln) for ln in rt.stdout_lines() if ln]
    assert list(docs[0]) == ["timestamp", "level", "message"]  # no request id yet
    assert re.match("^%s$" % TS, docs[0]["timestamp"])
    assert docs[1] == {"timestamp": docs[1]["timestamp"], "level": "INFO", "requestId": rid, "tenantId": "t-1", "message": "a 1"}
    assert docs[2]["level"] == "WARN" and docs[2]["message"] == {"k": "v"}
    assert docs[3]["level"] == "ERROR" and docs[3]["message"].startswith("failed: TypeError: t\n")
    assert (docs[3]["errorType"], docs[3]["errorMessage"]) == ("TypeError", "t")
    assert docs[3]["stackTrace"][0] == "TypeError: t"
    # An invocation error is logged as the error itself.
    rid = api.add_event({"fail": True})
    assert api.wait_post().json()["errorType"] == "RangeError"
    line = rt.wait_stdout('"requestId":"%s".*"errorType":"RangeError"' % rid)
    err = json.loads(line)["message"]
    assert (err["errorType"], err["errorMessage"], err["stackTrace"][0]) == ("RangeError", "r", "RangeError: r")


# ------------------------------------------------------------------------------------------
# Connection handling
# ------------------------------------------------------------------------------------------


def test_request_id_encoding_and_reconnects(api, start):
    rt = start({"index.js": "exports.handler = async (e) => e;"})
    p = invoke(api, 1, request_id="id with space/slash")
    assert p.raw_id == "id%20with%20space%2Fslash"
    assert invoke(api, 2, close=True).json() == 2  # /next answered with Connection: close
    rid = str(uuid.uuid4())
    api.drop_after_post.add(rid)  # the server closes the connection after the post
    assert invoke(api, 3, request_id=rid).json() == 3
    assert invoke(api, 4).json() == 4
    assert rt.proc.poll() is None
    assert len(api.connections) == 3


def test_rejected_response_is_left_to_the_server(api, start):
    # The daemon answers an oversized result with 413 and completes the invocation itself; like the
    # RIC the runtime goes on to the next event.
    rt = start({"index.js": "exports.handler = async (e) => 'x'.repeat(e);"})
    rid = str(uuid.uuid4())
    api.post_status[rid] = 413
    assert len(invoke(api, 7 * 1024 * 1024, request_id=rid).body) == 7 * 1024 * 1024 + 2
    assert invoke(api, 3).json() == "xxx"
    assert rt.proc.poll() is None


def test_exits_when_the_runtime_api_goes_away(api, start):
    rt = start({"index.js": "exports.handler = async (e) => e;"})
    invoke(api, 1)
    deadline = time.time() + 10
    while api.next_calls < 2 and time.time() < deadline:
        time.sleep(0.02)
    api.stop()
    assert rt.wait_exit(timeout=20) == 129
    rt.wait_stdout(r"\tINFO\tUnexpected Top Level Error: Error: ")


def test_uncaught_exception_while_waiting_for_next_exits(api, start):
    # A stale timer throws while /next is outstanding: the error post must not queue behind it.
    rt = start({"index.js": "exports.handler = async () => { setTimeout(() => { throw new Error('late'); }, 200); return 1; };"})
    rid = api.add_event({})
    assert api.wait_post().json() == 1
    p = api.wait_post()
    assert p.kind == "error" and p.request_id == rid and p.json()["errorMessage"] == "late"
    assert rt.wait_exit() == 129


# ------------------------------------------------------------------------------------------
# Compared with AWS's runtime interface client
# ------------------------------------------------------------------------------------------

RIC_ENTRY = os.path.join(RIC, "dist", "index.mjs")
HAVE_RIC = os.path.exists(RIC_ENTRY) and os.path.exists(os.path.join(RIC, "dist", "rapid-client.node"))

COMPARE_APP = """
let calls = 0;
const circular = () => { const a = {}; a.self = a; return a; };
const kinds = {
  ok: async (e, c) => ({ calls: ++calls, fn: c.functionName, mem: c.memoryLimitInMB, waits: c.callbackWaitsForEmptyEventLoop }),
  inspect: async (e, c) => { console.log(c); return Object.keys(c); },
  logs: async () => { console.log("%s=%d", "x", 5, { deep: { er: [1, 2] } }); console.warn("w\\nx"); console.error(new Error("as a value")); return null; },
  throws: async () => { throw new TypeError("ric boom"); },
  throwsSync: () => { throw new RangeError("sync boom"); },
  rejectsString: () => Promise.reject("plain string"),
  rejectsObject: () => Promise.reject({ a: 1 }),
  callback: (e, c, cb) => setTimeout(() => cb(null, { via: "callback" }), 5),
  callbackError: (e, c, cb) => cb(Object.assign(new Error("cb error"), { code: "E1" })),
  failBare: (e, c) => c.fail(),
  succeed: (e, c) => c.succeed("succeeded"),
  twice: (e, c, cb) => { cb(null, "first"); c.succeed("second"); },
  noAnswer: () => "ignored",
  circular: async () => circular(),
  undef: async () => undefined,
};
exports.handler = (event, context, callback) => kinds[event](event, context, callback);
"""


def _normalise_trace(trace, task_root):
    # Keep the message line and the user's frames; the runtime's own frames differ in file and line.
    return [t for i, t in enumerate(trace) if i == 0 or task_root in t]


def _normalise_line(line, task_root):
    m = re.match(r"^%s\t[^\t]*\t([A-Z]+)\t(.*)$" % TS, line, re.S)
    if not m:
        return line
    level, message = m.groups()
    for label in ("Invoke Error \t", "Uncaught Exception \t"):
        if message.startswith(label):
            doc = json.loads(message[len(label):])
            doc["stack"] = _normalise_trace(doc.get("stack", []), task_root)
            return (level, label, doc)
    return (level, re.sub(r"\(/[^)]*\)|file:///\S+", "<frame>", message.replace(task_root, "<root>")))


def _run_and_record(argv, task_root, handler, events, env):
    """Runs one client on its own fake Runtime API through `events`; returns (posts, log lines)."""
    api = FakeRuntimeApi()
    rt = Runtime(argv, api, task_root, handler, env)
    try:
        posts = []
        for ev in events:
            api.add_event(ev, request_id="req-%d" % len(posts))
            p = api.wait_post()
            doc = p.body
            if p.kind != "response":
                doc = p.json()
                if "trace" in doc:
                    doc["trace"] = _normalise_trace(doc["trace"], task_root)
            posts.append((p.kind, doc, p.headers.get("content-type")))
            if p.kind == "init_error":
                break
        time.sleep(0.1)
        lines = [_normalise_line(ln, task_root) for ln in rt.stdout_lines() if ln]
        return posts, lines
    finally:
        rt.kill()
        api.stop()


@pytest.mark.skipif(not HAVE_RIC, reason="aws-lambda-ric is not installed (make integration: npm ci in tests/integration/node)")
@pytest.mark.parametrize(
    "files,handler,events",
    [
        ({"index.js": COMPARE_APP}, "index.handler",
         ["ok", "ok", "inspect", "logs", "throws", "throwsSync", "rejectsString", "rejectsObject", "callback", "callbackError",
          "failBare", "succeed", "twice", "noAnswer", "circular", "undef"]),
        ({"index.js": "exports.other = 1;"}, "index.handler", ["x"]),
        ({"index.js": "exports.handler = async () => {;"}, "index.handler", ["x"]),
        ({"index.mjs": "import 'not-installed';\nexport const handler = async () => 1;"}, "index.handler", ["x"]),
        ({"index.js": "console.log('init');\nthrow new Error('global');"}, "index.handler", ["x"]),
        ({"index.js": "exports.handler = async () => 1;"}, "index", ["x"]),
    ],
    ids=["invocations", "handler-not-found", "syntax-error", "missing-import", "global-throw", "malformed"],
)
def test_matches_aws_lambda_ric(node, tmp_path, files, handler, events):
    root = str(tmp_path / "task")
    _write_files(root, files)
    runner = str(tmp_path / "ric.mjs")
    with open(runner, "w") as f:
        f.write("import { run } from %s;\nawait run(process.cwd(), process.env._HANDLER);\n" % json.dumps(RIC_ENTRY))
    # aws-lambda-ric 3.3.0 predates the callback-handler warning; leave it out of the comparison.
    env = {"AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING": "1"}
    theirs = _run_and_record([node, runner], root, handler, events, env)
    ours = _run_and_record([node, BOOTSTRAP], root, handler, events, env)
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1]
