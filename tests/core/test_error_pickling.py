"""Errors survive pickling with every attribute (arq pickles a failed job's exception)."""

from __future__ import annotations

import pickle

import pytest

import kycflow
from kycflow.errors import (
    APIConnectError,
    KycflowError,
    LevelTimeoutError,
    NotFoundError,
    OutcomeUnknownError,
    ProtocolError,
    StepRefusedError,
    UnsupportedWizardError,
    WizardDeadlineError,
)

CASES: list[KycflowError] = [
    NotFoundError(
        "no such verification",
        status=404,
        request_id="r-1",
        details=[{"issue": "gone"}],
        method="GET",
        path="/v2/my/verifications/{id}",
    ),
    OutcomeUnknownError(
        "the submit may have been applied",
        cause=APIConnectError("refused", method="POST", path="/v2/my/verifications"),
        method="POST",
        path="/v2/my/verifications",
    ),
    ProtocolError("not JSON", transient=True),
    StepRefusedError("refused", step=2, type_ids=[3, 4], reason="blurred"),
    UnsupportedWizardError("sdk", workflow="sumsub", step=1),
    WizardDeadlineError("out of time", last_error=APIConnectError("refused")),
    LevelTimeoutError("no level", level="Basic", timeout=1.5, levels_seen=["Start"], polls=3),
]


@pytest.mark.parametrize("error", CASES, ids=lambda e: type(e).__name__)
def test_an_error_round_trips_through_pickle(error: KycflowError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.args == error.args
    assert vars(copy).keys() == vars(error).keys()
    for name, value in vars(error).items():
        if isinstance(value, BaseException):
            assert type(getattr(copy, name)) is type(value)
            assert str(getattr(copy, name)) == str(value)
        else:
            assert getattr(copy, name) == value, name


def test_a_pickled_error_is_still_caught_by_its_public_classes() -> None:
    copy = pickle.loads(pickle.dumps(CASES[0]))
    assert isinstance(copy, kycflow.APIStatusError)
    assert isinstance(copy, kycflow.KycflowError)
    assert copy.status == 404
    assert copy.request_id == "r-1"
