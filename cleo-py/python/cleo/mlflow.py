"""An MLflow request-auth plugin: set ``MLFLOW_TRACKING_AUTH=cleo`` and every MLflow
request carries credentials read through cleo, from its cache, at the moment of the
request. A rotated token or password is picked up without restarting the job.

Where the credentials come from, first match wins:

1. ``CLEO_MLFLOW_TOKEN``: a reference or logical name of a bearer token;
2. ``CLEO_MLFLOW_USERNAME`` and ``CLEO_MLFLOW_PASSWORD``: references or logical
   names for HTTP basic auth (MLflow's ``--app-name basic-auth`` server);
3. the logical names ``mlflow/username`` and ``mlflow/password`` in ``cleo.toml``;
4. the logical name ``mlflow/api_token`` in ``cleo.toml``.

When the server answers 401, the plugin drops the cached values, reads them again
once and resends the request: a job whose password was rotated underneath it sees
one extra round trip, not a failure. A second 401 is returned to MLflow as is.

``MLFLOW_TRACKING_TOKEN`` and ``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` are ignored
while this plugin is active (its header replaces theirs); a warning says so, since a
secret in an environment variable is what cleo is here to avoid.
"""

import base64
import logging
import os
import threading
from typing import Any, List, Optional, Tuple

import requests
from requests.auth import AuthBase

from mlflow.tracking.request_auth.abstract_request_auth_provider import RequestAuthProvider

from . import Client

__all__ = ["CleoAuth", "CleoRequestAuthProvider"]

_log = logging.getLogger("cleo.mlflow")

TOKEN_ENV = "CLEO_MLFLOW_TOKEN"
USERNAME_ENV = "CLEO_MLFLOW_USERNAME"
PASSWORD_ENV = "CLEO_MLFLOW_PASSWORD"
DEFAULT_TOKEN = "mlflow/api_token"
DEFAULT_USERNAME = "mlflow/username"
DEFAULT_PASSWORD = "mlflow/password"

_RETRIED = "_cleo_auth_retried"


class CleoAuth(AuthBase):
    """A ``requests`` auth object that sets ``Authorization`` from cleo on every
    request and retries once, with fresh values, after a 401."""

    def __init__(
        self,
        client: Client,
        token: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
    ) -> None:
        if token is None and (username is None or password is None):
            raise ValueError("CleoAuth needs a token reference, or username and password references")
        self.client = client
        self.token = token
        self.username = username
        self.password = password

    @property
    def references(self) -> List[str]:
        """The references (or logical names) this auth reads."""
        refs = [self.token] if self.token is not None else [self.username, self.password]
        return [r for r in refs if r is not None]

    def _header(self) -> str:
        if self.token is not None:
            return "Bearer " + self.client.get(self.token).expose()
        assert self.username is not None and self.password is not None
        pair = self.client.get(self.username).expose() + ":" + self.client.get(self.password).expose()
        return "Basic " + base64.b64encode(pair.encode()).decode()

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = self._header()
        r.register_hook("response", self._on_response)
        return r

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        request = response.request
        if response.status_code != 401 or getattr(request, _RETRIED, False):
            return response
        _log.info("MLflow answered 401: reading the credentials again and resending once")
        for ref in self.references:
            self.client.invalidate(ref)
        # Drain and release the first answer's connection before reusing the pool.
        _ = response.content
        response.close()
        retry = request.copy()
        setattr(retry, _RETRIED, True)
        retry.headers["Authorization"] = self._header()
        connection: Any = response.connection
        second: requests.Response = connection.send(retry, **kwargs)
        second.history.append(response)
        second.request = retry
        return second

    def __repr__(self) -> str:
        return f"CleoAuth(references={self.references!r})"


def _resolve(client: Client) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    token = os.environ.get(TOKEN_ENV)
    if token:
        return token, None, None
    username, password = os.environ.get(USERNAME_ENV), os.environ.get(PASSWORD_ENV)
    if username and password:
        return None, username, password
    if client.has_name(DEFAULT_USERNAME) and client.has_name(DEFAULT_PASSWORD):
        return None, DEFAULT_USERNAME, DEFAULT_PASSWORD
    if client.has_name(DEFAULT_TOKEN):
        return DEFAULT_TOKEN, None, None
    raise ValueError(
        f"MLFLOW_TRACKING_AUTH=cleo but no credentials are named: set {TOKEN_ENV} (or "
        f"{USERNAME_ENV} and {PASSWORD_ENV}) to cleo references, or define "
        f"{DEFAULT_TOKEN} (or {DEFAULT_USERNAME} and {DEFAULT_PASSWORD}) in cleo.toml"
    )


def _warn_overrides() -> None:
    for var in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        if os.environ.get(var):
            _log.warning(
                "%s is set (value redacted) but MLFLOW_TRACKING_AUTH=cleo replaces it on every "
                "request; unset it so the secret is not left in the environment",
                var,
            )


_lock = threading.Lock()
_auth: Optional[CleoAuth] = None


class CleoRequestAuthProvider(RequestAuthProvider):  # type: ignore[misc]
    """Registered under the ``mlflow.request_auth_provider`` entry point as ``cleo``."""

    def get_name(self) -> str:
        return "cleo"

    def get_auth(self) -> CleoAuth:
        # MLflow asks for the auth object on every request: build it once per process
        # (cleo's client is itself fork-safe) and answer from cleo's cache after that.
        global _auth
        with _lock:
            if _auth is None:
                _warn_overrides()
                client = Client()
                token, username, password = _resolve(client)
                _auth = CleoAuth(client, token=token, username=username, password=password)
            return _auth
