"""cleo: secrets and short-lived credentials for Python jobs.

    >>> import cleo
    >>> token = cleo.get("mlflow/api_token")   # a cleo.Secret; repr shows no value
    >>> headers = {"Authorization": "Bearer " + token.expose()}

``expose()`` returns a Python ``str``, which cleo cannot wipe from memory: call it
as late as possible and do not keep the result.

This is the ``cleo-secrets`` distribution. Poetry's ``cleo`` package uses the same
import name; the two cannot be installed in the same environment.
"""

from ._cleo import (
    AwsCredentials,
    CleoError,
    Client,
    ConfigError,
    EnvBlock,
    InvalidDataError,
    InvalidReferenceError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    Secret,
    UnauthenticatedError,
    UnavailableError,
    UnsupportedError,
    __version__,
    get,
)

__all__ = [
    "AwsCredentials",
    "CleoError",
    "Client",
    "ConfigError",
    "EnvBlock",
    "InvalidDataError",
    "InvalidReferenceError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "Secret",
    "UnauthenticatedError",
    "UnavailableError",
    "UnsupportedError",
    "__version__",
    "get",
]
