"""Provisioned concurrency (issue 4): configs on versions and aliases, IN_PROGRESS -> READY,
pre-initialized environments with AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency, no Init
Duration, spillover to on-demand, never reclaimed by keep-alive — boto3 against the real binary."""
import base64
import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import LaminaServer, create_python_function

SOURCE = "import os, time, uuid\nTOKEN = str(uuid.uuid4())\ndef handler(event, context):\n" \
         "    time.sleep(event.get('sleep', 0))\n" \
         "    return {'type': os.environ['AWS_LAMBDA_INITIALIZATION_TYPE'], 'token': TOKEN}\n"


def wait_ready(lam, name, qualifier, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        cfg = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if cfg["Status"] == "READY":
            return cfg
        assert cfg["Status"] == "IN_PROGRESS"
        time.sleep(0.1)
    raise AssertionError(f"{name}:{qualifier} never became READY: {cfg}")


def invoke(lam, name, qualifier, sleep=0):
    resp = lam.invoke(FunctionName=name, Qualifier=qualifier, Payload=json.dumps({"sleep": sleep}), LogType="Tail")
    assert "FunctionError" not in resp
    return json.loads(resp["Payload"].read()), base64.b64decode(resp["LogResult"]).decode()


def test_provisioned_environments_are_ready_and_serve_without_cold_starts(tmp_path):
    server = LaminaServer(tmp_path / "d", extra_args=["--keep-alive", "0.5"]).start()
    try:
        lam = server.client()
        create_python_function(lam, "warm", SOURCE, Timeout=10)
        lam.publish_version(FunctionName="warm")
        with pytest.raises(ClientError) as e:
            lam.put_provisioned_concurrency_config(FunctionName="warm", Qualifier="$LATEST",
                                                   ProvisionedConcurrentExecutions=1)
        assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
        put = lam.put_provisioned_concurrency_config(FunctionName="warm", Qualifier="1",
                                                     ProvisionedConcurrentExecutions=2)
        assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
        assert put["RequestedProvisionedConcurrentExecutions"] == 2 and put["Status"] == "IN_PROGRESS"
        ready = wait_ready(lam, "warm", "1")
        assert ready["AllocatedProvisionedConcurrentExecutions"] == 2

        body, log = invoke(lam, "warm", "1")
        assert body["type"] == "provisioned-concurrency"
        assert "Init Duration" not in log  # initialized ahead of time
        import urllib.request
        metrics = urllib.request.urlopen(server.endpoint + "/metrics").read().decode()
        assert 'lamina_provisioned_concurrency_allocated{function="warm",version="1"} 2' in metrics
        assert 'lamina_provisioned_concurrency_in_use{function="warm",version="1"} 0' in metrics

        # Spillover: a third concurrent invocation gets an on-demand environment.
        results = []
        threads = [threading.Thread(target=lambda: results.append(invoke(lam, "warm", "1", sleep=1.5)))
                   for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        types = sorted(r[0]["type"] for r in results)
        assert types == ["on-demand", "provisioned-concurrency", "provisioned-concurrency"]
        assert sum("Init Duration" in r[1] for r in results) == 1

        # Keep-alive (0.5 s here) reclaims the on-demand environment, never the provisioned ones.
        tokens = {r[0]["token"] for r in results if r[0]["type"] == "provisioned-concurrency"}
        time.sleep(2)
        after = [invoke(lam, "warm", "1")[0] for _ in range(4)]
        assert {a["type"] for a in after} == {"provisioned-concurrency"}
        assert {a["token"] for a in after} <= tokens
        # $LATEST is not provisioned.
        assert invoke(lam, "warm", "$LATEST")[0]["type"] == "on-demand"

        configs = lam.list_provisioned_concurrency_configs(FunctionName="warm")["ProvisionedConcurrencyConfigs"]
        assert [c["FunctionArn"].rsplit(":", 1)[1] for c in configs] == ["1"]
        lam.delete_provisioned_concurrency_config(FunctionName="warm", Qualifier="1")
        with pytest.raises(ClientError) as e:
            lam.get_provisioned_concurrency_config(FunctionName="warm", Qualifier="1")
        assert e.value.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    finally:
        server.stop()


def test_provisioned_on_an_alias_and_within_the_reservation(lam):
    create_python_function(lam, "aliased", SOURCE)
    lam.publish_version(FunctionName="aliased")
    lam.create_alias(FunctionName="aliased", Name="live", FunctionVersion="1")
    lam.put_function_concurrency(FunctionName="aliased", ReservedConcurrentExecutions=2)
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(FunctionName="aliased", Qualifier="live",
                                               ProvisionedConcurrentExecutions=3)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    lam.put_provisioned_concurrency_config(FunctionName="aliased", Qualifier="live",
                                           ProvisionedConcurrentExecutions=1)
    wait_ready(lam, "aliased", "live")
    body, log = invoke(lam, "aliased", "live")
    assert body["type"] == "provisioned-concurrency" and "Init Duration" not in log
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(FunctionName="aliased", Qualifier="9",
                                               ProvisionedConcurrentExecutions=1)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_provisioned_concurrency_is_restored_after_a_restart(tmp_path):
    server = LaminaServer(tmp_path / "d").start()
    lam = server.client()
    create_python_function(lam, "again", SOURCE)
    lam.publish_version(FunctionName="again")
    lam.put_provisioned_concurrency_config(FunctionName="again", Qualifier="1", ProvisionedConcurrentExecutions=1)
    wait_ready(lam, "again", "1")
    server.kill9()
    server = LaminaServer(tmp_path / "d").start()
    try:
        lam = server.client()
        wait_ready(lam, "again", "1")
        assert invoke(lam, "again", "1")[0]["type"] == "provisioned-concurrency"
    finally:
        server.stop()
