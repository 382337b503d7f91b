"""A web app that embeds the KYC flow for its users (aiohttp.web).

    python examples/webapp.py [--port 8000]

starts kycflow's sandbox and this app on loopback and prints the page's URL.

How it is built:

- One shared ``kycflow.Client`` for the whole app, created on startup and closed on cleanup;
  each end user gets a cheap ``client.with_auth(BearerToken(...))`` view of it.
- ``GET /kyc/{user}`` asks the wizard (``wizard.start()``) which document types the current
  step wants and shows an upload form with one file field per type.
- ``POST /kyc/{user}/documents`` keeps the uploaded files in memory and starts a background
  ``WizardRunner`` over them (a ``CallableProvider`` around a ``MemoryProvider``).
- ``GET /kyc/{user}/progress`` shows live progress by polling ``GET /kyc/{user}/status``, a JSON
  view fed by the runner's ``on_event``.
- After the wizard, an admin reviews the documents: one ``kycflow.LevelWatcher`` for the whole
  app watches every user whose wizard ended, and the progress page shows the granted level
  live when the watcher's ``LevelGranted`` event arrives (the API sends no webhooks).
- With ``--redis URL`` (``create_app(..., redis_url=...)``, needs ``kycflow[arq]``) the events
  also go to a Redis stream per user (``kycflow.integrations.redis_events``), and the status
  view reads them from there: any process of the app can show any user's progress, and
  ``GET /kyc/{user}/events`` streams them as server-sent events, resumable by ``Last-Event-ID``.

The wizard reveals one step at a time, so the app cannot know up front every document it will
need: when the runner stops at a step nobody uploaded files for (``MissingDocumentError``), the
page asks for that step's documents and the next run carries on from there. Committed steps are
never submitted again: the wizard itself remembers where the user is.

``create_app(base_url, token_for_user)`` builds the app; ``token_for_user(user_id)`` returns (or
awaits to) the API access token of the app's user. A real app would take the user from its own
session instead of the URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import html
import inspect
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, web

import kycflow

TokenForUser = Callable[[str], "Awaitable[str] | str"]

MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_FILES = 10
_USER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TYPE_FIELD = re.compile(r"^type-(\d{1,9})$")


@dataclass
class KycSession:
    """One app user's verification: the files they gave and the state of the latest run."""

    files: dict[int, list[tuple[str, bytes]]] = field(default_factory=dict)
    type_names: dict[int, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    state: str = "idle"  # idle, running, needs_documents, complete, failed
    message: str = ""
    requested: list[dict[str, Any]] = field(default_factory=list)
    committed: int = 0  # steps committed by earlier runs: each run counts its steps from 1
    task: asyncio.Task[None] | None = None
    level: str | None = None  # the level granted after the wizard (None: under review)

    def status(self) -> dict[str, Any]:
        """What the progress page polls."""
        return {
            "state": self.state,
            "message": self.message,
            "requested": self.requested,
            "types": {str(k): v for k, v in self.type_names.items()},
            "events": self.events,
            "level": self.level,
        }


BASE_URL = web.AppKey("base_url", str)
TOKEN_FOR_USER: web.AppKey[TokenForUser] = web.AppKey("token_for_user")
CLIENT = web.AppKey("client", kycflow.Client)
SESSIONS = web.AppKey("sessions", dict[str, KycSession])
WATCHER = web.AppKey("watcher", kycflow.LevelWatcher)
# How often the watcher polls a user whose wizard just ended, backing off to a minute.
WATCH_POLL = kycflow.PollPolicy(initial=1.0, factor=1.5, maximum=60.0)
REDIS_URL: web.AppKey[str | None] = web.AppKey("redis_url")
REDIS: web.AppKey[Any] = web.AppKey("redis")
EVENTS: web.AppKey[Any] = web.AppKey("events")
EVENTS_PREFIX = "kycflow:webapp:events:"


def create_app(
    base_url: str, token_for_user: TokenForUser, *, redis_url: str | None = None
) -> web.Application:
    """The web app, talking to the verification API at ``base_url``; with ``redis_url``, run
    events go through a Redis stream per user, readable by every process of the app."""
    app = web.Application(client_max_size=MAX_FILES * MAX_FILE_BYTES)
    app[BASE_URL] = base_url
    app[TOKEN_FOR_USER] = token_for_user
    app[SESSIONS] = {}
    app[REDIS_URL] = redis_url
    app.cleanup_ctx.append(_client_context)
    if redis_url is not None:
        app.cleanup_ctx.append(_redis_context)
        app.router.add_get("/kyc/{user}/events", event_stream)
    app.router.add_get("/", index)
    app.router.add_get("/kyc/{user}", documents_page)
    app.router.add_post("/kyc/{user}/documents", receive_documents)
    app.router.add_get("/kyc/{user}/progress", progress_page)
    app.router.add_get("/kyc/{user}/status", status)
    return app


async def _client_context(app: web.Application) -> AsyncIterator[None]:
    # One client, one connection pool, for every user of the app.
    async with kycflow.Client(app[BASE_URL]) as client:
        app[CLIENT] = client
        sessions = app[SESSIONS]

        def on_grant(event: kycflow.LevelGranted) -> None:
            if event.previous_level is None:
                return  # the account's initial level (same second as the run's start)
            level = event.current_level
            sessions.setdefault(event.key, KycSession()).level = level.name if level else "?"
            watcher.remove(event.key)  # one grant is what the page waits for

        watcher = kycflow.LevelWatcher(client, on_grant=on_grant, poll=WATCH_POLL, max_rps=5)
        app[WATCHER] = watcher
        async with watcher:
            yield
        tasks = [s.task for s in app[SESSIONS].values() if s.task and not s.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _redis_context(app: web.Application) -> AsyncIterator[None]:
    import redis.asyncio

    from kycflow.integrations.redis_events import RedisEventPublisher

    url = app[REDIS_URL]
    assert url is not None
    connection = redis.asyncio.Redis.from_url(url)
    app[REDIS] = connection
    app[EVENTS] = RedisEventPublisher(connection, prefix=EVENTS_PREFIX, maxlen=500)
    try:
        yield
    finally:
        await connection.aclose()


async def _client_for(app: web.Application, user: str) -> kycflow.Client:
    token = app[TOKEN_FOR_USER](user)
    if inspect.isawaitable(token):
        token = await token
    return app[CLIENT].with_auth(kycflow.BearerToken(token))


def _user(request: web.Request) -> str:
    user = request.match_info["user"]
    if not _USER_ID.match(user):
        raise web.HTTPNotFound(text="unknown user")
    return user


def _session(request: web.Request, user: str) -> KycSession:
    return request.app[SESSIONS].setdefault(user, KycSession())


# -- pages ----------------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; color: #222; }
h1 { font-size: 1.5rem; } fieldset { border: 1px solid #ccc; border-radius: 6px; }
label { display: block; margin: .6rem 0; } .type { font-weight: 600; display: block; }
button, .button { background: #2457c5; color: #fff; border: 0; border-radius: 4px;
  padding: .5rem 1rem; font-size: 1rem; text-decoration: none; display: inline-block; }
[hidden] { display: none !important; } #events li { margin: .2rem 0; }
.done { color: #17803d; } .error { color: #b42318; }
"""


def _page(title: str, body: str, status: int = 200, user: str = "") -> web.Response:
    text = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body data-user='{html.escape(user)}'><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=text, content_type="text/html", status=status)


async def index(request: web.Request) -> web.Response:
    """A link to the demo user's page."""
    return _page("KYC demo", "<p><a class='button' href='/kyc/alice'>Verify as alice</a></p>")


async def documents_page(request: web.Request) -> web.Response:
    """The document types the wizard's current step asks for, and a form to upload them."""
    user = _user(request)
    session = _session(request, user)
    if session.state == "running":
        raise web.HTTPSeeOther(f"/kyc/{user}/progress")
    try:
        step = await (await _client_for(request.app, user)).wizard.start()
    except kycflow.KycflowError as exc:
        return _page("Verification unavailable", _error_html(exc), status=502)
    if step.is_final:
        return _page("Verification complete", "<p class='done'>Nothing left to verify.</p>")
    for doc_type in step.types:
        session.type_names[doc_type.id] = doc_type.description
    types = step.enabled_types
    listing = "".join(
        f"<li data-type-id='{t.id}'>{html.escape(t.description or str(t.id))}</li>" for t in types
    )
    fields = "".join(
        f"<label><span class='type'>{html.escape(t.description or str(t.id))}</span>"
        f"<input type='file' name='type-{t.id}' multiple "
        "accept='.jpg,.jpeg,.png,.pdf,.heic,.heif'></label>"
        for t in types
    )
    alternatives = "one of these documents" if len(types) > 1 else "this document"
    note = ""
    if session.state == "failed":
        note = f"<p class='error'>The last attempt failed: {html.escape(session.message)}</p>"
    body = (
        f"{note}<p>To continue your verification, please upload {alternatives}:</p>"
        f"<ul id='requested'>{listing}</ul>"
        f"<form method='post' action='/kyc/{user}/documents' enctype='multipart/form-data'>"
        f"<fieldset><legend>Your documents</legend>{fields}</fieldset>"
        "<p><button type='submit'>Upload and verify</button></p></form>"
    )
    return _page("Verify your identity", body)


def _error_html(exc: BaseException) -> str:
    return f"<p class='error'>{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</p>"


async def receive_documents(request: web.Request) -> web.Response:
    """Keep the uploaded files and start a run over them."""
    user = _user(request)
    session = _session(request, user)
    if session.state == "running":
        raise web.HTTPSeeOther(f"/kyc/{user}/progress")
    received: dict[int, list[tuple[str, bytes]]] = {}
    count = 0
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        match = _TYPE_FIELD.match(part.name or "")
        if match is None or not part.filename:
            await part.release()
            continue
        data = await _read_limited(part)
        if not data:
            continue  # an empty file field the browser sends when nothing was chosen
        count += 1
        if count > MAX_FILES:
            return _page("Too many files", "<p class='error'>Too many files.</p>", status=413)
        received.setdefault(int(match.group(1)), []).append((part.filename, data))
    if not received:
        return _page(
            "No document chosen",
            f"<p class='error'>Please choose a file.</p><p><a href='/kyc/{user}'>Back</a></p>",
            status=400,
        )
    session.files.update(received)
    session.task = asyncio.create_task(_drive(request.app, user, session))
    raise web.HTTPSeeOther(f"/kyc/{user}/progress")


async def _read_limited(part: BodyPartReader) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk():
        size += len(chunk)
        if size > MAX_FILE_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_FILE_BYTES, actual_size=size)
        chunks.append(chunk)
    return b"".join(chunks)


async def _drive(app: web.Application, user: str, session: KycSession) -> None:
    """One run of the wizard over the files the user has given so far."""
    session.state = "running"
    session.message = ""
    session.requested = []
    files: dict[int | str, list[tuple[str, bytes]]] = {k: v for k, v in session.files.items()}
    memory = kycflow.MemoryProvider(files)

    async def lookup(doc_type: kycflow.DocumentType) -> list[kycflow.Document] | None:
        session.type_names[doc_type.id] = doc_type.description
        return await memory.documents_for(doc_type)

    offset = session.committed
    # createTime is to the second: a grant in the same second as the start still counts.
    started = datetime.now(UTC).replace(microsecond=0)
    publisher = app.get(EVENTS)

    async def on_event(event: kycflow.WizardEvent) -> None:
        data = event.to_dict()
        data["step"] += offset
        session.events.append(data)
        if data["event"] == "wizard.step_submitted":
            session.committed += 1
        if publisher is not None:  # the runner logs (and survives) a failed publish
            await publisher.publish(user, data)

    try:
        client = await _client_for(app, user)
        runner = kycflow.WizardRunner(client, kycflow.CallableProvider(lookup), on_event=on_event)
        await runner.run()
    except kycflow.MissingDocumentError as exc:
        session.state = "needs_documents"
        session.requested = [
            {"id": t.id, "description": t.description}
            for t in exc.requested
            if isinstance(t, kycflow.DocumentType)
        ]
    except kycflow.KycflowError as exc:
        session.state = "failed"
        session.message = f"{type(exc).__name__}: {exc}"
        session.files.clear()  # let the user choose other files
    else:
        session.state = "complete"
        session.level = None
        # The review follows: watch for the grant from the start of this run on.
        if client.auth is not None:
            app[WATCHER].add(user, client.auth, since=started)


async def status(request: web.Request) -> web.Response:
    """The user's run as JSON: state, requested types, and the runner's events."""
    user = _user(request)
    data = _session(request, user).status()
    if REDIS in request.app:
        from kycflow.integrations.redis_events import read_events

        # The stream holds the events whichever process ran the wizard.
        stream = read_events(
            request.app[REDIS], user, prefix=EVENTS_PREFIX, block=None, stop_after=()
        )
        data["events"] = [item.data async for item in stream]
        if data["state"] == "idle" and data["events"]:
            data["state"] = _state_of(data["events"][-1])
    return web.json_response(data)


def _state_of(last: dict[str, Any]) -> str:
    """A run's state seen from its last event, for a process that did not run it."""
    if last["event"] == "wizard.completed":
        return "complete"
    if last["event"] == "wizard.failed":
        return "needs_documents" if last.get("error") == "MissingDocumentError" else "failed"
    return "running"


async def event_stream(request: web.Request) -> web.StreamResponse:
    """The user's events as server-sent events, live, resuming after ``Last-Event-ID``."""
    from kycflow.integrations.redis_events import read_events

    user = _user(request)
    last_id = request.headers.get("Last-Event-ID", "0-0")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    response.headers["Cache-Control"] = "no-store"
    await response.prepare(request)
    stream = read_events(
        request.app[REDIS],
        user,
        prefix=EVENTS_PREFIX,
        last_id=last_id,
        idle_timeout=60,
        stop_after={"wizard.completed"},  # a run that wants more documents is not the end
    )
    async for item in stream:
        payload = json.dumps(item.data, separators=(",", ":"))
        await response.write(f"id: {item.id}\ndata: {payload}\n\n".encode())
    await response.write_eof()
    return response


_PROGRESS_SCRIPT = """
const user = document.body.dataset.user;
const label = (types, id) => types[String(id)] ? `${types[String(id)]}` : `type ${id}`;
function describe(e, types) {
  switch (e.event) {
    case 'wizard.step_started':
      return `Step ${e.step}: ${label(types, e.type_id)}, uploading ${e.file_count} file(s)`;
    case 'wizard.file_uploaded': return `Step ${e.step}: uploaded ${e.file_name}`;
    case 'wizard.step_submitted': return `Step ${e.step}: submitted`;
    case 'wizard.retrying': return `Step ${e.step}: retrying ${e.action} (${e.reason})`;
    case 'wizard.completed': return `All ${e.step} step(s) done`;
    case 'wizard.failed':
      return e.error === 'MissingDocumentError'
        ? `Step ${e.step}: waiting for your documents`
        : `Step ${e.step} failed: ${e.error}`;
    default: return e.event;
  }
}
function render(s) {
  const list = document.getElementById('events');
  list.replaceChildren(...s.events.map(e => {
    const li = document.createElement('li'); li.textContent = describe(e, s.types); return li;
  }));
  const status = document.getElementById('status');
  const next = document.getElementById('next');
  const level = document.getElementById('level');
  next.hidden = true;
  level.hidden = s.state !== 'complete';
  if (s.state === 'running') { status.textContent = 'Verifying…'; status.className = ''; }
  else if (s.state === 'complete') {
    status.textContent = 'Verification complete'; status.className = 'done';
    level.textContent = s.level ? `Level granted: ${s.level}` : 'Waiting for the review…';
    level.className = s.level ? 'done' : '';
    return !s.level;  // keep polling until the level arrives
  } else if (s.state === 'needs_documents') {
    const names = s.requested.map(t => t.description || `type ${t.id}`).join(' or ');
    status.textContent = `More documents needed: ${names}`; status.className = '';
    next.textContent = 'Continue'; next.hidden = false;
  } else if (s.state === 'failed') {
    status.textContent = `Verification failed: ${s.message}`; status.className = 'error';
    next.textContent = 'Try again'; next.hidden = false;
  } else { status.textContent = 'No verification running'; }
  return s.state === 'running';
}
async function poll() {
  let again = true;
  try {
    const r = await fetch(`/kyc/${user}/status`, {cache: 'no-store'});
    again = render(await r.json());
  } catch (err) { /* the server may be restarting: keep polling */ }
  if (again) setTimeout(poll, 250);
}
poll();
"""


async def progress_page(request: web.Request) -> web.Response:
    """Live progress, polled from the status endpoint."""
    user = _user(request)
    body = (
        "<h2 id='status'>Verifying…</h2><p id='level' hidden></p><ol id='events'></ol>"
        f"<p><a id='next' class='button' href='/kyc/{user}' hidden>Continue</a></p>"
        f"<script>{_PROGRESS_SCRIPT}</script>"
    )
    return _page("Your verification", body, user=user)


# -- running it -----------------------------------------------------------------------------------


async def serve(port: int, redis_url: str | None = None) -> None:
    """The sandbox plus the app on loopback, until Ctrl-C."""
    from kycflow.testing import Review, Sandbox, Scenario

    kycflow.configure_logging("WARNING")
    # The sandbox's reviewer grants the level a few seconds after the wizard ends.
    scenario = dataclasses.replace(Scenario.default(), review=Review(delay=3.0))
    async with Sandbox(scenario) as sandbox:
        tokens: dict[str, str] = {}

        def token_for_user(user: str) -> str:
            # Each app user gets a sandbox account the first time they show up.
            if user not in tokens:
                tokens[user] = sandbox.create_user().access_token
            return tokens[user]

        app = create_app(sandbox.base_url, token_for_user, redis_url=redis_url)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        bound = runner.addresses[0][1]
        print(f"sandbox API at {sandbox.base_url}")
        print(f"open http://127.0.0.1:{bound}/kyc/alice  (Ctrl-C to stop)", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The KYC web app example, with the sandbox.")
    parser.add_argument("--port", type=int, default=8000, help="port of the app (0: any)")
    parser.add_argument("--redis", default=None, help="redis:// URL: events through Redis")
    options = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(options.port, options.redis))
