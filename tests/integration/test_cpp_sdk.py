"""C++ functions built with lamina's header-only SDK (runtimes/cpp, source-compatible with
aws-lambda-cpp): aws-lambda-cpp's README hello-world compiled unchanged and packaged with the CMake
helper, and a function that shows every invocation_request field, run by the real server."""
import base64
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import ROLE, ROOT, make_zip

SDK = ROOT / "runtimes" / "cpp" / "include"

FIELDS = r"""
#include <aws/lambda-runtime/runtime.h>
#include <cstdlib>
#include <string>

using namespace aws::lambda_runtime;

static std::string quoted(std::string const& s) { return "\"" + s + "\""; }

static invocation_response handler(invocation_request const& req) {
  if (req.payload.size() > 100000)  // large events come back whole
    return invocation_response::success(req.payload, "application/json");
  if (req.payload.find("\"fail\"") != std::string::npos)
    return invocation_response::failure("it \"failed\"\nbadly", "CustomError");
  const char* trace = std::getenv("_X_AMZN_TRACE_ID");
  std::string body = "{\"request_id\":" + quoted(req.request_id) + ",\"function_arn\":" + quoted(req.function_arn) +
                     ",\"remaining_ms\":" + std::to_string(req.get_time_remaining().count()) +
                     ",\"xray\":" + quoted(req.xray_trace_id) + ",\"env_trace\":" + quoted(trace ? trace : "") +
                     ",\"client_context\":" + (req.client_context.empty() ? "null" : req.client_context) +
                     ",\"payload\":" + req.payload + "}";
  return invocation_response::success(body, "application/json");
}

int main() {
  run_handler(handler);
  return 0;
}
"""


def build(tmp_path, source, std="c++17"):
    src = tmp_path / "main.cpp"
    src.write_text(source)
    out = tmp_path / "bootstrap"
    subprocess.run(["g++", f"-std={std}", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{SDK}", "-o", str(out), str(src)],
                   check=True)
    return out.read_bytes()


def test_aws_lambda_cpp_hello_world_compiles_unchanged_and_runs(lam, tmp_path):
    if not shutil.which("cmake"):
        pytest.skip("cmake not installed")
    build_dir = tmp_path / "build"
    subprocess.run(["cmake", "-S", str(ROOT / "examples" / "cpp-hello"), "-B", str(build_dir)], check=True,
                   capture_output=True)
    subprocess.run(["cmake", "--build", str(build_dir), "--target", "aws-lambda-package-hello"], check=True,
                   capture_output=True)
    package = build_dir / "hello.zip"
    with zipfile.ZipFile(package) as z:
        info = z.getinfo("bootstrap")
        assert (info.external_attr >> 16) & 0o111, "bootstrap must be executable"
    lam.create_function(FunctionName="cpp-hello", Runtime="provided.al2023", Role=ROLE, Handler="bootstrap",
                        Code={"ZipFile": package.read_bytes()})
    r = lam.invoke(FunctionName="cpp-hello", Payload=b'{"short":1}')
    assert "FunctionError" not in r
    assert r["Payload"].read() == b"Hello, World!"


@pytest.mark.parametrize("std", ["c++17", "c++23"])
def test_request_fields_errors_and_large_payloads(lam, tmp_path, std):
    name = "cpp-fields-" + std.replace("+", "p")
    lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=ROLE, Handler="bootstrap", Timeout=7,
                        Code={"ZipFile": make_zip({"bootstrap": (build(tmp_path, FIELDS, std), 0o755)})})
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    for i in range(3):  # the same environment serves one invocation after another
        r = lam.invoke(FunctionName=name, Payload=json.dumps({"n": i}).encode(), ClientContext=context)
        body = json.loads(r["Payload"].read())
        assert body["request_id"] == r["ResponseMetadata"]["RequestId"]
        assert body["function_arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
        assert 0 < body["remaining_ms"] <= 7000
        assert body["xray"].startswith("Root=1-") and body["env_trace"] == body["xray"]
        assert body["client_context"] == {"custom": {"k": "v"}}
        assert body["payload"] == {"n": i}
    r = lam.invoke(FunctionName=name, Payload=b'{"fail":true}')
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(r["Payload"].read()) == {"errorMessage": 'it "failed"\nbadly', "errorType": "CustomError",
                                               "stackTrace": []}
    big = json.dumps({"blob": "y" * (5 * 1024 * 1024)}).encode()  # 5 MB each way
    r = lam.invoke(FunctionName=name, Payload=big)
    assert r["Payload"].read() == big
