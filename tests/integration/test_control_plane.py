"""Lambda control plane through boto3: create/get/list/update/delete, validation errors, hostile
zips, restart durability."""
import base64
import hashlib
import io
import urllib.request
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, LaminaServer, bash_function_zip, create_bash_function, make_zip


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"].get("Message", "")


def test_create_get_and_fields(lam):
    zip_bytes = bash_function_zip()
    created = create_bash_function(lam, "fields", zip=zip_bytes, MemorySize=256, Timeout=10,
                                   Environment={"Variables": {"STAGE": "dev"}}, Description="d")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:fields"
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    assert created["CodeSize"] == len(zip_bytes)
    assert created["Version"] == "$LATEST"
    assert created["State"] == "Active" and created["LastUpdateStatus"] == "Successful"
    assert created["MemorySize"] == 256 and created["Timeout"] == 10
    assert created["Environment"] == {"Variables": {"STAGE": "dev"}}
    assert created["LastModified"].endswith("+0000")
    got = lam.get_function(FunctionName="fields")
    assert got["Configuration"]["RevisionId"] == created["RevisionId"]
    assert got["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(got["Code"]["Location"]) as r:
        assert r.read() == zip_bytes
    cfg = lam.get_function_configuration(FunctionName="arn:aws:lambda:us-east-1:000000000000:function:fields")
    assert cfg["Handler"] == "bootstrap"


def test_waiters_succeed_immediately(lam):
    create_bash_function(lam, "waited")
    lam.get_waiter("function_active").wait(FunctionName="waited", WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    lam.get_waiter("function_updated").wait(FunctionName="waited", WaiterConfig={"Delay": 1, "MaxAttempts": 2})


def test_duplicate_and_missing(lam):
    create_bash_function(lam, "dup")
    with pytest.raises(ClientError) as e:
        create_bash_function(lam, "dup")
    assert error_of(e)[:2] == ("ResourceConflictException", 409)
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="nope")
    code, status, msg = error_of(e)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert msg == "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="nope")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


@pytest.mark.parametrize("kwargs,code,fragment", [
    ({"Timeout": 1000}, "ValidationException", "Member must have value less than or equal to 900"),
    ({"MemorySize": 20000}, "ValidationException", "'memorySize'"),
    ({"Runtime": "cobol42"}, "InvalidParameterValueException", "Member must satisfy enum value set"),
    ({"Role": "not-a-role"}, "ValidationException", "'role'"),
    ({"Environment": {"Variables": {"AWS_REGION": "x"}}}, "InvalidParameterValueException", "Reserved keys used in this request: AWS_REGION"),
    ({"Environment": {"Variables": {"BIG": "x" * 5000}}}, "InvalidParameterValueException", "exceeded the 4KB limit"),
    ({"FunctionName": "bad name"}, "ValidationException", "'functionName'"),
])
def test_invalid_configuration(lam, kwargs, code, fragment):
    with pytest.raises(ClientError) as e:
        create_bash_function(lam, kwargs.pop("FunctionName", "invalid"), **kwargs)
    got_code, status, msg = error_of(e)
    assert (got_code, status) == (code, 400), msg
    assert fragment in msg
    with pytest.raises(ClientError):
        lam.get_function(FunctionName="invalid")


def hostile(name, content=b"x", mode=0o644, symlink_to=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", b"#!/bin/sh\n")
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        if symlink_to is not None:
            info.external_attr = (0o120777) << 16
            z.writestr(info, symlink_to)
        else:
            info.external_attr = (0o100000 | mode) << 16
            z.writestr(info, content)
    return buf.getvalue()


@pytest.mark.parametrize("zip_bytes", [
    hostile("../escape"),
    hostile("/etc/evil"),
    hostile("a/../../escape"),
    hostile("link", symlink_to="/etc/passwd"),
    hostile("link", symlink_to="../../.."),
    b"this is not a zip file",
    bash_function_zip()[:40],
], ids=["dotdot", "absolute", "nested-dotdot", "symlink-abs", "symlink-up", "garbage", "truncated"])
def test_hostile_zips_are_rejected_and_leave_nothing(lamina_server, lam, zip_bytes):
    from pathlib import Path
    trees = Path(lamina_server.data_dir) / "code" / "trees"
    before = sorted(p.name for p in trees.iterdir()) if trees.exists() else []
    with pytest.raises(ClientError) as e:
        create_bash_function(lam, "hostile", zip=zip_bytes)
    code, status, _ = error_of(e)
    assert (code, status) == ("InvalidParameterValueException", 400)
    after = sorted(p.name for p in trees.iterdir()) if trees.exists() else []
    assert after == before
    assert not (Path("/etc/evil").exists())


def test_list_functions_paginates(lam):
    for i in range(5):
        create_bash_function(lam, f"page-{i}")
    seen = []
    page = lam.list_functions(MaxItems=2)
    seen += [f["FunctionName"] for f in page["Functions"]]
    while "NextMarker" in page:
        page = lam.list_functions(MaxItems=2, Marker=page["NextMarker"])
        seen += [f["FunctionName"] for f in page["Functions"]]
    assert seen == [f"page-{i}" for i in range(5)]
    all_names = [f["FunctionName"] for p in lam.get_paginator("list_functions").paginate() for f in p["Functions"]]
    assert all_names == seen


def test_update_code_and_configuration(lam):
    first = create_bash_function(lam, "upd")
    new_zip = make_zip({"bootstrap": ("#!/bin/bash\n# v2\n" + "exit 1\n", 0o755)})
    updated = lam.update_function_code(FunctionName="upd", ZipFile=new_zip)
    assert updated["CodeSha256"] != first["CodeSha256"]
    assert updated["RevisionId"] != first["RevisionId"]
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="upd", Timeout=5, RevisionId=first["RevisionId"])
    assert error_of(e)[:2] == ("PreconditionFailedException", 412)
    cfg = lam.update_function_configuration(FunctionName="upd", Timeout=5, MemorySize=512,
                                            Environment={"Variables": {"AA": "1"}}, RevisionId=updated["RevisionId"])
    assert cfg["Timeout"] == 5 and cfg["MemorySize"] == 512 and cfg["Environment"]["Variables"] == {"AA": "1"}
    assert lam.get_function_configuration(FunctionName="upd")["Timeout"] == 5
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="upd", Timeout=901)
    assert error_of(e)[:2] == ("ValidationException", 400)


def test_delete_function(lam):
    create_bash_function(lam, "gone")
    resp = lam.delete_function(FunctionName="gone")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="gone")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_account_settings(lam):
    create_bash_function(lam, "acct")
    s = lam.get_account_settings()
    assert s["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert s["AccountLimit"]["CodeSizeZipped"] == 52428800
    assert s["AccountUsage"]["FunctionCount"] == 1


def test_bad_signature_and_unknown_key(lamina_server):
    bad_secret = lamina_server.client("lambda", secret_key="wrong")
    with pytest.raises(ClientError) as e:
        bad_secret.list_functions()
    assert error_of(e)[:2] == ("InvalidSignatureException", 403)
    bad_key = lamina_server.client("lambda", access_key="AKIDNOTKNOWN")
    with pytest.raises(ClientError) as e:
        bad_key.list_functions()
    assert error_of(e)[:2] == ("UnrecognizedClientException", 403)
    req = urllib.request.Request(lamina_server.endpoint + "/2015-03-31/functions/")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 403
    assert e.value.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_function_survives_kill_9(tmp_path):
    server = LaminaServer(tmp_path / "data").start()
    lam = server.client()
    create_bash_function(lam, "durable")
    server.kill9()
    server = LaminaServer(tmp_path / "data").start()
    try:
        lam = server.client()
        assert lam.get_function_configuration(FunctionName="durable")["FunctionName"] == "durable"
        out = lam.invoke(FunctionName="durable", Payload=b'{"after":"restart"}')
        assert out["Payload"].read() == b'{"after":"restart"}'
    finally:
        server.stop()


def test_non_loopback_with_default_keys_is_refused(tmp_path):
    import subprocess
    from conftest import BINARY
    p = subprocess.run([BINARY, "server", "--listen", "0.0.0.0:0", "--data-dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "refusing to listen" in p.stderr
