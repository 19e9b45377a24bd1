"""A short ML job that takes its configuration and token from cleo.

Run by scripts/demo with CLEO_CONFIG=examples/cleo.toml and a seeded OpenBao.
"""

import cleo

client = cleo.Client()
print(f"config: {client.config_path}")

for name in ("artifacts/s3/bucket", "artifacts/s3/role", "mlflow/tracking_uri", "mlflow/api_token"):
    secret = client.get(name)
    # repr and str of a Secret never show the value.
    print(f"{name:22} -> {secret!r}")

tracking_uri = client.get("mlflow/tracking_uri").expose()
token = client.get("mlflow/api_token")
# The token goes straight into the header; it is never printed or logged.
headers = {"Authorization": "Bearer " + token.expose()}
print(f"would log runs to {tracking_uri} with an Authorization header of {len(headers['Authorization'])} characters")
