"""API keys held in AWS Secrets Manager, read once at init when ``NFLSERVE_API_KEYS_SECRET_ARN`` is set.

The secret's string is the keys separated by commas or newlines, or a JSON list, or a JSON object with a
``keys`` list. boto3 follows the standard AWS chain (on Lambda: the execution role). The ARN may be logged;
the keys never are.
"""

from __future__ import annotations

import json

from nfldeploy.errors import ConfigError

SECRET_ARN_ENV = "NFLSERVE_API_KEYS_SECRET_ARN"
READ_HINT = (
    f"check {SECRET_ARN_ENV} (the full ARN of a secret holding the keys) and that the execution role may read it"
    " (nfldeploy bootstrap grants secretsmanager:GetSecretValue on it)"
)


def parse_keys(text: str) -> list[str]:
    """Keys from a secret's string."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        data = data.get("keys")
    if isinstance(data, list):
        return [str(key).strip() for key in data if str(key).strip()]
    return [key.strip() for key in text.replace("\n", ",").split(",") if key.strip()]


def read_secret_keys(arn: str) -> list[str]:
    """The API keys stored in the Secrets Manager secret ``arn``."""
    try:
        from nfldeploy.cloud.aws import read_secret_string
    except ImportError as exc:  # pragma: no cover - the lambda extra brings boto3
        raise ConfigError(f"{SECRET_ARN_ENV} is set but boto3 is not installed") from exc
    try:
        keys = parse_keys(read_secret_string(arn))
    except ConfigError as exc:
        raise ConfigError(exc.message, exc.hint or READ_HINT) from exc
    if not keys:
        raise ConfigError(f"the API keys secret {arn} holds no keys", READ_HINT)
    return keys
