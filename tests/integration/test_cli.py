"""The `lamina` client commands (src/cli/) against a real `lamina server`: deploy a folder with a bash
custom runtime, invoke it, list, read its logs, redeploy, delete, and the error paths."""
import json
import os
import queue
import re
import socket
import stat
import subprocess
import threading
import time
import urllib.request
import zipfile

import pytest

# A custom runtime in bash + curl: echoes each event back, or reports a function error when the
# event asks for one.
ECHO_BOOTSTRAP = r'''#!/bin/bash
set -u
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
echo "echo runtime starting (version VERSION)"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  echo "handling $REQUEST_ID"
  case "$EVENT" in
    *'"fail"'*)
      curl -sS -X POST -d '{"errorMessage":"asked to fail","errorType":"EchoError"}' \
        "$API/invocation/$REQUEST_ID/error" >/dev/null
      continue ;;
  esac
  curl -sS -X POST -d "$EVENT" "$API/invocation/$REQUEST_ID/response" >/dev/null
done
'''

pytestmark = pytest.mark.skipif(not os.access("/usr/bin/curl", os.X_OK), reason="the bash runtime needs /usr/bin/curl")


def run(server, *args, input=None, env=None, timeout=90):
    return subprocess.run([server.binary, *args], input=input, capture_output=True, text=True,
                          env=env or server.env, timeout=timeout)


def make_echo_folder(tmp_path, version="1"):
    folder = tmp_path / "echo-fn"
    folder.mkdir(exist_ok=True)
    bootstrap = folder / "bootstrap"
    bootstrap.write_text(ECHO_BOOTSTRAP.replace("VERSION", version))
    bootstrap.chmod(0o755)
    (folder / "lib").mkdir(exist_ok=True)
    (folder / "lib" / "data.txt").write_text("some data\n")
    return folder


def deploy_echo(server, tmp_path, name="echo", *flags, version="1"):
    folder = make_echo_folder(tmp_path, version)
    r = run(server, "deploy", name, str(folder), *flags)
    assert r.returncode == 0, r.stderr
    m = re.search(r"^deployed (\S+) \((\S+), .*, CodeSha256 (\S+)\)$", r.stdout.strip())
    assert m, r.stdout
    assert m.group(1) == name and m.group(2) == "provided.al2023"
    return m.group(3)


def test_help_lists_server_and_commands(lamina_server):
    r = run(lamina_server, "--help")
    assert r.returncode == 0, r.stderr
    for word in ("lamina server", "deploy", "invoke", "list", "logs", "delete"):
        assert word in r.stdout


def test_deploy_folder_then_invoke_echoes_payload_with_tail_log(lamina_server, tmp_path):
    deploy_echo(lamina_server, tmp_path)
    r = run(lamina_server, "invoke", "echo", '{"hello": "world"}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"hello": "world"}
    assert re.search(r"^START RequestId: \S+", r.stderr, re.M), r.stderr
    assert re.search(r"^END RequestId: \S+", r.stderr, re.M), r.stderr
    assert re.search(r"^REPORT RequestId: \S+", r.stderr, re.M), r.stderr


def test_invoke_reads_payload_from_stdin(lamina_server, tmp_path):
    deploy_echo(lamina_server, tmp_path)
    r = run(lamina_server, "invoke", "echo", "-", input='{"from": "stdin"}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"from": "stdin"}
    r = run(lamina_server, "invoke", "echo", input="")  # no argument, empty stdin: {}
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {}


def test_invoke_function_error_exits_1(lamina_server, tmp_path):
    deploy_echo(lamina_server, tmp_path)
    r = run(lamina_server, "invoke", "echo", '{"action": "fail"}')
    assert r.returncode == 1
    assert json.loads(r.stdout)["errorType"] == "EchoError"
    assert "function error (Unhandled)" in r.stderr


def test_list_shows_function(lamina_server, tmp_path):
    deploy_echo(lamina_server, tmp_path, "echo", "--memory", "256", "--timeout", "5")
    deploy_echo(lamina_server, tmp_path, "other")
    r = run(lamina_server, "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "RUNTIME", "MEMORY", "TIMEOUT", "LAST-MODIFIED"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["echo"][1:4] == ["provided.al2023", "256", "5"]
    assert rows["other"][1:4] == ["provided.al2023", "128", "3"]


def test_logs_prints_report_line(lamina_server, tmp_path):
    deploy_echo(lamina_server, tmp_path)
    assert run(lamina_server, "invoke", "echo", '{"n": 1}').returncode == 0
    deadline = time.time() + 15
    while True:
        r = run(lamina_server, "logs", "echo", "--since", "600")
        if r.returncode == 0 and "REPORT RequestId:" in r.stdout:
            break
        assert time.time() < deadline, (r.returncode, r.stdout, r.stderr)
        time.sleep(0.5)
    report = next(line for line in r.stdout.splitlines() if "REPORT RequestId:" in line)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z REPORT RequestId: ", report), report
    assert "echo runtime starting" in r.stdout


def test_logs_follow_prints_new_events(lamina_server, tmp_path):
    deploy_echo(lamina_server, tmp_path)
    proc = subprocess.Popen([lamina_server.binary, "logs", "echo", "--follow"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=lamina_server.env)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        time.sleep(1.5)  # the log group does not exist yet: --follow keeps waiting for it
        assert proc.poll() is None, proc.stderr.read()
        assert run(lamina_server, "invoke", "echo", '{"n": 2}').returncode == 0
        seen, deadline = [], time.time() + 15
        while not any("REPORT RequestId:" in line for line in seen) and time.time() < deadline:
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                pass
        assert any("REPORT RequestId:" in line for line in seen), seen
        time.sleep(2.5)  # two more polls must not print the same events again
        while not lines.empty():
            seen.append(lines.get())
        assert len(seen) == len(set(seen)), seen
    finally:
        proc.kill()
        proc.wait()


def test_deploy_again_updates_code_and_config(lamina_server, tmp_path, lam):
    first = deploy_echo(lamina_server, tmp_path, version="1")
    same = deploy_echo(lamina_server, tmp_path, version="1")
    assert same == first  # the zip is deterministic
    second = deploy_echo(lamina_server, tmp_path, "echo", "--memory", "512", "--env", "STAGE=dev", version="2")
    assert second != first
    config = lam.get_function_configuration(FunctionName="echo")
    assert config["CodeSha256"] == second
    assert config["MemorySize"] == 512
    assert config["Environment"]["Variables"] == {"STAGE": "dev"}
    r = run(lamina_server, "invoke", "echo", '{"after": "update"}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"after": "update"}


def test_folder_zip_keeps_exec_bit_and_skips_symlinks(lamina_server, tmp_path, lam):
    folder = make_echo_folder(tmp_path)
    (folder / "link").symlink_to("/etc/passwd")
    r = run(lamina_server, "deploy", "echo", str(folder))
    assert r.returncode == 0, r.stderr
    assert "skipping link" in r.stderr
    url = lam.get_function(FunctionName="echo")["Code"]["Location"]
    data = urllib.request.urlopen(url, timeout=10).read()
    zip_path = tmp_path / "downloaded.zip"
    zip_path.write_bytes(data)
    with zipfile.ZipFile(zip_path) as z:
        infos = {i.filename: i for i in z.infolist()}
        assert z.testzip() is None
    assert "link" not in infos
    assert stat.S_IMODE(infos["bootstrap"].external_attr >> 16) == 0o755
    assert "lib/data.txt" in infos


def test_deploy_existing_zip_file(lamina_server, tmp_path):
    zip_path = tmp_path / "fn.zip"
    info = zipfile.ZipInfo("bootstrap")
    info.external_attr = (0o100755) << 16
    info.create_system = 3
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(info, ECHO_BOOTSTRAP)
    r = run(lamina_server, "deploy", "zipped", str(zip_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("deployed zipped (provided.al2023, ")
    r = run(lamina_server, "invoke", "zipped", '{"z": true}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"z": True}


def test_deploy_without_bootstrap_needs_runtime(lamina_server, tmp_path):
    folder = tmp_path / "py"
    folder.mkdir()
    (folder / "app.py").write_text("def handler(event, context):\n    return event\n")
    r = run(lamina_server, "deploy", "py", str(folder))
    assert r.returncode == 1
    assert "--runtime" in r.stderr
    r = run(lamina_server, "deploy", "py", str(folder), "--runtime", "python3.11")
    assert r.returncode == 1
    assert "--handler" in r.stderr


def test_delete_then_invoke_fails(lamina_server, tmp_path):
    deploy_echo(lamina_server, tmp_path)
    r = run(lamina_server, "delete", "echo")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "deleted echo"
    r = run(lamina_server, "invoke", "echo", "{}")
    assert r.returncode == 1
    assert r.stderr.startswith("lamina: ResourceNotFoundException: "), r.stderr
    r = run(lamina_server, "delete", "echo")
    assert r.returncode == 1
    assert "ResourceNotFoundException" in r.stderr


def test_invoke_without_server_prints_hint(lamina_server):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(lamina_server.env, LAMINA_ENDPOINT=f"http://127.0.0.1:{port}")
    r = run(lamina_server, "invoke", "echo", "{}", env=env)
    assert r.returncode == 1
    assert "start it with" in r.stderr
    assert r.stderr.startswith("lamina: ")
