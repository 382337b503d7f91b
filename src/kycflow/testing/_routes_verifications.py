"""The sandbox's verification routes: history, details, the wizard and step submits."""

from __future__ import annotations

import time
import uuid as uuid_mod
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from aiohttp import web

from ._gate import authenticate, inject
from ._http import API_PREFIX, Fail, json_body
from ._render import history_entry, step_types
from ._users import SandboxUser
from .records import Duplicate, Submission
from .scenario import DocType
from .state import SandboxState

__all__ = ["VerificationRoutes"]


class VerificationRoutes:
    """Handlers of ``/v2/my/verifications...``; they work on the ``SandboxState`` given."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        scenario = state.scenario
        self._step_data = [step_types(s, scenario.quirks.wizard_data) for s in scenario.steps]

    def _step_envelope(self, user: SandboxUser, *, start: bool = False) -> dict[str, Any]:
        scenario = self.state.scenario
        step = scenario.steps[user.step]
        if step.sdk:
            data: Any = None
        elif user.refused and scenario.quirks.refusal == "fewer":
            kept = tuple(t for t in step.types if t.id not in user.refused)
            data = step_types(replace(step, types=kept), scenario.quirks.wizard_data)
        else:
            data = self._step_data[user.step]
        return {
            "code": 200,
            "data": data,
            # The reference: on the start call ``done`` means "initialisation succeeded".
            "done": start and scenario.quirks.start_done,
            "uuid": user.procedure,
            "workflow": step.wire_workflow,
        }

    def _repeat_envelope(self, user: SandboxUser, procedure: str) -> dict[str, Any]:
        """What a server accepting repeats answers: where the procedure now stands."""
        if user.procedure == procedure:
            return self._step_envelope(user)
        return _final_envelope(procedure, self.state.scenario.final_workflow)

    def _submit_reply(
        self, envelope: dict[str, Any], type_id: int, message: str | None = None
    ) -> web.StreamResponse:
        """A submit's reply in the scenario's reading: ``envelope`` (the next page or the end)
        as is, as an echo of the submitted type, or no body at all."""
        reading = self.state.scenario.quirks.submit_reply
        if reading == "empty_202":
            return web.Response(status=202)
        if reading == "empty_204":
            return web.Response(status=204)
        if reading == "echo" and envelope["code"] == 200:
            envelope = {**envelope, "data": {"types": [str(type_id)]}}
        if message is not None:
            envelope = {**envelope, "message": message}
        return web.json_response(envelope)

    async def history(self, request: web.Request) -> web.StreamResponse:
        """``GET /verifications``: the paged, sorted and filtered history."""
        user = authenticate(self.state, request)
        await inject(self.state, request, "history", user)
        query = request.query
        try:
            limit = int(query.get("limit", "10"))
            offset = int(query.get("offset", "0"))
        except ValueError:
            raise Fail(400, "Bad Request", "limit and offset must be integers") from None
        if not 1 <= limit <= 1000 or offset < 0:
            raise Fail(400, "Bad Request", "limit must be 1..1000 and offset >= 0")
        if query.get("sort_by", "createTime") != "createTime":
            raise Fail(400, "Bad Request", "sort_by must be createTime")
        order = query.get("sort_order", "desc")
        if order not in ("asc", "desc"):
            raise Fail(400, "Bad Request", "sort_order must be asc or desc")
        entries = sorted(user.history, key=lambda e: (e.create_time, e.id), reverse=order == "desc")
        rendered = [history_entry(self.state.scenario, user, e) for e in entries]
        filters = {
            key[7:-1]: value
            for key, value in query.items()
            if key.startswith("filter[") and key.endswith("]")
        }
        for name, wanted in filters.items():
            rendered = [e for e in rendered if _matches(e, name, wanted)]
        page = rendered[offset : offset + limit]
        return web.json_response({"total": len(rendered), "data": page})

    async def details(self, request: web.Request) -> web.StreamResponse:
        """``GET /verifications/{vid}``: one history entry."""
        user = authenticate(self.state, request)
        await inject(self.state, request, "details", user)
        wanted = int(request.match_info["vid"])
        for entry in user.history:
            if entry.id == wanted:
                body = history_entry(self.state.scenario, user, entry)
                if self.state.scenario.quirks.details_envelope:
                    return web.json_response({"total": 1, "data": [body]})
                return web.json_response(body)
        raise Fail(404, "Not Found", f"verification {wanted} not found")

    async def wizard(self, request: web.Request) -> web.StreamResponse:
        """``GET /verifications/wizard``: open (or continue) a procedure; its current step."""
        user = authenticate(self.state, request)
        await inject(self.state, request, "wizard", user)
        scenario = self.state.scenario
        if user.procedure is None and user.result_page is not None:
            procedure, user.result_page = user.result_page, None
            return web.json_response(
                {
                    "code": 202,
                    "data": None,
                    "done": True,
                    "uuid": procedure,
                    "workflow": scenario.final_workflow,
                }
            )
        if user.procedure is None and user.ended is not None:
            return web.json_response(
                {
                    "code": 202,
                    "data": None,
                    "done": False,
                    "uuid": user.ended,
                    "workflow": scenario.final_workflow,
                }
            )
        if user.procedure is None:
            if user.email in self.state.reviews.pending or user.level >= len(scenario.levels) - 1:
                # Nothing to submit: the last procedure awaits review, or no level is left.
                return web.json_response(
                    {
                        "code": 202,
                        "data": None,
                        "done": True,
                        "uuid": str(uuid_mod.uuid4()),
                        "workflow": scenario.final_workflow,
                    }
                )
            user.procedure = str(uuid_mod.uuid4())
            user.step = 0
        envelope = self._step_envelope(user, start=True)
        refusal = self.state.reviews.refusals.get(user.email)
        if refusal is not None:  # the last procedure was refused: say why, as the API may
            envelope["reason"] = refusal
        return web.json_response(envelope)

    async def submit_slash(self, request: web.Request) -> web.StreamResponse:
        """``POST /verifications/``: redirected or served as a submit, per the scenario."""
        if self.state.scenario.quirks.submit_trailing_slash == "redirect":
            raise web.HTTPPermanentRedirect(API_PREFIX + "/v2/my/verifications")
        return await self.submit(request)

    async def submit(self, request: web.Request) -> web.StreamResponse:
        """``POST /verifications``: commit the current step (409 on a repeated submit)."""
        state = self.state
        user = authenticate(state, request)
        await inject(state, request, "submit", user)
        procedure, type_id, files = _parse_submit(await json_body(request))
        key = (procedure, type_id, tuple(sorted(files)))
        if key in user.committed:
            state.records.duplicate_log.append(
                Duplicate(user.email, procedure, type_id, tuple(files), time.time())
            )
            if state.settings.accept_repeats:
                return self._submit_reply(self._repeat_envelope(user, procedure), type_id)
            raise Fail(409, "Conflict", "this step was already submitted")
        if user.procedure is None or procedure != user.procedure:
            raise Fail(400, "Bad Request", "uuid is not the open verification procedure")
        step = state.scenario.steps[user.step]
        doc_type = self._asked_type(user, type_id, files)
        if step.stall:
            return self._submit_reply(self._step_envelope(user), type_id)
        if doc_type.refuse is not None:
            user.refused.add(type_id)
            return self._submit_reply(self._step_envelope(user), type_id, doc_type.refuse)
        user.refused.clear()
        user.committed.add(key)
        if self._commit(user, procedure, type_id, files):
            return self._submit_reply(self._step_envelope(user), type_id)
        final_done = state.scenario.quirks.final_done
        return self._submit_reply(
            _final_envelope(
                procedure, state.scenario.final_workflow, done=final_done, types=[str(type_id)]
            ),
            type_id,
        )

    def _asked_type(self, user: SandboxUser, type_id: int, files: list[str]) -> DocType:
        """The open step's document type ``type_id``, checked against ``files`` (else 400)."""
        scenario = self.state.scenario
        step = scenario.steps[user.step]
        if step.sdk:
            raise Fail(400, "Bad Request", f"this step is done in the {step.sdk}, not here")
        doc_type = step.type_by_id(type_id)
        if doc_type is None or (type_id in user.refused and scenario.quirks.refusal == "fewer"):
            raise Fail(400, "Bad Request", f"document type {type_id} is not asked for")
        if not doc_type.enabled:
            raise Fail(400, "Bad Request", f"document type {type_id} is disabled")
        if len(files) < doc_type.min_files:
            raise Fail(
                400, "Bad Request", f"document type {type_id} needs {doc_type.min_files} files"
            )
        for path in files:
            content_type = user.files.get(path)
            if content_type is None:
                raise Fail(400, "Bad Request", "a file is not one of your uploads")
            if doc_type.content_types is not None and content_type not in doc_type.content_types:
                raise Fail(400, "Bad Request", f"a file's type is not allowed for {type_id}")
        return doc_type

    def _commit(self, user: SandboxUser, procedure: str, type_id: int, files: list[str]) -> bool:
        """Commit the open step; True while the procedure has steps left, else it ends."""
        state = self.state
        index = user.step
        user.step += 1
        completed = user.step == len(state.scenario.steps)
        now = time.time()
        state.records.submission_log.append(
            Submission(user.email, procedure, index, type_id, tuple(files), now, completed)
        )
        if not completed:
            return True
        quirks = state.scenario.quirks
        if not quirks.final_done:
            user.ended = procedure
        elif quirks.submit_reply.startswith("empty"):
            user.result_page = procedure
        user.procedure = None
        if quirks.final_done:  # a procedure that succeeded goes to review; it grants the level
            state.complete_procedure(user, procedure, now)
        user.step = 0
        return False


def _parse_submit(body: dict[str, Any]) -> tuple[str, int, list[str]]:
    """A submit body's ``(uuid, documents.type, documents.files)`` (400 when malformed)."""
    data = body.get("data")
    if not isinstance(data, dict):
        raise Fail(400, "Bad Request", "data is required")
    documents = data.get("documents")
    procedure = data.get("uuid")
    if not isinstance(procedure, str) or not procedure:
        raise Fail(400, "Bad Request", "uuid is required")
    if not isinstance(documents, dict):
        raise Fail(400, "Bad Request", "documents is required")
    type_id = documents.get("type")
    files = documents.get("files")
    if not isinstance(type_id, int) or isinstance(type_id, bool):
        raise Fail(400, "Bad Request", "documents.type must be an integer")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise Fail(400, "Bad Request", "documents.files must be a list of strings")
    return procedure, type_id, files


def _final_envelope(
    procedure: str, workflow: str | None, *, done: bool = True, types: list[str] | None = None
) -> dict[str, Any]:
    return {
        "code": 202,
        "data": {"types": types or []},
        "done": done,
        "uuid": procedure,
        "workflow": workflow,
    }


def _matches(entry: Mapping[str, Any], name: str, wanted: str) -> bool:
    if name not in entry:
        return True  # unknown filter fields are ignored, as lenient servers do
    value = entry[name]
    if isinstance(value, dict):
        return wanted in (str(value.get("id")), str(value.get("name")))
    if value is None:
        return wanted in ("", "null")
    return str(value) == wanted
