"""Authentication from the command line: flags, environment, prompts, and the signed-in client."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from dataclasses import dataclass, field
from typing import IO

from pydantic import SecretStr

from ..auth import Auth, BearerToken
from ..client import Client
from ._arguments import ENV_BASE_URL, add_server_arguments, check_base_url, non_negative_int
from ._errors import UsageError
from ._secrets import secrets

__all__ = [
    "ENV_BASE_URL",
    "ENV_PASSWORD",
    "ENV_TOKEN",
    "AuthArgs",
    "add_auth_arguments",
    "authenticate",
    "make_client",
    "resolve_auth",
]

ENV_TOKEN = "KYCFLOW_TOKEN"
ENV_PASSWORD = "KYCFLOW_PASSWORD"


def add_auth_arguments(parser: argparse.ArgumentParser) -> None:
    """``--base-url`` and the ways to authenticate (token, or email + password [+ otp])."""
    group = parser.add_argument_group("server and authentication")
    add_server_arguments(group)
    group.add_argument("--token", help=f"an access token (env {ENV_TOKEN})")
    group.add_argument("--email", help="sign in with this email instead of a token")
    group.add_argument(
        "--password",
        help=f"the sign-in password (env {ENV_PASSWORD}; prompted for on a terminal)",
    )
    group.add_argument("--otp", help="the second-factor code, if the server asks for one")
    group.add_argument(
        "--retries",
        type=non_negative_int,
        default=None,
        help="retries of a failed request (default: the client's)",
    )


@dataclass(frozen=True, repr=False)
class AuthArgs:
    """How to authenticate, resolved from arguments and environment (secrets as SecretStr)."""

    base_url: str
    token: SecretStr | None = None
    email: str | None = None
    password: SecretStr | None = None
    otp: SecretStr | None = None
    retries: int | None = None
    prompt: bool = field(default=False)
    allow_insecure_http: bool = False

    def __repr__(self) -> str:
        return f"AuthArgs(base_url={self.base_url!r}, email={self.email!r})"


def resolve_auth(args: argparse.Namespace, *, stdin: IO[str] | None = None) -> AuthArgs:
    """The base URL and credentials, from the flags, then the environment, then a prompt."""
    stdin = stdin or sys.stdin
    insecure = bool(getattr(args, "allow_insecure_http", False))
    base_url = check_base_url(args.base_url, allow_insecure_http=insecure)
    token = args.token
    email = args.email
    if token and email:
        raise UsageError("give either --token or --email/--password, not both")
    interactive = bool(getattr(stdin, "isatty", lambda: False)())
    if email:
        password = args.password or os.environ.get(ENV_PASSWORD)
        if not password and interactive:
            password = getpass.getpass(f"Password for {email}: ")
        if not password:
            raise UsageError(f"--email needs a password: --password, {ENV_PASSWORD} or a terminal")
        secrets.add(password)
        secrets.add(args.otp)
        return AuthArgs(
            base_url=base_url,
            email=email,
            password=SecretStr(password),
            otp=SecretStr(args.otp) if args.otp else None,
            retries=args.retries,
            prompt=interactive,
            allow_insecure_http=insecure,
        )
    if args.password:
        secrets.add(args.password)
        raise UsageError("--password needs --email")
    token = token or os.environ.get(ENV_TOKEN)
    if not token:
        raise UsageError(f"authenticate with --token (or {ENV_TOKEN}) or --email/--password")
    secrets.add(token)
    return AuthArgs(
        base_url=base_url,
        token=SecretStr(token),
        retries=args.retries,
        allow_insecure_http=insecure,
    )


def make_client(auth: AuthArgs) -> Client:
    """The client for ``auth.base_url`` (its auth is added by ``authenticate``)."""
    if auth.retries is None:
        return Client(auth.base_url, allow_insecure_http=auth.allow_insecure_http)
    return Client(
        auth.base_url, max_retries=auth.retries, allow_insecure_http=auth.allow_insecure_http
    )


async def authenticate(client: Client, auth: AuthArgs) -> Client:
    """A view of ``client`` that sends the user's token, signing in first if asked to."""
    if auth.token is not None:
        return client.with_auth(BearerToken(auth.token))
    if auth.email is None or auth.password is None:
        raise UsageError("authenticate with --token or --email/--password")

    async def second_factor(kind: str) -> str:
        if auth.otp is not None:
            return auth.otp.get_secret_value()
        if auth.prompt:
            code = getpass.getpass(f"Second-factor code ({kind}): ")
            secrets.add(code)
            return code
        raise UsageError(f"the server asks for a second factor ({kind}): pass --otp CODE")

    session: Auth = await client.sign_in(auth.email, auth.password, second_factor=second_factor)
    tokens = getattr(session, "tokens", None)
    if tokens is not None:
        secrets.add(tokens.access_token.token)
        if tokens.refresh_token is not None:
            secrets.add(tokens.refresh_token.token)
    return client.with_auth(session)
