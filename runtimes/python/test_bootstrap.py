"""Tests for lamina's Python runtime client (runtimes/python/bootstrap.py).

The unit under test is bootstrap.py running as a child process, exactly as the daemon starts it
(``<python> -u bootstrap.py`` with cwd = LAMBDA_TASK_ROOT). A small fake Runtime API server
runs in-process (http.server on 127.0.0.1:0) and records what the client sends.

Every test runs once per Python interpreter found on this host (3.8+): the test's own interpreter,
/usr/bin/python3.X and /root/.pyenv/versions/3.*/bin/python3. Set LAMINA_TEST_PYTHONS to a
os.pathsep-separated list of interpreters to choose them explicitly.

Run: /usr/bin/python3 -m pytest runtimes/python/test_bootstrap.py
"""

import glob
import http.server
import json
import os
import queue
import re
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from urllib.parse import unquote

import pytest

BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bootstrap.py")
ARN = "arn:aws:lambda:us-east-1:123456789012:function:demo"
NBSP = "\u00a0"
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


# ------------------------------------------------------------------------------------------
# Interpreters
# ------------------------------------------------------------------------------------------


def _version_of(python):
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    try:
        return tuple(int(x) for x in out.stdout.decode().strip().split("."))
    except ValueError:
        return None


def _discover_pythons():
    explicit = os.environ.get("LAMINA_TEST_PYTHONS")
    if explicit:
        return [p for p in explicit.split(os.pathsep) if p]
    candidates = [sys.executable]
    candidates += sorted(p for p in glob.glob("/usr/bin/python3.*") if re.search(r"python3\.\d+$", p))
    candidates += sorted(p for p in glob.glob("/usr/local/bin/python3.*") if re.search(r"python3\.\d+$", p))
    candidates += sorted(glob.glob("/root/.pyenv/versions/3.*/bin/python3"))
    found = {}
    for c in candidates:
        if not os.access(c, os.X_OK):
            continue
        v = _version_of(c)
        if v is None or v < (3, 8) or v in found:
            continue
        found[v] = c
    return [found[v] for v in sorted(found)]


PYTHONS = _discover_pythons()


@pytest.fixture(params=PYTHONS, ids=lambda p: "py%d.%d-%s" % (_version_of(p) + (os.path.basename(os.path.dirname(os.path.dirname(p))),)))
def python(request):
    return request.param


# ------------------------------------------------------------------------------------------
# Fake Runtime API
# ------------------------------------------------------------------------------------------


class Post(object):
    def __init__(self, kind, request_id, headers, body):
        self.kind = kind  # "response" | "error" | "init_error"
        self.request_id = request_id
        self.headers = headers  # lower-cased names
        self.body = body

    def json(self):
        return json.loads(self.body)

    def ordered_json(self):
        return json.loads(self.body, object_pairs_hook=lambda pairs: [list(p) for p in pairs])

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
        self.drop_after_post = set()  # request ids whose post answer is followed by a silent close
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
                    ("Lambda-Runtime-Aws-Request-Id", ev["id"]),
                    ("Lambda-Runtime-Deadline-Ms", str(ev["deadline"])),
                    ("Lambda-Runtime-Invoked-Function-Arn", ev.get("arn", ARN)),
                ]
                if ev.get("content_type") is not None:
                    headers.append(("Content-Type", ev["content_type"]))
                for name in ("trace_id", "client_context", "cognito", "tenant"):
                    if ev.get(name) is not None:
                        headers.append((ev_header_name(name), ev[name]))
                if ev.get("close"):
                    headers.append(("Connection", "close"))
                    self.close_connection = True
                if ev.get("interim"):
                    self.wfile.write(b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n")
                if ev.get("chunked"):
                    self.send_response(200)
                    for k, v in headers:
                        self.send_header(k, v)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    body = ev["body"]
                    half = len(body) // 2
                    for part in (body[:half], body[half:]):
                        if part:
                            self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
                    self.wfile.write(b"0\r\nX-Trailer: t\r\n\r\n")
                    self.wfile.flush()
                    return
                self._reply(200, ev["body"], headers)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                m = re.match(r"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$", self.path)
                if m:
                    rid = unquote(m.group(1))
                    post = Post(m.group(2), rid, hdrs, body)
                    post.raw_id = m.group(1)
                    api.posts.put(post)
                    status = api.post_status.get(rid, 202)
                    self._reply(status, b'{"status":"OK"}' if status == 202 else b'{"errorType":"X"}')
                    if rid in api.drop_after_post:
                        self.close_connection = True
                    return
                if self.path == "/2018-06-01/runtime/init/error":
                    api.posts.put(Post("init_error", None, hdrs, body))
                    self._reply(202, b'{"status":"OK"}')
                    return
                self._reply(404, b'{"errorType":"InvalidRequest"}')

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
        ev = {
            "id": rid,
            "body": body,
            "deadline": int(time.time() * 1000) + deadline_in_ms,
            "content_type": "application/json",
        }
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


def ev_header_name(name):
    return {
        "trace_id": "Lambda-Runtime-Trace-Id",
        "client_context": "Lambda-Runtime-Client-Context",
        "cognito": "Lambda-Runtime-Cognito-Identity",
        "tenant": "Lambda-Runtime-Aws-Tenant-Id",
    }[name]


# ------------------------------------------------------------------------------------------
# Runtime process
# ------------------------------------------------------------------------------------------


class Runtime(object):
    def __init__(self, python, api, task_root, handler, env=None):
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
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        e.update(env or {})
        self.proc = subprocess.Popen(
            [python, "-u", BOOTSTRAP],
            cwd=task_root,
            env=e,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
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


@pytest.fixture
def start(python, api, tmp_path):
    runtimes = []

    def _start(files, handler="app.handler", env=None):
        root = tmp_path / "task"
        for name, text in files.items():
            p = root / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(text))
        root.mkdir(exist_ok=True)
        rt = Runtime(python, api, str(root), handler, env)
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


# ------------------------------------------------------------------------------------------
# Handlers used by several tests
# ------------------------------------------------------------------------------------------

ECHO_APP = """
import json, os, sys, logging

LOADS = globals().get("LOADS", 0) + 1
COUNTER = {"n": 0}

def handler(event, context):
    COUNTER["n"] += 1
    return {"event": event, "n": COUNTER["n"], "loads": LOADS}

def ctx(event, context):
    cc = context.client_context
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity": [type(context.identity).__name__, context.identity.cognito_identity_id,
                     context.identity.cognito_identity_pool_id],
        "client_context": None if cc is None else {
            "type": type(cc).__name__,
            "custom": cc.custom,
            "env": cc.env,
            "client": None if cc.client is None else {
                "type": type(cc.client).__name__,
                "installation_id": cc.client.installation_id,
                "app_title": cc.client.app_title,
                "app_version_name": cc.client.app_version_name,
                "app_version_code": cc.client.app_version_code,
                "app_package_name": cc.client.app_package_name,
            },
        },
        "tenant_id": context.tenant_id,
        "remaining": context.get_remaining_time_in_millis(),
        "trace_env": os.environ.get("_X_AMZN_TRACE_ID"),
        "context_type": type(context).__name__,
    }

def path(event, context):
    return {"sys_path": sys.path[:3], "cwd": os.getcwd()}
"""


# ------------------------------------------------------------------------------------------
# Invocation tests
# ------------------------------------------------------------------------------------------


def test_success_response_and_warm_state(api, start):
    rt = start({"app.py": ECHO_APP})
    p1 = invoke(api, {"hello": "world"})
    assert p1.kind == "response"
    assert p1.json() == {"event": {"hello": "world"}, "n": 1, "loads": 1}
    assert p1.headers["content-type"] == "application/json"
    # Global state survives; module imported once; one keep-alive connection for everything.
    p2 = invoke(api, [1, 2, 3])
    p3 = invoke(api, "just a string")
    assert p2.json() == {"event": [1, 2, 3], "n": 2, "loads": 1}
    assert p3.json() == {"event": "just a string", "n": 3, "loads": 1}
    assert len(api.connections) == 1
    assert rt.proc.poll() is None


def test_response_serialisation(api, start):
    start(
        {
            "app.py": """
            import decimal
            def none(event, context):
                return None
            def text(event, context):
                return "caf\\u00e9"
            def raw(event, context):
                return b"\\x00\\x01binary"
            def dec(event, context):
                return {"a": decimal.Decimal("1.50"), "b": decimal.Decimal("NaN"), "c": [decimal.Decimal("10")], "f": 1.5}
            def nested_bytes(event, context):
                return {"b": b"abc"}
            def nan(event, context):
                return float("nan")
            def dispatch(event, context):
                return globals()[event](event, context)
            """
        },
        handler="app.dispatch",
    )
    assert invoke(api, "none").body == b"null"
    assert invoke(api, "text").body == b'"caf\\u00e9"'  # python3.11 runtime: ensure_ascii
    p = invoke(api, "raw")
    assert p.body == b"\x00\x01binary"
    assert p.headers["content-type"] == "application/unknown"
    assert invoke(api, "dec").body == b'{"a": 1.50, "b": NaN, "c": [10], "f": 1.5}'
    assert invoke(api, "nested_bytes").body == b'{"b": "abc"}'
    assert invoke(api, "nan").body == b"NaN"


def test_large_response_and_chunked_next_answer(api, start):
    start({"app.py": "def handler(e, c):\n    return {'echo': e, 'pad': 'x' * 300000}\n"})
    p = invoke(api, {"k": "v" * 1000}, chunked=True, interim=True)
    doc = p.json()
    assert doc["echo"] == {"k": "v" * 1000}
    assert len(doc["pad"]) == 300000
    assert int(p.headers["content-length"]) == len(p.body)
    p = invoke(api, {"again": 1})
    assert p.json()["echo"] == {"again": 1}
    assert len(api.connections) == 1


def test_python312_runtime_writes_unicode_unescaped(api, start):
    start({"app.py": "def handler(e, c):\n    return {'k': 'caf\\u00e9 \\u2603'}\n"}, env={"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"})
    p = invoke(api, {})
    assert p.body == '{"k": "caf\u00e9 \u2603"}'.encode("utf-8")


def test_context_fields(api, start):
    start({"app.py": ECHO_APP}, handler="app.ctx")
    rid = api.add_event({}, deadline_in_ms=5000, arn=ARN + ":prod", trace_id="Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
    post = api.wait_post()
    assert post.kind == "response", post
    got = post.json()
    remaining = got.pop("remaining")
    assert 3000 < remaining <= 5000
    assert got == {
        "function_name": "demo",
        "function_version": "$LATEST",
        "invoked_function_arn": ARN + ":prod",
        "memory_limit_in_mb": "256",  # a str on AWS too (awslambdaric copies the env var)
        "aws_request_id": rid,
        "log_group_name": "/aws/lambda/demo",
        "log_stream_name": "2024/01/01/[$LATEST]0123456789abcdef",
        "identity": ["CognitoIdentity", None, None],
        "client_context": None,
        "tenant_id": None,
        "trace_env": "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
        "context_type": "LambdaContext",
    }


def test_remaining_time_never_negative(api, start):
    start({"app.py": ECHO_APP}, handler="app.ctx")
    p = invoke(api, {}, deadline_in_ms=-10000)
    assert p.json()["remaining"] == 0


def test_remaining_time_counts_down(api, start):
    start(
        {
            "app.py": """
            import time
            def handler(event, context):
                a = context.get_remaining_time_in_millis()
                time.sleep(0.3)
                b = context.get_remaining_time_in_millis()
                return [a, b]
            """
        }
    )
    a, b = invoke(api, {}, deadline_in_ms=10000).json()
    assert 9000 < a <= 10000
    assert 250 <= a - b <= 1000


def test_client_context_cognito_and_tenant(api, start):
    start({"app.py": ECHO_APP}, handler="app.ctx")
    cc = {
        "client": {
            "installation_id": "inst-1",
            "app_title": "My App",
            "app_version_name": "1.0",
            "app_version_code": "42",
            "app_package_name": "com.example",
        },
        "custom": {"k": "v", "name": "caf\u00e9"},
        "env": {"platform": "Android"},
    }
    cog = {"cognitoIdentityId": "us-east-1:abc", "cognitoIdentityPoolId": "us-east-1:pool"}
    # Header bytes are UTF-8 (http.server writes header text as latin-1, hence the round trip).
    cc_header = json.dumps(cc, ensure_ascii=False).encode("utf-8").decode("latin-1")
    got = invoke(api, {}, client_context=cc_header, cognito=json.dumps(cog), tenant="tenant-7").json()
    assert got["client_context"] == {
        "type": "ClientContext",
        "custom": {"k": "v", "name": "caf\u00e9"},
        "env": {"platform": "Android"},
        "client": dict(cc["client"], type="Client"),
    }
    assert got["identity"] == ["CognitoIdentity", "us-east-1:abc", "us-east-1:pool"]
    assert got["tenant_id"] == "tenant-7"
    # Client context without "client": client is None, other fields None.
    got = invoke(api, {}, client_context=json.dumps({"custom": {"a": 1}})).json()
    assert got["client_context"] == {"type": "ClientContext", "custom": {"a": 1}, "env": None, "client": None}
    assert got["tenant_id"] is None


def test_bad_client_context_is_a_context_unmarshal_error(api, start):
    start({"app.py": ECHO_APP}, handler="app.ctx")
    p = invoke(api, {}, client_context="{not json")
    assert p.kind == "error"
    doc = p.json()
    assert doc["errorType"] == "Runtime.LambdaContextUnmarshalError"
    assert doc["errorMessage"].startswith("Unable to parse Client Context JSON: ")
    assert doc["stackTrace"] == []


def test_trace_id_set_and_cleared(api, start):
    start({"app.py": ECHO_APP}, handler="app.ctx")
    assert invoke(api, {}, trace_id="Root=1-a;Sampled=1").json()["trace_env"] == "Root=1-a;Sampled=1"
    assert invoke(api, {}).json()["trace_env"] is None  # header absent -> variable deleted
    assert invoke(api, {}, trace_id="Root=1-b").json()["trace_env"] == "Root=1-b"
    assert invoke(api, {}, trace_id="").json()["trace_env"] is None  # empty header == absent


def test_non_json_content_type_passes_raw_bytes(api, start):
    start({"app.py": "def handler(e, c):\n    return [type(e).__name__, e.decode()]\n"})
    p = invoke(api, body=b"not json", content_type="application/octet-stream")
    assert p.json() == ["bytes", "not json"]


def test_sys_path_and_cwd(api, start, python):
    rt = start({"app.py": ECHO_APP}, handler="app.path")
    got = invoke(api, {}).json()
    ver = "%d.%d" % _version_of(python)
    assert got["sys_path"] == [rt.task_root, "/opt/python/lib/python%s/site-packages" % ver, "/opt/python"]
    assert os.path.realpath(got["cwd"]) == os.path.realpath(rt.task_root)


def test_handler_in_package_with_slash_or_dots(api, start):
    files = {"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/app.py": "def handler(e, c):\n    return __name__\n"}
    start(files, handler="pkg/sub/app.handler")
    assert invoke(api, {}).json() == "pkg.sub.app"


def test_handler_in_package_with_dots(api, start):
    files = {"pkg/__init__.py": "", "pkg/app.py": "def handler(e, c):\n    return __name__\n"}
    start(files, handler="pkg.app.handler")
    assert invoke(api, {}).json() == "pkg.app"


# ------------------------------------------------------------------------------------------
# Errors during invocation
# ------------------------------------------------------------------------------------------

RAISING_APP = """\
import logging

def inner():
    raise ValueError('boom')

def handler(event, context):
    inner()

def ok(event, context):
    return "ok"

def empty(event, context):
    raise KeyError

def custom(event, context):
    class MyError(Exception):
        pass
    raise MyError("multi\\nline")

def dispatch(event, context):
    return globals()[event](event, context)
"""


def test_handler_exception_error_document(api, start):
    rt = start({"app.py": RAISING_APP}, handler="app.dispatch")
    rid = api.add_event("handler")
    p = api.wait_post()
    assert p.kind == "error" and p.request_id == rid
    assert p.headers["content-type"] == "application/json"
    assert p.headers["lambda-runtime-function-error-type"] == "ValueError"
    app = os.path.join(rt.task_root, "app.py")
    frames = [
        '  File "%s", line 21, in dispatch\n    return globals()[event](event, context)\n' % app,
        '  File "%s", line 7, in handler\n    inner()\n' % app,
        "  File \"%s\", line 4, in inner\n    raise ValueError('boom')\n" % app,
    ]
    # Field set and order as awslambdaric's make_error.
    assert p.ordered_json() == [
        ["errorMessage", "boom"],
        ["errorType", "ValueError"],
        ["requestId", rid],
        ["stackTrace", frames],
    ]
    cause = json.loads(p.headers["lambda-runtime-function-xray-error-cause"])
    assert cause["exceptions"][0]["type"] == "ValueError"
    assert cause["exceptions"][0]["message"] == "boom"
    assert [s["label"] for s in cause["exceptions"][0]["stack"]] == ["dispatch", "handler", "inner"]
    assert cause["paths"] == [app]
    # The error is logged on one line: CR separators, NO-BREAK SPACE indentation.
    line = rt.wait_stdout(r"^\[ERROR\] ValueError: boom")
    expected = "\r".join(
        [
            "[ERROR] ValueError: boom",
            "Traceback (most recent call last):",
            NBSP * 2 + 'File "%s", line 21, in dispatch' % app,
            NBSP * 4 + "return globals()[event](event, context)",
            NBSP * 2 + 'File "%s", line 7, in handler' % app,
            NBSP * 4 + "inner()",
            NBSP * 2 + 'File "%s", line 4, in inner' % app,
            NBSP * 4 + "raise ValueError('boom')",
        ]
    )
    assert line == expected
    # The runtime keeps serving.
    assert invoke(api, "ok").json() == "ok"
    assert len(api.connections) == 1


def test_exception_without_message_and_multiline_message(api, start):
    rt = start({"app.py": RAISING_APP}, handler="app.dispatch")
    doc = invoke(api, "empty").json()
    assert doc["errorType"] == "KeyError" and doc["errorMessage"] == ""
    rt.wait_stdout(r"^\[ERROR\] KeyError\rTraceback \(most recent call last\):\r")
    p = invoke(api, "custom")
    assert p.json()["errorType"] == "MyError"
    assert p.json()["errorMessage"] == "multi\nline"
    assert p.headers["lambda-runtime-function-error-type"] == "MyError"
    # A newline inside the message becomes CR too, so that the error stays one log line.
    rt.wait_stdout("^\\[ERROR\\] MyError: multi\rline\rTraceback \\(most recent call last\\):\r")


def test_marshal_error(api, start):
    rt = start({"app.py": "def handler(e, c):\n    return {'s': {1, 2}}\n"})
    p = invoke(api, {})
    assert p.kind == "error"
    assert p.headers["lambda-runtime-function-error-type"] == "Runtime.MarshalError"
    assert p.ordered_json() == [
        ["errorMessage", "Unable to marshal response: Object of type set is not JSON serializable"],
        ["errorType", "Runtime.MarshalError"],
        ["requestId", p.request_id],
        ["stackTrace", []],
    ]
    line = rt.wait_stdout(r"^\[ERROR\] Runtime\.MarshalError")
    assert line == (
        "[ERROR] Runtime.MarshalError: Unable to marshal response: Object of type set is not JSON serializable"
        "\rTraceback (most recent call last):"
    )


def test_unmarshal_error(api, start):
    start({"app.py": ECHO_APP})
    p = invoke(api, body=b"{not json")
    assert p.kind == "error"
    assert p.headers["lambda-runtime-function-error-type"] == "Runtime.UnmarshalError"
    doc = p.json()
    assert doc["errorType"] == "Runtime.UnmarshalError"
    assert doc["errorMessage"] == "Unable to unmarshal input: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    assert doc["stackTrace"] == []


# ------------------------------------------------------------------------------------------
# Init errors
# ------------------------------------------------------------------------------------------


def _init_error(api, rt):
    post = api.wait_post()
    assert post.kind == "init_error", post
    assert rt.wait_exit() == 1
    assert api.next_calls == 0
    return post


def _assert_init_error(api, rt, error_type, message, stack_trace=None):
    post = _init_error(api, rt)
    assert post.headers["lambda-runtime-function-error-type"] == error_type
    assert post.ordered_json() == [
        ["errorMessage", message],
        ["errorType", error_type],
        ["requestId", ""],
        ["stackTrace", stack_trace or []],
    ]
    lines = rt.stdout_lines()
    assert any(
        re.match("^\\[WARNING\\]\t%s\t\tLAMBDA_WARNING: Unhandled exception\\. The most likely cause is an issue in the function code\\..*\r$" % TS, ln)
        for ln in lines
    ), lines
    return post, lines


@pytest.mark.parametrize(
    "handler,message",
    [
        ("missing.handler", "Unable to import module 'missing': No module named 'missing'"),
        ("app.handler", "Unable to import module 'app': No module named 'nonexistent_dependency'"),
    ],
)
def test_import_module_error(api, start, handler, message):
    rt = start({"app.py": "import nonexistent_dependency\ndef handler(e, c):\n    pass\n"}, handler=handler)
    _, lines = _assert_init_error(api, rt, "Runtime.ImportModuleError", message)
    assert "[ERROR] Runtime.ImportModuleError: %s\rTraceback (most recent call last):" % message in lines


def test_syntax_error(api, start, python):
    src = "import os\n\ndef handler(event, context)\n    return 1\n"
    rt = start({"app.py": src})
    app = os.path.join(rt.task_root, "app.py")
    # What this interpreter says about the file (messages differ between Python versions).
    probe = subprocess.run(
        [python, "-c", "import sys\ntry:\n    compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')\nexcept SyntaxError as e:\n    sys.stdout.write(repr((str(e), e.lineno, e.text)))", app],
        stdout=subprocess.PIPE,
        check=True,
    )
    msg, lineno, text = eval(probe.stdout.decode())
    assert msg.endswith("(app.py, line 3)")
    post, lines = _assert_init_error(
        api,
        rt,
        "Runtime.UserCodeSyntaxError",
        "Syntax error in module 'app': " + msg,
        ['  File "%s" Line %s\n    %s' % (app, lineno, text)],
    )
    expected_log = "\r".join(
        [
            "[ERROR] Runtime.UserCodeSyntaxError: Syntax error in module 'app': " + msg,
            "Traceback (most recent call last):",
            NBSP * 2 + 'File "%s" Line 3' % app,
            NBSP * 4 + text.rstrip("\n"),
        ]
    )
    assert expected_log in lines


def test_handler_not_found(api, start):
    rt = start({"app.py": "x = 1\n"}, handler="app.nope")
    _, lines = _assert_init_error(api, rt, "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'")
    assert "[ERROR] Runtime.HandlerNotFound: Handler 'nope' missing on module 'app'\rTraceback (most recent call last):" in lines


def test_malformed_handler(api, start):
    rt = start({"app.py": "x = 1\n"}, handler="x")
    _assert_init_error(api, rt, "Runtime.MalformedHandlerName", "Bad handler 'x': not enough values to unpack (expected 2, got 1)")


def test_built_in_module_conflict(api, start):
    rt = start({"app.py": "x = 1\n"}, handler="sys.handler")
    _assert_init_error(api, rt, "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module")


def test_exception_in_global_code(api, start):
    # awslambdaric only maps ImportError/SyntaxError to Runtime.*; any other exception raised while
    # importing is reported with its own type name and the traceback from importlib onwards.
    src = "import logging\nlogging.getLogger().warning('init log')\n\ndef setup():\n    raise RuntimeError('global boom')\n\nsetup()\n"
    rt = start({"app.py": src})
    post = _init_error(api, rt)
    assert post.headers["lambda-runtime-function-error-type"] == "RuntimeError"
    doc = post.ordered_json()
    assert [k for k, _ in doc] == ["errorMessage", "errorType", "requestId", "stackTrace"]
    doc = dict(doc)
    assert doc["errorMessage"] == "global boom"
    assert doc["errorType"] == "RuntimeError"
    assert doc["requestId"] == ""
    app = os.path.join(rt.task_root, "app.py")
    assert "importlib" in doc["stackTrace"][0]  # first frame: importlib/__init__.py import_module
    assert doc["stackTrace"][-2:] == [
        '  File "%s", line 7, in <module>\n    setup()\n' % app,
        "  File \"%s\", line 5, in setup\n    raise RuntimeError('global boom')\n" % app,
    ]
    assert not any("bootstrap.py" in f for f in doc["stackTrace"])
    lines = rt.stdout_lines()
    # Global code logs through the runtime's handler, with an empty request id.
    assert any(re.match("^\\[WARNING\\]\t%s\t\tinit log$" % TS, ln) for ln in lines), lines
    assert any(ln.startswith("[ERROR] RuntimeError: global boom\rTraceback (most recent call last):\r") for ln in lines), lines


# ------------------------------------------------------------------------------------------
# Logging
# ------------------------------------------------------------------------------------------

LOG_APP = """
import logging, sys
logger = logging.getLogger()
logging.getLogger("child").error("init from child")

def handler(event, context):
    print("printed line")
    print("two", "parts")
    sys.stderr.write("to stderr\\n")
    logger.debug("debug msg")
    logger.info("info msg")
    logger.warning("warn msg %s", 42)
    logger.error("multi\\nline\\nmessage")
    try:
        raise KeyError("k")
    except KeyError:
        logger.exception("caught")
    logging.getLogger("child").critical("crit")
    context.log("via context.log\\n")
    return "done"
"""


def test_logging_text_format(api, start):
    rt = start({"app.py": LOG_APP})
    rid = api.add_event({})
    assert api.wait_post().json() == "done"
    rt.wait_stdout("via context.log")
    lines = rt.stdout_lines()
    assert re.match("^\\[ERROR\\]\t%s\t\tinit from child$" % TS, lines[0]), lines
    assert "printed line" in lines
    assert "two parts" in lines
    deadline = time.time() + 10
    while "to stderr" not in rt.stderr_text() and time.time() < deadline:
        time.sleep(0.02)  # stderr is read by its own thread
    assert "to stderr" in rt.stderr_text()
    assert not any("debug msg" in ln or "info msg" in ln for ln in lines)  # root level stays WARNING
    assert any(re.match("^\\[WARNING\\]\t%s\t%s\twarn msg 42$" % (TS, rid), ln) for ln in lines), lines
    assert any(re.match("^\\[ERROR\\]\t%s\t%s\tmulti\rline\rmessage$" % (TS, rid), ln) for ln in lines), lines
    caught = [ln for ln in lines if "\tcaught" in ln]
    assert len(caught) == 1
    assert re.match("^\\[ERROR\\]\t%s\t%s\tcaught\rTraceback \\(most recent call last\\):\r.*\rKeyError: 'k'$" % (TS, rid), caught[0]), caught
    assert any(re.match("^\\[CRITICAL\\]\t%s\t%s\tcrit$" % (TS, rid), ln) for ln in lines), lines
    assert "via context.log" in lines


def test_logging_level_from_env(api, start):
    rt = start({"app.py": LOG_APP}, env={"AWS_LAMBDA_LOG_LEVEL": "DEBUG"})
    rid = api.add_event({})
    api.wait_post()
    rt.wait_stdout("via context.log")
    lines = rt.stdout_lines()
    assert any(re.match("^\\[DEBUG\\]\t%s\t%s\tdebug msg$" % (TS, rid), ln) for ln in lines), lines
    assert any(re.match("^\\[INFO\\]\t%s\t%s\tinfo msg$" % (TS, rid), ln) for ln in lines), lines


def test_logging_level_trace_means_debug(api, start):
    rt = start({"app.py": LOG_APP}, env={"AWS_LAMBDA_LOG_LEVEL": "TRACE"})
    api.add_event({})
    api.wait_post()
    rt.wait_stdout("\tdebug msg$")


def test_logging_json_format(api, start):
    rt = start({"app.py": LOG_APP + "\ndef fail(e, c):\n    raise ValueError('bad')\n"}, env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"})
    rid = api.add_event({})
    api.wait_post()
    rt.wait_stdout("via context.log")
    docs = []
    for ln in rt.stdout_lines():
        if ln.startswith("{"):
            docs.append(json.loads(ln))
    info = [d for d in docs if d.get("message") == "info msg"]
    assert len(info) == 1
    assert set(info[0]) == {"timestamp", "level", "message", "logger", "requestId"}
    assert info[0]["level"] == "INFO" and info[0]["logger"] == "root" and info[0]["requestId"] == rid
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", info[0]["timestamp"])
    init = [d for d in docs if d.get("message") == "init from child"][0]
    assert init["logger"] == "child" and init["requestId"] == "" and init["level"] == "ERROR"
    exc = [d for d in docs if d.get("message") == "caught"][0]
    assert exc["errorType"] == "KeyError" and exc["errorMessage"] == "'k'"
    assert isinstance(exc["stackTrace"], list) and exc["location"].endswith(":handler:17")
    assert not any(d.get("message") == "debug msg" for d in docs)


# ------------------------------------------------------------------------------------------
# Connection handling
# ------------------------------------------------------------------------------------------


def test_reconnects_after_connection_close(api, start):
    rt = start({"app.py": ECHO_APP})
    assert invoke(api, 1, close=True).json()["event"] == 1  # /next answered with Connection: close
    assert invoke(api, 2).json()["event"] == 2
    rid = str(uuid.uuid4())
    api.drop_after_post.add(rid)  # server silently drops the keep-alive connection after the post
    assert invoke(api, 3, request_id=rid).json()["event"] == 3
    assert invoke(api, 4).json()["event"] == 4
    assert rt.proc.poll() is None
    assert len(api.connections) == 3


def test_exits_nonzero_when_runtime_api_goes_away(api, start):
    rt = start({"app.py": ECHO_APP})
    invoke(api, 1)
    deadline = time.time() + 10
    while api.next_calls < 2 and time.time() < deadline:
        time.sleep(0.02)
    api.stop()
    rc = rt.wait_exit(timeout=20)
    assert rc != 0
    assert "Failed to get next invocation" in rt.stderr_text()


def test_exits_nonzero_when_response_is_rejected(api, start):
    rt = start({"app.py": ECHO_APP})
    rid = str(uuid.uuid4())
    api.post_status[rid] = 413
    invoke(api, 1, request_id=rid)
    assert rt.wait_exit() != 0
    assert "413" in rt.stderr_text()


def test_next_request_shape(api, start):
    # The client must not send a body or odd headers on GET /next; request ids are URL-encoded.
    rt = start({"app.py": ECHO_APP})
    p = invoke(api, {}, request_id="id with space/slash")
    assert p.raw_id == "id%20with%20space%2Fslash"
    assert rt.proc.poll() is None
