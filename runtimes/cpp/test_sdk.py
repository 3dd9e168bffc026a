"""Tests for lamina's C++ function SDK (runtimes/cpp: header-only, source-compatible with
aws-lambda-cpp).

Small functions are compiled against the SDK with g++ (-std=c++17 and -std=c++23, warnings as
errors) and run as child processes, exactly as an environment starts a `bootstrap`, against a fake
Runtime API served in-process (http.server on 127.0.0.1:0) that records what they send. The CMake
helper is checked by configuring, building and packaging examples/cpp-hello and an aws-lambda-cpp
style project that uses find_package().

Run: /usr/bin/python3 -m pytest runtimes/cpp/test_sdk.py
"""

import http.server
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
import zipfile
from urllib.parse import unquote

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
INCLUDE = os.path.join(HERE, "include")
CMAKE_DIR = os.path.join(HERE, "cmake")
ARN = "arn:aws:lambda:us-east-1:123456789012:function:demo:prod"
STDS = ["c++17", "c++23"]
WARNINGS = ["-Wall", "-Wextra", "-Werror", "-Wpedantic", "-Wshadow", "-Wconversion", "-Wsign-conversion"]
HEADERS = ["aws/lambda-runtime/runtime.h", "aws/lambda-runtime/outcome.h", "aws/lambda-runtime/version.h",
           "aws/lambda-runtime/http_client.h", "aws/http/response.h", "aws/logging/logging.h"]

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")

# The function most tests run. The event's first word picks the behaviour.
FUNCTION = r"""
#include <aws/lambda-runtime/runtime.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

using namespace aws::lambda_runtime;

static std::string quoted(std::string const& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

static bool starts(std::string const& s, char const* prefix) { return s.rfind(prefix, 0) == 0; }

static invocation_response handler(invocation_request const& req) {
  std::string const& p = req.payload;
  if (starts(p, "fields")) {
    char const* trace = std::getenv("_X_AMZN_TRACE_ID");
    return invocation_response::success(
        "{\"request_id\":" + quoted(req.request_id) + ",\"function_arn\":" + quoted(req.function_arn) +
            ",\"remaining_ms\":" + std::to_string(req.get_time_remaining().count()) +
            ",\"deadline_ms\":" + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                    req.deadline.time_since_epoch()).count()) +
            ",\"xray_trace_id\":" + quoted(req.xray_trace_id) +
            ",\"env_trace\":" + (trace ? quoted(trace) : std::string("null")) +
            ",\"client_context\":" + quoted(req.client_context) +
            ",\"cognito_identity\":" + quoted(req.cognito_identity) +
            ",\"content_type\":" + quoted(req.content_type) + ",\"tenant_id\":" + quoted(req.tenant_id) + "}",
        "application/json");
  }
  if (starts(p, "ct:")) return invocation_response::success("typed", p.substr(3));
  if (starts(p, "fail")) return invocation_response::failure(FAILURE_MESSAGE, "Custom.Error");
  if (starts(p, "own-error"))
    return invocation_response("{\"errorType\":\"Mine\",\"stackTrace\":[\"at x\"]}", "application/json", false);
  if (starts(p, "throw")) throw std::runtime_error("boom from the handler");
  if (starts(p, "big:")) return invocation_response::success(std::string(std::stoul(p.substr(4)), 'x'), "text/plain");
  return invocation_response::success(p, "application/json");
}

int main() {
  if (std::getenv("CATCH_IN_MAIN")) {
    try {
      run_handler(handler);
    } catch (std::exception const& e) {
      std::printf("main caught: %s\n", e.what());
      return 3;
    }
  } else {
    run_handler(handler);
  }
  std::printf("run_handler returned\n");
  return 0;
}
"""

# A C++ string literal and the text it stands for: quotes, backslash, control characters, UTF-8.
FAILURE_MESSAGE_CPP = r'"it \"failed\"\n\tbadly \\ \x01\x1f caf\xc3\xa9"'
FAILURE_MESSAGE = 'it "failed"\n\tbadly \\ \x01\x1f caf\u00e9'

# aws-lambda-cpp's lower-level API: runtime, outcome, http::response_code, version, logging.
RUNTIME_API_PROGRAM = r"""
#include <aws/http/response.h>
#include <aws/lambda-runtime/runtime.h>
#include <aws/lambda-runtime/version.h>
#include <aws/logging/logging.h>

#include <cstdio>
#include <cstdlib>
#include <string>

using namespace aws::lambda_runtime;

int main() {
  runtime rt("http://" + std::string(std::getenv("AWS_LAMBDA_RUNTIME_API")), "custom-agent/1");
  runtime::next_outcome next = rt.get_next();
  if (!next.is_success()) return 2;
  invocation_request const req = std::move(next).get_result();
  std::string version = std::to_string(get_version_major()) + "." + std::to_string(get_version_minor()) + "." +
                        std::to_string(get_version_patch());
  runtime::post_outcome posted =
      rt.post_success(req.request_id, invocation_response::success(version + " " + get_version(), "text/plain"));
  if (!posted.is_success()) return 3;
  next = rt.get_next();  // the fake API answers 500 now
  if (next.is_success() || next.get_failure() != aws::http::response_code::INTERNAL_SERVER_ERROR) return 4;
  aws::logging::log_error("test", "got %d", static_cast<int>(next.get_failure()));
  outcome<std::string, bool> header = std::string("v");
  return header.is_success() && header.get_result() == "v" ? 0 : 5;
}
"""


# ------------------------------------------------------------------------------------------
# Building
# ------------------------------------------------------------------------------------------


def compile_cpp(source, out, std, compiler="g++"):
    src = str(out) + ".cpp"
    with open(src, "w") as f:
        f.write(source)
    cmd = [compiler, "-std=" + std, "-O1", *WARNINGS, "-I" + INCLUDE, "-o", str(out), src]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    assert r.returncode == 0, "compile failed: %s\n%s" % (" ".join(cmd), r.stdout.decode())
    return str(out)


@pytest.fixture(scope="module")
def binaries(tmp_path_factory):
    d = tmp_path_factory.mktemp("bin")
    source = FUNCTION.replace("FAILURE_MESSAGE", FAILURE_MESSAGE_CPP)
    return {std: compile_cpp(source, d / ("function-" + std.replace("+", "p")), std) for std in STDS}


@pytest.fixture(params=STDS)
def binary(request, binaries):
    return binaries[request.param]


# ------------------------------------------------------------------------------------------
# Fake Runtime API
# ------------------------------------------------------------------------------------------


class Post(object):
    def __init__(self, kind, request_id, raw_id, headers, body):
        self.kind = kind  # "response" | "error"
        self.request_id = request_id
        self.raw_id = raw_id  # as it appeared in the URL
        self.headers = headers  # lower-cased names
        self.body = body

    def json(self):
        return json.loads(self.body)


class FakeRuntimeApi(object):
    """Serves queued events on GET /next and records every POST. Per-event options: close (answer
    with Connection: close), unframed (no Content-Length: the body ends with the connection),
    chunked (two chunks with an extension, plus a trailer), interim (a 100 Continue first)."""

    def __init__(self):
        self.events = queue.Queue()
        self.posts = queue.Queue()
        self.stopping = False
        self.connections = 0  # TCP connections accepted
        self.next_calls = 0
        self.next_status = None  # answer /next with this status instead of an event
        self.next_headers = []  # request headers of each /next
        self.post_status = {}  # request id -> status to answer its post with
        self.drop_after_post = set()  # request ids whose post answer is followed by a silent close
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                http.server.BaseHTTPRequestHandler.setup(self)
                api.connections += 1

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
                api.next_headers.append({k.lower(): v for k, v in self.headers.items()})
                while True:
                    if api.stopping:
                        self.close_connection = True
                        return
                    if api.next_status is not None:
                        self._reply(api.next_status, b'{"errorType":"InternalServerError"}')
                        return
                    try:
                        ev = api.events.get(timeout=0.05)
                        break
                    except queue.Empty:
                        continue
                headers = [("Lambda-Runtime-Aws-Request-Id", ev["id"]),
                           ("Lambda-Runtime-Deadline-Ms", str(ev["deadline"])),
                           ("Lambda-Runtime-Invoked-Function-Arn", ARN)]
                headers += list(ev.get("headers", {}).items())
                body = ev["body"]
                if ev.get("interim"):
                    self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                if ev.get("close"):
                    headers.append(("Connection", "close"))
                    self.close_connection = True
                if ev.get("chunked") or ev.get("unframed"):
                    self.send_response(200)
                    for k, v in headers:
                        self.send_header(k, v)
                    if ev.get("unframed"):
                        self.end_headers()
                        self.wfile.write(body)
                        self.close_connection = True
                        return
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    half = len(body) // 2
                    for part in (body[:half], body[half:]):
                        if part:
                            self.wfile.write(b"%X;ext=1\r\n%s\r\n" % (len(part), part))
                    self.wfile.write(b"0\r\nX-Trailer: t\r\n\r\n")
                    self.wfile.flush()
                    return
                self._reply(200, body, headers)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                m = re.match(r"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$", self.path)
                if not m:
                    self._reply(404, b'{"errorType":"InvalidRequest"}')
                    return
                rid = unquote(m.group(1))
                api.posts.put(Post(m.group(2), rid, m.group(1), hdrs, body))
                status = api.post_status.get(rid, 202)
                self._reply(status, b'{"status":"OK"}' if status == 202 else b'{"errorType":"RequestEntityTooLarge"}')
                if rid in api.drop_after_post:
                    self.close_connection = True

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.server.server_address[1]

    def add_event(self, body, deadline_in_ms=30000, headers=None, request_id=None, **options):
        rid = request_id or str(uuid.uuid4())
        ev = {"id": rid, "body": body if isinstance(body, bytes) else body.encode(),
              "deadline": int(time.time() * 1000) + deadline_in_ms,
              "headers": {"Content-Type": "application/json", **(headers or {})}}
        ev.update(options)
        self.events.put(ev)
        return rid

    def wait_post(self, timeout=20):
        try:
            return self.posts.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no post from the function within %ss" % timeout)

    def invoke(self, body, **options):
        rid = self.add_event(body, **options)
        post = self.wait_post()
        assert post.request_id == rid
        return post

    def stop(self):
        self.stopping = True
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api():
    a = FakeRuntimeApi()
    yield a
    a.stop()


class Function(object):
    """A compiled function running as a child process against `api`."""

    def __init__(self, path, api_address, env=None):
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_LAMBDA_RUNTIME_API": api_address}
        e.update(env or {})
        self.proc = subprocess.Popen([path], env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._out, self._err = [], []
        self._readers = [threading.Thread(target=self._read, args=(self.proc.stdout, self._out), daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stderr, self._err), daemon=True)]
        for t in self._readers:
            t.start()

    @staticmethod
    def _read(stream, sink):
        for chunk in iter(lambda: stream.read1(65536), b""):
            sink.append(chunk)

    def stdout(self):
        return b"".join(self._out).decode("utf-8", "replace")

    def stderr(self):
        return b"".join(self._err).decode("utf-8", "replace")

    def wait_exit(self, timeout=20):
        rc = self.proc.wait(timeout=timeout)
        for t in self._readers:
            t.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait_exit()


@pytest.fixture
def start(api):
    started = []

    def run(path, env=None, address=None):
        f = Function(path, address or api.address, env)
        started.append(f)
        return f

    yield run
    for f in started:
        f.kill()


# ------------------------------------------------------------------------------------------
# Compilation
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("std", STDS)
@pytest.mark.parametrize("header", HEADERS)
def test_every_header_compiles_alone(tmp_path, header, std):
    src = tmp_path / "one.cpp"
    src.write_text("#include <%s>\n" % header)
    r = subprocess.run(["g++", "-std=" + std, *WARNINGS, "-fsyntax-only", "-I" + INCLUDE, str(src)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert r.returncode == 0, r.stdout.decode()


@pytest.mark.skipif(shutil.which("clang++") is None, reason="clang++ is not installed")
def test_compiles_with_clang(tmp_path):
    compile_cpp(FUNCTION.replace("FAILURE_MESSAGE", FAILURE_MESSAGE_CPP), tmp_path / "f", "c++17", "clang++")


# ------------------------------------------------------------------------------------------
# Invocations
# ------------------------------------------------------------------------------------------


def test_success_responses_carry_their_content_type(api, start, binary):
    start(binary)
    post = api.invoke('{"hello":"world"}')
    assert (post.kind, post.body, post.headers["content-type"]) == ("response", b'{"hello":"world"}', "application/json")
    post = api.invoke("ct:text/plain; charset=utf-8")
    assert (post.kind, post.body, post.headers["content-type"]) == ("response", b"typed", "text/plain; charset=utf-8")
    post = api.invoke("ct:")  # no content type: text/html, as aws-lambda-cpp sends
    assert post.headers["content-type"] == "text/html"
    assert "lambda-runtime-function-error-type" not in post.headers


def test_failure_posts_an_escaped_error_document_and_its_type(api, start, binary):
    start(binary)
    post = api.invoke("fail")
    assert post.kind == "error"
    assert post.json() == {"errorMessage": FAILURE_MESSAGE, "errorType": "Custom.Error", "stackTrace": []}
    assert list(post.json()) == ["errorMessage", "errorType", "stackTrace"]
    assert b"\\u0001\\u001f caf\xc3\xa9" in post.body  # control characters escaped, UTF-8 kept
    assert post.headers["content-type"] == "application/json"
    assert post.headers["lambda-runtime-function-error-type"] == "Custom.Error"
    # A body written by the function is sent verbatim, without an error type it would have to guess.
    post = api.invoke("own-error")
    assert post.kind == "error" and post.body == b'{"errorType":"Mine","stackTrace":["at x"]}'
    assert "lambda-runtime-function-error-type" not in post.headers


def test_a_thrown_exception_ends_the_process_as_with_aws_lambda_cpp(api, start, binary):
    # aws-lambda-cpp catches nothing: the exception leaves run_handler and std::terminate aborts;
    # the platform reports the invocation (Runtime.ExitError). Nothing is posted for it.
    f = start(binary)
    assert api.invoke("before").kind == "response"
    api.add_event("throw")
    assert f.wait_exit() == -signal.SIGABRT
    assert "boom from the handler" in f.stderr()
    assert api.posts.empty()


def test_a_thrown_exception_reaches_main(api, start, binary):
    f = start(binary, env={"CATCH_IN_MAIN": "1"})
    api.add_event("throw")
    assert f.wait_exit() == 3
    assert "main caught: boom from the handler" in f.stdout()
    assert api.posts.empty()


def test_request_fields(api, start, binary):
    start(binary)
    context = json.dumps({"client": {"app_title": "t"}, "custom": {"k": "v \"q\""}})
    cognito = json.dumps({"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"})
    trace = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
    rid = api.add_event("fields", deadline_in_ms=5000,
                        headers={"Lambda-Runtime-Trace-Id": trace, "Lambda-Runtime-Client-Context": context,
                                 "Lambda-Runtime-Cognito-Identity": cognito, "Lambda-Runtime-Aws-Tenant-Id": "t-1",
                                 "Content-Type": "application/x-event"})
    post = api.wait_post()
    assert post.request_id == rid
    got = post.json()
    assert got["request_id"] == rid
    assert got["function_arn"] == ARN
    assert 3000 < got["remaining_ms"] <= 5000
    assert abs(got["deadline_ms"] - (time.time() * 1000 + 5000)) < 3000
    assert got["xray_trace_id"] == trace and got["env_trace"] == trace
    assert got["client_context"] == context and got["cognito_identity"] == cognito
    assert (got["content_type"], got["tenant_id"]) == ("application/x-event", "t-1")
    # Without a trace header the variable is gone, not left over from the previous invocation.
    got = api.invoke("fields").json()
    assert (got["xray_trace_id"], got["env_trace"], got["client_context"]) == ("", None, "")
    assert api.next_headers[0]["user-agent"].startswith("AWS_Lambda_Cpp/0.2.9")


def test_request_ids_are_percent_encoded_in_urls(api, start, binary):
    start(binary)
    post = api.invoke("x", request_id="a b/c?d")
    assert (post.request_id, post.raw_id) == ("a b/c?d", "a%20b%2Fc%3Fd")


def test_large_payloads_both_ways(api, start, binary):
    start(binary)
    event = json.dumps({"blob": "y" * (3 * 1024 * 1024)}).encode()
    assert api.invoke(event).body == event
    assert api.invoke(event, chunked=True).body == event
    post = api.invoke("big:%d" % (5 * 1024 * 1024))
    assert post.body == b"x" * (5 * 1024 * 1024) and post.headers["content-length"] == str(5 * 1024 * 1024)


def test_many_invocations_share_one_connection(api, start, binary):
    start(binary)
    for i in range(25):
        assert api.invoke('{"n":%d}' % i).body == b'{"n":%d}' % i
    assert api.connections == 1


def test_reconnects_when_the_server_closes_the_connection(api, start, binary):
    f = start(binary)
    assert api.invoke("announced", close=True).body == b"announced"  # Connection: close on /next
    assert api.invoke("after-announced").body == b"after-announced"
    assert api.connections == 2
    rid = str(uuid.uuid4())
    api.drop_after_post.add(rid)  # closed silently after the 202: seen only when reusing it
    assert api.invoke("dropped", request_id=rid).body == b"dropped"
    assert api.invoke("after-dropped").body == b"after-dropped"
    assert api.connections == 3
    assert api.invoke("unframed", unframed=True).body == b"unframed"  # body ends with the connection
    assert api.invoke("after-unframed").body == b"after-unframed"
    assert api.connections == 4
    # Each time the client itself reconnected and resent: no /next failed for run_handler to retry.
    assert "[ERROR]" not in f.stdout()


def test_chunked_events_and_interim_answers(api, start, binary):
    start(binary)
    assert api.invoke('{"chunked":true}', chunked=True).body == b'{"chunked":true}'
    assert api.invoke('{"interim":true}', interim=True).body == b'{"interim":true}'
    assert api.invoke('{"both":1}', interim=True, chunked=True).body == b'{"both":1}'
    assert api.connections == 1


def test_three_failed_next_calls_end_run_handler(api, start, binary):
    api.next_status = 500
    f = start(binary)
    assert f.wait_exit() == 0
    assert api.next_calls == 3
    assert "run_handler returned" in f.stdout()
    assert "[ERROR]" in f.stdout() and "HTTP status 500" in f.stdout()


def test_an_unreachable_runtime_api_ends_run_handler(api, start, binary):
    f = start(binary, address="127.0.0.1:1")
    assert f.wait_exit() == 0
    assert "run_handler returned" in f.stdout() and "no answer from http://127.0.0.1:1" in f.stdout()


def test_a_refused_result_ends_run_handler(api, start, binary):
    # aws-lambda-cpp returns from run_handler when a result is not accepted (a 413 for an oversized
    # response, say); main() then exits and the next invocation gets a fresh environment.
    f = start(binary)
    rid = str(uuid.uuid4())
    api.post_status[rid] = 413
    api.invoke("too big", request_id=rid)
    assert f.wait_exit() == 0
    assert "run_handler returned" in f.stdout() and "413" in f.stdout()
    assert api.next_calls == 1


@pytest.mark.parametrize("std", STDS)
def test_runtime_class_outcomes_version_and_logging(api, start, tmp_path, std):
    program = compile_cpp(RUNTIME_API_PROGRAM, tmp_path / "manual", std)
    f = start(program)
    post = api.invoke("hi")
    assert (post.kind, post.body, post.headers["content-type"]) == ("response", b"0.2.9 0.2.9", "text/plain")
    assert api.next_headers[0]["user-agent"] == "custom-agent/1"
    api.next_status = 500
    assert f.wait_exit() == 0, f.stdout() + f.stderr()
    assert re.search(r"^\[ERROR\] \[\d{13}\] test got 500$", f.stdout(), re.M), f.stdout()


# ------------------------------------------------------------------------------------------
# CMake helper and packaging
# ------------------------------------------------------------------------------------------

needs_cmake = pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")


def cmake_build(source_dir, build_dir, target, *configure_args):
    for cmd in (["cmake", "-S", str(source_dir), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release", *configure_args],
                ["cmake", "--build", str(build_dir), "--target", target]):
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
        assert r.returncode == 0, "%s\n%s" % (" ".join(cmd), r.stdout.decode())


def unpack(zip_path, into):
    with zipfile.ZipFile(str(zip_path)) as z:
        names = sorted(z.namelist())
        for info in z.infolist():
            path = z.extract(info, str(into))
            os.chmod(path, (info.external_attr >> 16) & 0o777)
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in z.infolist()}
    return names, modes


@needs_cmake
def test_example_configures_builds_and_packages(api, start, tmp_path):
    build = tmp_path / "build"
    cmake_build(os.path.join(ROOT, "examples", "cpp-hello"), build, "aws-lambda-package-hello")
    names, modes = unpack(build / "hello.zip", tmp_path / "unpacked")
    assert names == ["bootstrap"]  # it needs nothing beyond glibc and libstdc++
    assert modes["bootstrap"] & 0o111 == 0o111
    start(str(tmp_path / "unpacked" / "bootstrap"))
    post = api.invoke("{}")
    assert (post.body, post.headers["content-type"]) == (b"Hello, World!", "application/json")


# aws-lambda-cpp's README project, unchanged but for a shared library of its own, which the
# package must carry under lib/.
AWS_STYLE_CMAKE = """
cmake_minimum_required(VERSION 3.9)
set(CMAKE_CXX_STANDARD 11)
project(demo LANGUAGES CXX)
find_package(aws-lambda-runtime)
add_library(greet SHARED greet.cpp)
add_executable(${PROJECT_NAME} "main.cpp")
target_link_libraries(${PROJECT_NAME} PRIVATE AWS::aws-lambda-runtime greet)
target_compile_features(${PROJECT_NAME} PRIVATE "cxx_std_11")
target_compile_options(${PROJECT_NAME} PRIVATE "-Wall" "-Wextra")
aws_lambda_package_target(${PROJECT_NAME} NO_LIBC)
"""

AWS_STYLE_MAIN = r"""
#include <aws/lambda-runtime/runtime.h>
#include <string>

std::string greeting();

using namespace aws::lambda_runtime;

static invocation_response my_handler(invocation_request const& req)
{
    if (req.payload.length() > 42) {
        return invocation_response::failure("error message here"/*error_message*/,
                                            "error type here" /*error_type*/);
    }
    return invocation_response::success(greeting(), "application/json");
}

int main()
{
    run_handler(my_handler);
    return 0;
}
"""


@needs_cmake
def test_aws_lambda_cpp_project_builds_with_find_package_and_packages_its_libraries(api, start, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(AWS_STYLE_CMAKE)
    (src / "main.cpp").write_text(AWS_STYLE_MAIN)
    (src / "greet.cpp").write_text('#include <string>\nstd::string greeting() { return "\\"greetings\\""; }\n')
    build = tmp_path / "build"
    cmake_build(src, build, "aws-lambda-package-demo", "-Daws-lambda-runtime_DIR=" + CMAKE_DIR)
    names, modes = unpack(build / "demo.zip", tmp_path / "unpacked")
    assert names == ["bootstrap", "lib/libgreet.so"]
    assert modes["bootstrap"] & 0o111 == 0o111
    # The packaged copy is the one that loads: the build tree's is gone, as on Lambda.
    os.remove(str(build / "libgreet.so"))
    start(str(tmp_path / "unpacked" / "bootstrap"), env={"LD_LIBRARY_PATH": str(tmp_path / "unpacked" / "lib")})
    assert api.invoke("{}").body == b'"greetings"'
    post = api.invoke("x" * 43)
    assert post.kind == "error" and post.json()["errorType"] == "error type here"

    # Without a zip tool the package is written by `cmake -E tar --format=zip`, modes intact.
    fallback = tmp_path / "fallback.zip"
    r = subprocess.run(["cmake", "-DBINARY=" + str(tmp_path / "unpacked" / "bootstrap"), "-DSTAGE=" + str(tmp_path / "stage"),
                        "-DZIP=" + str(fallback), "-DZIP_PROGRAM=ZIP_PROGRAM-NOTFOUND",
                        "-P", os.path.join(CMAKE_DIR, "lamina-lambda-package.cmake")],
                       env=dict(os.environ, LD_LIBRARY_PATH=str(tmp_path / "unpacked" / "lib")),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert r.returncode == 0, r.stdout.decode()
    names, modes = unpack(fallback, tmp_path / "unpacked-fallback")
    assert names == ["bootstrap", "lib/libgreet.so"] and modes["bootstrap"] & 0o111 == 0o111
