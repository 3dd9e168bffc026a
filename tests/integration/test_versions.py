"""Versions and aliases (issue 4): PublishVersion, ListVersionsByFunction, aliases with weighted
routing, qualified invokes and reads, deletes — with boto3 and the AWS CLI against the real binary."""
import json
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import LaminaServer, create_python_function, make_zip

SOURCE = "import os\nTAG = {tag!r}\ndef handler(event, context):\n" \
         "    return {{'tag': TAG, 'version': os.environ['AWS_LAMBDA_FUNCTION_VERSION'], " \
         "'arn': context.invoked_function_arn}}\n"


def code(tag):
    return make_zip({"app.py": SOURCE.format(tag=tag)})


def call(lam, name, qualifier=None):
    kw = {"FunctionName": name}
    if qualifier:
        kw["Qualifier"] = qualifier
    resp = lam.invoke(**kw)
    assert "FunctionError" not in resp
    return resp["ExecutedVersion"], json.loads(resp["Payload"].read())


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_publish_snapshots_code_and_configuration(lam):
    create_python_function(lam, "ver", SOURCE.format(tag="one"), Description="first")
    v1 = lam.publish_version(FunctionName="ver", Description="release one")
    assert v1["Version"] == "1"
    assert v1["FunctionArn"].endswith(":function:ver:1")
    assert v1["Description"] == "release one"
    # Nothing changed: publishing again returns the same version.
    assert lam.publish_version(FunctionName="ver")["Version"] == "1"
    lam.update_function_code(FunctionName="ver", ZipFile=code("two"))
    lam.update_function_configuration(FunctionName="ver", MemorySize=256)
    v2 = lam.publish_version(FunctionName="ver")
    assert v2["Version"] == "2" and v2["MemorySize"] == 256

    assert call(lam, "ver", "1")[1]["tag"] == "one"
    assert call(lam, "ver", "2")[1]["tag"] == "two"
    executed, body = call(lam, "ver", "1")
    assert executed == "1" and body["version"] == "1" and body["arn"].endswith(":function:ver:1")
    executed, body = call(lam, "ver")
    assert executed == "$LATEST" and body["arn"].endswith(":function:ver")
    # A version is immutable: updating $LATEST does not touch it.
    lam.update_function_code(FunctionName="ver", ZipFile=code("three"))
    assert call(lam, "ver", "1")[1]["tag"] == "one"
    assert call(lam, "ver")[1]["tag"] == "three"
    cfg = lam.get_function_configuration(FunctionName="ver", Qualifier="1")
    assert cfg["Version"] == "1" and cfg["MemorySize"] == 128
    assert lam.get_function(FunctionName="ver:2")["Configuration"]["Version"] == "2"

    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName="ver")["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    pages = lam.get_paginator("list_versions_by_function").paginate(FunctionName="ver",
                                                                     PaginationConfig={"PageSize": 1})
    assert [v["Version"] for p in pages for v in p["Versions"]] == ["$LATEST", "1", "2"]


def test_publish_checks_code_sha_and_revision(lam):
    created = create_python_function(lam, "checked", SOURCE.format(tag="x"))
    with pytest.raises(ClientError) as e:
        lam.publish_version(FunctionName="checked", CodeSha256="bm90LXRoZS1zaGE=")
    assert error_code(e) == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as e:
        lam.publish_version(FunctionName="checked", RevisionId="00000000-0000-0000-0000-000000000000")
    assert error_code(e) == ("PreconditionFailedException", 412)
    ok = lam.publish_version(FunctionName="checked", CodeSha256=created["CodeSha256"],
                             RevisionId=created["RevisionId"])
    assert ok["Version"] == "1"


def test_create_and_update_with_publish(lam):
    created = create_python_function(lam, "pub", SOURCE.format(tag="a"), Publish=True)
    assert created["Version"] == "1"
    updated = lam.update_function_code(FunctionName="pub", ZipFile=code("b"), Publish=True)
    assert updated["Version"] == "2"
    assert call(lam, "pub", "2")[1]["tag"] == "b"


def test_unknown_versions_and_qualifiers(lam):
    create_python_function(lam, "q", SOURCE.format(tag="q"))
    for qualifier in ("7", "nosuchalias"):
        with pytest.raises(ClientError) as e:
            lam.invoke(FunctionName="q", Qualifier=qualifier)
        assert error_code(e) == ("ResourceNotFoundException", 404)
        assert e.value.response["Error"]["Message"].endswith(f":function:q:{qualifier}")
    with pytest.raises(ClientError) as e:
        lam.get_function_configuration(FunctionName="q", Qualifier="3")
    assert error_code(e)[0] == "ResourceNotFoundException"


def test_aliases(lam):
    create_python_function(lam, "al", SOURCE.format(tag="one"))
    lam.publish_version(FunctionName="al")
    lam.update_function_code(FunctionName="al", ZipFile=code("two"))
    lam.publish_version(FunctionName="al")

    live = lam.create_alias(FunctionName="al", Name="live", FunctionVersion="1", Description="prod")
    assert live["AliasArn"].endswith(":function:al:live") and live["FunctionVersion"] == "1"
    executed, body = call(lam, "al", "live")
    assert executed == "1" and body["tag"] == "one" and body["arn"].endswith(":function:al:live")
    assert call(lam, "al:live")[0] == "1"  # the qualifier in the name works too

    got = lam.get_alias(FunctionName="al", Name="live")
    assert got["Description"] == "prod" and got["RevisionId"] == live["RevisionId"]
    with pytest.raises(ClientError) as e:
        lam.update_alias(FunctionName="al", Name="live", FunctionVersion="2", RevisionId="stale")
    assert error_code(e) == ("PreconditionFailedException", 412)
    moved = lam.update_alias(FunctionName="al", Name="live", FunctionVersion="2", RevisionId=live["RevisionId"])
    assert moved["FunctionVersion"] == "2" and moved["RevisionId"] != live["RevisionId"]
    assert call(lam, "al", "live")[1]["tag"] == "two"
    assert lam.get_function_configuration(FunctionName="al", Qualifier="live")["Version"] == "2"

    lam.create_alias(FunctionName="al", Name="edge", FunctionVersion="$LATEST")
    assert [a["Name"] for a in lam.list_aliases(FunctionName="al")["Aliases"]] == ["edge", "live"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName="al", FunctionVersion="2")["Aliases"]] == ["live"]

    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="al", Name="live", FunctionVersion="1")
    assert error_code(e) == ("ResourceConflictException", 409)
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="al", Name="123", FunctionVersion="1")
    assert error_code(e) == ("ValidationException", 400)
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="al", Name="ghost", FunctionVersion="9")
    assert error_code(e) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        lam.get_alias(FunctionName="al", Name="nope")
    assert error_code(e) == ("ResourceNotFoundException", 404)

    # A version an alias points at cannot be deleted; another can, and its number is never reused.
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="al", Qualifier="2")
    assert error_code(e) == ("ResourceConflictException", 409)
    lam.delete_function(FunctionName="al", Qualifier="1")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="al")["Versions"]] == ["$LATEST", "2"]
    lam.update_function_code(FunctionName="al", ZipFile=code("three"))
    assert lam.publish_version(FunctionName="al")["Version"] == "3"
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="al", Qualifier="$LATEST")
    assert error_code(e) == ("InvalidParameterValueException", 400)

    lam.delete_alias(FunctionName="al", Name="edge")
    assert [a["Name"] for a in lam.list_aliases(FunctionName="al")["Aliases"]] == ["live"]


def test_weighted_alias_routes_by_weight(lam):
    create_python_function(lam, "canary", SOURCE.format(tag="stable"))
    lam.publish_version(FunctionName="canary")
    lam.update_function_code(FunctionName="canary", ZipFile=code("new"))
    lam.publish_version(FunctionName="canary")
    lam.create_alias(FunctionName="canary", Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
    assert lam.get_alias(FunctionName="canary", Name="live")["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.3}}
    n = 400
    executed = [call(lam, "canary", "live")[0] for _ in range(n)]
    share = executed.count("2") / n
    # Binomial(400, 0.3): standard deviation 0.023; 0.3 +- 0.1 is more than 4 of them.
    assert 0.2 <= share <= 0.4, share
    assert set(executed) == {"1", "2"}

    with pytest.raises(ClientError) as e:  # the primary version cannot also be the weighted one
        lam.update_alias(FunctionName="canary", Name="live", RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
    assert error_code(e)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="canary", Name="bad", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"2": 1.5}})
    assert error_code(e)[0] == "ValidationException"
    # All traffic moved: weight 1.0.
    lam.update_alias(FunctionName="canary", Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 1.0}})
    assert {call(lam, "canary", "live")[0] for _ in range(20)} == {"2"}


def test_versions_and_aliases_survive_a_restart_and_go_with_the_function(tmp_path):
    server = LaminaServer(tmp_path / "d").start()
    lam = server.client()
    create_python_function(lam, "durable", SOURCE.format(tag="v1"))
    lam.publish_version(FunctionName="durable")
    lam.create_alias(FunctionName="durable", Name="live", FunctionVersion="1")
    lam.update_function_code(FunctionName="durable", ZipFile=code("latest"))
    server.kill9()
    server = LaminaServer(tmp_path / "d").start()
    try:
        lam = server.client()
        assert call(lam, "durable", "live")[1]["tag"] == "v1"
        assert call(lam, "durable")[1]["tag"] == "latest"
        lam.update_function_code(FunctionName="durable", ZipFile=code("next"))
        assert lam.publish_version(FunctionName="durable")["Version"] == "2"  # numbering continues
        lam.delete_function(FunctionName="durable")
        create_python_function(lam, "durable", SOURCE.format(tag="reborn"))
        assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="durable")["Versions"]] == ["$LATEST"]
        assert lam.list_aliases(FunctionName="durable")["Aliases"] == []
    finally:
        server.stop()


def test_cli_publish_and_alias(lamina_server, lam):
    create_python_function(lam, "clifn", SOURCE.format(tag="cli"))
    env = lamina_server.env
    aws = ["/usr/bin/aws", "--endpoint-url", lamina_server.endpoint, "lambda"]
    out = subprocess.run(aws + ["publish-version", "--function-name", "clifn"], env=env, capture_output=True,
                         text=True, check=True)
    assert json.loads(out.stdout)["Version"] == "1"
    out = subprocess.run(aws + ["create-alias", "--function-name", "clifn", "--name", "prod", "--function-version",
                                "1"], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["Name"] == "prod"
    out = subprocess.run(aws + ["invoke", "--function-name", "clifn", "--qualifier", "prod", "/dev/stdout"],
                         env=env, capture_output=True, text=True, check=True)
    assert '"tag": "cli"' in out.stdout and '"ExecutedVersion": "1"' in out.stdout
