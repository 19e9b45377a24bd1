"""The reference ML workflow: a job logs to MLflow while its password rotates.

A training job logs a metric every 100 ms for DURATION seconds (default 30) with
``MLFLOW_TRACKING_AUTH=cleo``: MLflow asks cleo's plugin for credentials on every
request, and cleo reads ``mlflow/username`` and ``mlflow/password`` (OpenBao, via
``cleo.toml``) from its cache. Meanwhile a rotator changes the user's password every
5 s the way the rotation runbook says: write the new password to OpenBao first, then
change it in MLflow. After each change the job's next request gets a 401, the plugin
reads the new password once and resends, and the job sees no failure.

Needs: VAULT_ADDR/VAULT_TOKEN (OpenBao), MLFLOW_TRACKING_URI (an MLflow server started
with ``--app-name basic-auth``) and CLEO_MLFLOW_ADMIN_PASSWORD (that server's admin,
used by the rotator only). ``scripts/test`` runs it; it exits non-zero on any failed
call. Prints counts, never a password.
"""

import base64
import json
import os
import secrets
import sys
import tempfile
import threading
import time
import urllib.request

DURATION = float(os.environ.get("DURATION", "30"))
USER = "trainer-" + secrets.token_hex(4)
KV_PATH = "mlflow-" + USER


def http(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def admin_headers():
    pair = "admin:" + os.environ["CLEO_MLFLOW_ADMIN_PASSWORD"]
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def vault_put(password):
    http(
        "POST",
        f"{os.environ['VAULT_ADDR']}/v1/secret/data/{KV_PATH}",
        {"data": {"username": USER, "password": password}},
        {"X-Vault-Token": os.environ["VAULT_TOKEN"]},
    )


def new_password():
    return "pw-" + secrets.token_urlsafe(18)


def rotator(uri, stop, rotations):
    while not stop.wait(5):
        password = new_password()
        vault_put(password)  # 1. the store first: readers can already find it
        http(  # 2. then the server: from now on only the new one works
            "PATCH",
            f"{uri}/api/2.0/mlflow/users/update-password",
            {"username": USER, "password": password},
            admin_headers(),
        )
        rotations.append(time.time())


def main():
    uri = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
    first = new_password()
    http("POST", f"{uri}/api/2.0/mlflow/users/create", {"username": USER, "password": first}, admin_headers())
    vault_put(first)

    config = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    # A long TTL: the value changes only when MLflow says 401, not on a timer.
    config.write(
        "[secrets]\n"
        f'"mlflow/username" = "vault://secret/{KV_PATH}#username"\n'
        f'"mlflow/password" = {{ ref = "vault://secret/{KV_PATH}#password", ttl = "1h" }}\n'
    )
    config.close()
    os.environ["CLEO_CONFIG"] = config.name
    os.environ["MLFLOW_TRACKING_AUTH"] = "cleo"
    for var in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        os.environ.pop(var, None)

    import mlflow

    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("cleo-rotation-" + USER)
    stop, rotations = threading.Event(), []
    thread = threading.Thread(target=rotator, args=(uri, stop, rotations), daemon=True)
    calls = failures = 0
    with mlflow.start_run(experiment_id=experiment) as run:
        thread.start()
        deadline = time.monotonic() + DURATION
        step = 0
        while time.monotonic() < deadline:
            calls += 1
            try:
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            except Exception as e:  # noqa: BLE001 - every failure counts
                failures += 1
                print(f"call {calls} failed: {type(e).__name__}", file=sys.stderr)
            step += 1
            time.sleep(0.1)
        stop.set()
        thread.join()
        logged = len(mlflow.tracking.MlflowClient().get_metric_history(run.info.run_id, "loss"))
    os.unlink(config.name)
    print(
        f"{calls} log_metric calls over {DURATION:.0f} s, {len(rotations)} password rotations, "
        f"{failures} failed calls, {logged} metric points stored"
    )
    if failures or logged != calls - failures or (DURATION >= 10 and not rotations):
        sys.exit(1)


if __name__ == "__main__":
    main()
