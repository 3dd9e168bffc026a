"""Fixtures that run a real `lamina server` (the binary under test) on a free loopback port with
a temporary data dir, and real AWS clients (Debian's boto3 and awscli) pointed at it."""
import io
import os
import re
import signal
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("LAMINA_BINARY", str(ROOT / "build-test" / "lamina"))
REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/lamina-test"


class LaminaServer:
    def __init__(self, data_dir, extra_args=(), env=None, binary=None, prefix=()):
        self.data_dir = str(data_dir)
        self.extra_args = list(extra_args)
        self.extra_env = env or {}
        self.proc = None
        self.endpoint = None
        self.binary = binary or BINARY
        self.prefix = list(prefix)  # e.g. setpriv ... to run the daemon as another user
        self.log_path = Path(self.data_dir) / "server.log"

    def start(self, listen="127.0.0.1:0"):
        Path(self.data_dir).mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(self.extra_env)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [*self.prefix, self.binary, "server", "--listen", listen, "--data-dir", self.data_dir, *self.extra_args],
            stdout=subprocess.PIPE, stderr=self._log, env=env)
        line = self.proc.stdout.readline().decode()
        m = re.search(r"listening on (http://\S+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r}; log: {self.log_path.read_text()}")
        self.endpoint = m.group(1)
        return self

    @property
    def env(self):
        e = dict(os.environ)
        e.update({"LAMINA_ENDPOINT": self.endpoint, "AWS_ACCESS_KEY_ID": "test",
                  "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION,
                  "AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": ""})
        return e

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode if self.proc else None

    def kill9(self):
        return self.stop(sig=signal.SIGKILL)

    def client(self, service="lambda", **kw):
        # total_max_attempts: botocore reads "max_attempts" as retries after the first try.
        cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=kw.pop("read_timeout", 60),
                     connect_timeout=5, parameter_validation=kw.pop("parameter_validation", True))
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=kw.pop("access_key", "test"),
                            aws_secret_access_key=kw.pop("secret_key", "test"), config=cfg, **kw)


@pytest.fixture
def lamina_server(tmp_path):
    server = LaminaServer(tmp_path / "data").start()
    yield server
    server.stop()


@pytest.fixture
def lam(lamina_server):
    return lamina_server.client("lambda")


@pytest.fixture
def logs_client(lamina_server):
    return lamina_server.client("logs")


def make_zip(files):
    """files: {name: (content, mode)} or {name: content}; returns zip bytes with Unix modes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, spec in files.items():
            content, mode = spec if isinstance(spec, tuple) else (spec, 0o644)
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, content)
    return buf.getvalue()


# A custom runtime in bash + curl: echoes the event, or misbehaves when the event asks it to.
BASH_BOOTSTRAP = r'''#!/bin/bash
set -u
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
echo "init: global code ran in ${AWS_LAMBDA_FUNCTION_NAME}"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sS -LD "$HEADERS" "$API/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  echo "handling $REQUEST_ID"
  case "$EVENT" in
    *'"action": "sleep"'*|*'"action":"sleep"'*) sleep 30 ;;
    *'"action": "crash"'*|*'"action":"crash"'*) echo "about to crash"; exit 3 ;;
    *'"action": "fail"'*|*'"action":"fail"'*)
      curl -sS -X POST -H "Lambda-Runtime-Function-Error-Type: Unhandled" \
        -d '{"errorMessage":"it failed","errorType":"CustomError"}' "$API/invocation/$REQUEST_ID/error" >/dev/null
      continue ;;
  esac
  curl -sS -X POST -d "$EVENT" "$API/invocation/$REQUEST_ID/response" >/dev/null
done
'''


def bash_function_zip(bootstrap=BASH_BOOTSTRAP):
    return make_zip({"bootstrap": (bootstrap, 0o755)})


def create_bash_function(lam, name, **kw):
    params = dict(FunctionName=name, Runtime="provided.al2023", Role=ROLE, Handler="bootstrap",
                  Code={"ZipFile": kw.pop("zip", None) or bash_function_zip()}, Timeout=kw.pop("Timeout", 3))
    params.update(kw)
    return lam.create_function(**params)


def create_python_function(lam, name, source, handler="app.handler", runtime="python3.11", **kw):
    files = source if isinstance(source, dict) else {"app.py": source}
    params = dict(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                  Code={"ZipFile": make_zip(files)}, Timeout=kw.pop("Timeout", 3))
    params.update(kw)
    return lam.create_function(**params)
