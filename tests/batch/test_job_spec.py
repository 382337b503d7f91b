"""BatchJob.from_dict: the job shape of the CLI's JSONL and of arq jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kycflow import BatchJob, BearerToken, ConfigurationError, DirectoryProvider, DocumentType


def test_a_token_job() -> None:
    job = BatchJob.from_dict({"key": "a", "token": "at_secret", "documents": "/docs"})
    assert job.key == "a"
    assert isinstance(job.auth, BearerToken)
    assert job.auth.token.get_secret_value() == "at_secret"
    assert isinstance(job.provider, DirectoryProvider)
    assert job.provider.root == Path("/docs")
    assert "at_secret" not in repr(job)


def test_a_token_env_job_with_a_relative_directory(tmp_path: Path) -> None:
    job = BatchJob.from_dict(
        {"key": "b", "token_env": "MY_TOKEN", "documents": "users/b"},
        base_dir=tmp_path,
        environ={"MY_TOKEN": "at_from_env"},
    )
    assert isinstance(job.auth, BearerToken)
    assert job.auth.token.get_secret_value() == "at_from_env"
    assert isinstance(job.provider, DirectoryProvider)
    assert job.provider.root == tmp_path / "users" / "b"


async def test_the_map_selects_files(tmp_path: Path) -> None:
    (tmp_path / "p.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"x" * 100)
    job = BatchJob.from_dict(
        {"key": "c", "documents": str(tmp_path), "map": {"2": "p.jpg", "Selfie": ["p.jpg"]}}
    )
    assert job.auth is None
    docs = await job.provider.documents_for(DocumentType(id=2, description="Passport"))
    assert docs is not None
    assert [d.name for d in docs] == ["p.jpg"]
    selfie = await job.provider.documents_for(DocumentType(id=3, description="Selfie"))
    assert selfie is not None
    assert len(selfie) == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"token": "t", "documents": "d"}, "key"),
        ({"key": "", "documents": "d"}, "key"),
        ({"key": "a"}, "documents"),
        ({"key": "a", "documents": "d", "token": "t", "token_env": "E"}, "not both"),
        ({"key": "a", "documents": "d", "token_env": "UNSET_VAR_X"}, "UNSET_VAR_X"),
        ({"key": "a", "documents": "d", "token": 5}, "token"),
        ({"key": "a", "documents": "d", "map": ["x"]}, "map"),
        ({"key": "a", "documents": "d", "map": {"2": 3}}, "map"),
        ({"key": "a", "documents": "d", "extra": 1}, "extra"),
    ],
)
def test_invalid_specs_are_configuration_errors(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        BatchJob.from_dict(spec, environ={})


def test_a_token_never_appears_in_errors() -> None:
    with pytest.raises(ConfigurationError) as info:
        BatchJob.from_dict({"key": "a", "token": "at_secret_value", "token_env": "X"})
    assert "at_secret_value" not in str(info.value)
