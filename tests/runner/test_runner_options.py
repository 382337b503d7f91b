"""``RunnerOptions``: the runner's frozen options, built from its keywords or passed whole."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest
from runner_fakes import ALL_DOCS, FakeServer

from kycflow import ConfigurationError, MemoryCheckpointStore, WizardRunner
from kycflow.runner import RunnerOptions


def test_keywords_build_the_options_and_they_are_frozen() -> None:
    runner = WizardRunner(FakeServer().client(), ALL_DOCS, max_steps=7, settle_delay=0.0)
    assert runner.options == RunnerOptions(max_steps=7, settle_delay=0.0)
    options: Any = runner.options  # typed as what a careless caller holds
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.max_steps = 8


@pytest.mark.parametrize(
    "bad",
    [
        {"max_steps": 0},
        {"upload_concurrency": True},
        {"stall_limit": -1},
        {"max_submit_attempts": 1.5},
        {"deadline": 0},
        {"settle_delay": -0.1},
        {"checkpoint_store": MemoryCheckpointStore()},  # no key
    ],
)
def test_invalid_options_are_refused_when_built(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        RunnerOptions(**bad)
    with pytest.raises(ConfigurationError):
        WizardRunner(FakeServer().client(), ALL_DOCS, **bad)


def test_options_and_their_keywords_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        WizardRunner(
            FakeServer().client(), ALL_DOCS, options=RunnerOptions(max_steps=3), max_steps=4
        )


async def test_a_runner_from_options_runs_with_them() -> None:
    server = FakeServer()
    store = MemoryCheckpointStore()
    options = RunnerOptions(checkpoint_store=store, checkpoint_key="k", run_id="r1", max_steps=3)
    runner = WizardRunner(server.client(), ALL_DOCS, options=options)
    assert runner.options is options
    result = await runner.run()
    assert result.done is True
    assert result.run_id == "r1"
    assert [s.type_id for s in result.steps] == [2, 5, 7]
    saved = await store.load("k")
    assert saved is not None
    assert saved.done is True
    # One options object serves any number of runners (and runs): it holds no run state. The
    # wizard has ended and the checkpoint is done: the next run starts afresh, with nothing to do.
    again = await WizardRunner(server.client(), ALL_DOCS, options=options).run()
    assert (again.done, again.steps, again.resumed) == (True, (), False)


def test_runners_with_the_default_keywords_share_one_options_object() -> None:
    # The shortcut compares each keyword with the options' defaults by identity, in field
    # order: it must be the very defaults of ``WizardRunner``'s keywords, field by field.
    from kycflow.wizard import runner as runner_module

    keyword_defaults = WizardRunner.__init__.__kwdefaults__
    assert keyword_defaults is not None
    names = [f.name for f in dataclasses.fields(RunnerOptions)]
    assert list(runner_module._OPTION_NAMES) == names
    assert all(
        keyword_defaults[name] is value
        for name, value in zip(names, runner_module._DEFAULT_ARGS, strict=True)
    )
    first = WizardRunner(FakeServer().client(), ALL_DOCS)
    second = WizardRunner(FakeServer().client(), ALL_DOCS, deadline=600)  # equal, not the same
    assert first.options is second.options is runner_module._DEFAULTS
    assert first.options == RunnerOptions()


@pytest.mark.parametrize("bad", [{"max_steps": 50.0}, {"stall_limit": 3.0}])
def test_a_float_equal_to_a_default_integer_is_still_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        WizardRunner(FakeServer().client(), ALL_DOCS, **bad)


async def _no_sleep(_: float) -> None:
    return None


def _policy(supplied: Any, step: Any) -> Any:
    return supplied[0]


# For each option a valid value that is not its default, several of them another option's
# default (4, 3, 2.0, 600.0): a shortcut that compared the wrong pairs would take them for it.
NON_DEFAULTS: dict[str, Any] = {
    "max_steps": 4,
    "deadline": 2.0,
    "on_event": print,
    "checkpoint_store": None,  # set with its key below: one needs the other
    "checkpoint_key": "k",
    "type_policy": _policy,
    "upload_concurrency": 3,
    "stall_limit": 4,
    "max_submit_attempts": 4,
    "settle_delay": 600.0,
    "run_id": "r",
    "sleep": _no_sleep,
    "rng": random.Random(1),
}


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(RunnerOptions)])
def test_each_option_given_alone_reaches_the_runner(name: str) -> None:
    assert set(NON_DEFAULTS) == {f.name for f in dataclasses.fields(RunnerOptions)}
    given = {name: NON_DEFAULTS[name]}
    if name == "checkpoint_store":
        given = {"checkpoint_store": MemoryCheckpointStore(), "checkpoint_key": "k"}
    runner = WizardRunner(FakeServer().client(), ALL_DOCS, **given)
    for key, value in given.items():
        assert getattr(runner.options, key) is value
    assert runner.options != RunnerOptions()
