"""The job spec shared by ``kycflow batch`` (one JSON object per line) and the arq integration:
``{"key", "token" | "token_env", "documents", "map"}``, read into a ``BatchJob``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..auth import Auth, BearerToken
from ..errors import ConfigurationError
from ..wizard.providers import DirectoryProvider, FileProvider

__all__ = ["BatchJob", "auth_from_spec", "provider_from_spec", "spec_key"]

# ``meta``: free-form data for the arq integration's resolve hooks (ignored by the batch).
_SPEC_KEYS = frozenset({"key", "token", "token_env", "documents", "map", "meta"})


@dataclass(frozen=True)
class BatchJob:
    """One verification of a batch: a unique ``key`` (it names the result and, with a
    checkpoint store, the checkpoint), the user's ``auth`` (``None``: the client's own) and
    the ``provider`` of the user's documents. ``runner_options`` are extra ``WizardRunner``
    keyword arguments for this job only."""

    key: str
    auth: Auth | None = field(repr=False)
    provider: FileProvider
    runner_options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(
        cls,
        spec: Mapping[str, Any],
        *,
        base_dir: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> BatchJob:
        """A job from its plain-data form ``{"key", "token" | "token_env", "documents",
        "map"}`` (see ``auth_from_spec`` and ``provider_from_spec``). Raises
        ``ConfigurationError`` naming the faulty field (never a token's value)."""
        key = spec_key(spec)
        return cls(
            key=key,
            auth=auth_from_spec(spec, environ=environ),
            provider=provider_from_spec(spec, base_dir=base_dir),
        )


def spec_key(spec: Mapping[str, Any]) -> str:
    """The job's ``key`` (a non-empty string); ``ConfigurationError`` for anything else."""
    if not isinstance(spec, Mapping):
        raise ConfigurationError("a job must be a JSON object")
    unknown = set(spec) - _SPEC_KEYS
    if unknown:
        raise ConfigurationError(f"unknown job field(s): {', '.join(sorted(unknown))}")
    key = spec.get("key")
    if not isinstance(key, str) or not key.strip():
        raise ConfigurationError("a job needs a non-empty string 'key'")
    return key


def auth_from_spec(
    spec: Mapping[str, Any], *, environ: Mapping[str, str] | None = None
) -> BearerToken | None:
    """The job's bearer token: ``token`` itself, or the environment variable named by
    ``token_env`` (read from ``environ``, default ``os.environ``). ``None`` when neither is
    given. Both at once, a non-string or an unset variable raise ``ConfigurationError``."""
    token = spec.get("token")
    token_env = spec.get("token_env")
    if token is not None and token_env is not None:
        raise ConfigurationError("give 'token' or 'token_env', not both")
    if token is not None:
        if not isinstance(token, str) or not token.strip():
            raise ConfigurationError("'token' must be a non-empty string")
        return BearerToken(token.strip())
    if token_env is not None:
        if not isinstance(token_env, str) or not token_env:
            raise ConfigurationError("'token_env' must name an environment variable")
        value = (os.environ if environ is None else environ).get(token_env, "").strip()
        if not value:
            raise ConfigurationError(f"environment variable {token_env} is not set")
        return BearerToken(value)
    return None


def provider_from_spec(
    spec: Mapping[str, Any], *, base_dir: str | os.PathLike[str] | None = None
) -> DirectoryProvider:
    """A ``DirectoryProvider`` over the job's ``documents`` directory (relative paths are taken
    from ``base_dir``), with its optional ``map`` of type id or description to file(s)."""
    documents = spec.get("documents")
    if not isinstance(documents, str) or not documents:
        raise ConfigurationError("a job needs 'documents', the directory of its files")
    mapping = spec.get("map")
    if mapping is not None:
        valid = isinstance(mapping, Mapping) and all(
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(p, str) for p in v))
            for v in mapping.values()
        )
        if not valid:
            raise ConfigurationError("'map' must map type ids or names to a file or list of files")
    root = Path(documents).expanduser()
    if base_dir is not None and not root.is_absolute():
        root = Path(base_dir) / root
    # The provider's own checks (paths escaping the root) raise DocumentError here.
    return DirectoryProvider(root, mapping)
