"""The readings a sandbox can serve: ``Quirks`` (the reference's inconsistencies, each
selectable) and the names of its shapes (re-exported by ``kycflow.testing.scenario``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DATA_SHAPES",
    "ERROR_BODIES",
    "SUBMIT_REPLIES",
    "DataShape",
    "ErrorBody",
    "Quirks",
    "Refusal",
    "ScenarioError",
    "SubmitReply",
]

DataShape = Literal["types_list", "types_object", "bare_list", "reference"]
DATA_SHAPES: tuple[str, ...] = ("types_list", "types_object", "bare_list", "reference")
SubmitReply = Literal["echo", "next_step", "empty_202", "empty_204"]
SUBMIT_REPLIES: tuple[str, ...] = ("echo", "next_step", "empty_202", "empty_204")
ErrorBody = Literal["error_object", "message", "errors", "problem", "text", "html"]
ERROR_BODIES: tuple[str, ...] = ("error_object", "message", "errors", "problem", "text", "html")
Refusal = Literal["same", "fewer"]


class ScenarioError(ValueError):
    """A scenario (or a file holding one) is invalid."""


@dataclass(frozen=True, slots=True)
class Quirks:
    """The reference's inconsistencies, each selectable (defaults follow NOTES.md's samples).

    - ``previous_level_key``: ``"previousLevel"`` (samples) or ``"previuosLevel"`` (field list).
    - ``user_id_as_string``: ``userId`` as ``"1"`` instead of ``1``.
    - ``reason_name_as_int``: ``reason.name`` as the application number (0 for "created").
    - ``wizard_data``: the shape of a step's ``data``: ``types_list`` (``{"types": [...]}``),
      ``types_object`` (``{"types": {...}}`` on single-type steps), ``bare_list``, or
      ``reference`` (``[{"types": {...}}, ...]``).
    - ``details_envelope``: details wrapped in ``{"total": 1, "data": [...]}`` or a bare object.
    - ``submit_trailing_slash``: ``"accept"`` or ``"redirect"`` (308 to the path without it).
    - ``refresh_returns_refresh_token``: False sends ``refreshToken: null`` on refresh.
    - ``upload_top_level_file``: the upload reply as ``{"file": ...}`` instead of under ``data``.
    - ``submit_reply``: what a submit answers: ``echo`` (the reference: code 200 with
      ``data.types`` naming the submitted types as strings; the next page is read with the
      wizard call), ``next_step`` (the next page itself), ``empty_202`` or ``empty_204``
      (no body at all). The final step answers 202 in all but the empty readings.
    - ``start_done``: the wizard call's ``done`` on an open step (the reference: true,
      "initialisation succeeded").
    - ``final_done``: ``done`` of the final 202; False ends the wizard without success.
    - ``refusal``: how a refused submit re-asks the step: ``same`` types, or ``fewer`` (the
      refused type left out).
    - ``error_body``: the shape of every error reply: ``error_object``
      (``{"error": {"message", "details"}}``), ``message``, ``errors``, ``problem``
      (RFC 9457 problem+json), ``text`` or ``html``.
    - ``signin_factor_choice``: sign-in first asks which second factor to use
      (``POST /v2/my/signin/2fa``).
    """

    previous_level_key: Literal["previousLevel", "previuosLevel"] = "previousLevel"
    user_id_as_string: bool = False
    reason_name_as_int: bool = False
    wizard_data: DataShape = "types_list"
    details_envelope: bool = True
    submit_trailing_slash: Literal["accept", "redirect"] = "accept"
    refresh_returns_refresh_token: bool = True
    upload_top_level_file: bool = False
    submit_reply: SubmitReply = "echo"
    start_done: bool = True
    final_done: bool = True
    refusal: Refusal = "same"
    error_body: ErrorBody = "error_object"
    signin_factor_choice: bool = False

    def __post_init__(self) -> None:
        if self.submit_reply not in SUBMIT_REPLIES:
            raise ScenarioError(f"unknown submit_reply {self.submit_reply!r}")
        if self.error_body not in ERROR_BODIES:
            raise ScenarioError(f"unknown error_body {self.error_body!r}")
        if self.refusal not in ("same", "fewer"):
            raise ScenarioError(f"unknown refusal {self.refusal!r}")
        if self.previous_level_key not in ("previousLevel", "previuosLevel"):
            raise ScenarioError(f"unknown previous_level_key {self.previous_level_key!r}")
        if self.wizard_data not in DATA_SHAPES:
            raise ScenarioError(f"unknown wizard_data shape {self.wizard_data!r}")
        if self.submit_trailing_slash not in ("accept", "redirect"):
            raise ScenarioError(f"unknown submit_trailing_slash {self.submit_trailing_slash!r}")
