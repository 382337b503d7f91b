"""Every endpoint against a loopback server, with the reference's quirky replies."""

from __future__ import annotations

from typing import Any

import pytest
from corekit import DOC_TYPE, FakeServer, envelope, error, load_fixture, reply

import kycflow
from kycflow import errors as e


async def test_list_sends_query_and_auth(server: FakeServer, client: kycflow.Client) -> None:
    server.route("GET", "/v2/my/verifications", reply(load_fixture("verifications_history.json")))
    page = await client.verifications.list(
        limit=10, offset=0, sort_by="createTime", sort_order="desc", filters={"status": "x"}
    )
    assert page.total == 2
    assert [v.id for v in page.data] == [75, 186]
    seen = server.seen[0]
    assert seen.query["limit"] == "10"
    assert seen.query["offset"] == "0"
    assert seen.query["sort_by"] == "createTime"
    assert seen.query["sort_order"] == "desc"
    assert seen.query["filter[status]"] == "x"
    assert seen.headers["Authorization"] == "Bearer tok-alice-SECRET-123"
    assert seen.headers["User-Agent"] == f"kycflow/{kycflow.__version__}"


async def test_list_rejects_bad_sort_order_without_request(
    server: FakeServer, client: kycflow.Client
) -> None:
    with pytest.raises(e.ConfigurationError):
        await client.verifications.list(sort_order="sideways")
    with pytest.raises(e.ConfigurationError):
        await client.verifications.list(limit=-1)
    assert server.seen == []


async def test_iterate_pages_until_total(server: FakeServer, client: kycflow.Client) -> None:
    items = [{"id": i, "userId": str(i)} for i in range(1, 6)]

    async def paged(request: Any) -> Any:
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        return await reply({"total": 5, "data": items[offset : offset + limit]})(request)

    server.route("GET", "/v2/my/verifications", paged)
    got = [v.id async for v in client.verifications.iterate(page_size=2)]
    assert got == [1, 2, 3, 4, 5]
    assert [s.query["offset"] for s in server.seen] == ["0", "2", "4"]


async def test_iterate_stops_on_empty_page(server: FakeServer, client: kycflow.Client) -> None:
    # The server claims more than it has: an empty page ends the iteration.
    server.route(
        "GET",
        "/v2/my/verifications",
        reply({"total": 100, "data": [{"id": 1}]}),
        reply({"total": 100, "data": []}),
    )
    got = [v.id async for v in client.verifications.iterate(page_size=1)]
    assert got == [1]
    assert len(server.seen) == 2


async def test_get_unwraps_envelope(server: FakeServer, client: kycflow.Client) -> None:
    server.route("GET", "/v2/my/verifications/18", reply(load_fixture("verification_details.json")))
    v = await client.verifications.get(18)
    assert v.id == 18
    assert v.user_id == 11


async def test_get_accepts_bare_object_with_typo(
    server: FakeServer, client: kycflow.Client
) -> None:
    server.route(
        "GET",
        "/v2/my/verifications/7",
        reply({"id": 7, "previuosLevel": {"id": 1}, "reason": {"name": 5}, "userId": "1"}),
    )
    v = await client.verifications.get("7")
    assert v.previous_level is not None
    assert v.reason is not None
    assert v.reason.name == "5"


async def test_get_empty_envelope_is_not_found(server: FakeServer, client: kycflow.Client) -> None:
    server.route("GET", "/v2/my/verifications/9", reply({"total": 0, "data": []}))
    with pytest.raises(e.NotFoundError):
        await client.verifications.get(9)


async def test_wizard_start_invalid_reference_shape_repaired(
    server: FakeServer, client: kycflow.Client
) -> None:
    server.route("GET", "/v2/my/verifications/wizard", reply(load_fixture("wizard_start.json")))
    step = await client.wizard.start()
    assert step.is_final
    assert [t.id for t in step.types] == [2]


@pytest.mark.parametrize(
    "data", [None, {"types": [DOC_TYPE]}, {"types": DOC_TYPE}, [DOC_TYPE], [{"types": DOC_TYPE}]]
)
async def test_wizard_start_every_data_shape(
    server: FakeServer, client: kycflow.Client, data: Any
) -> None:
    server.route("GET", "/v2/my/verifications/wizard", reply(envelope(200, data)))
    step = await client.wizard.start()
    assert [t.id for t in step.types] == ([] if data is None else [2])


async def test_wizard_submit_body(server: FakeServer, client: kycflow.Client) -> None:
    server.route(
        "POST", "/v2/my/verifications", reply(load_fixture("wizard_submit_reply.json"), 200)
    )
    step = await client.wizard.submit("wiz-1", 1, ["id_card,jpeg", "id_card_reverse_side.jpeg"])
    assert step.is_final
    sent = server.seen[0].json()
    assert sent == {
        "data": {
            "documents": {"type": 1, "files": ["id_card,jpeg", "id_card_reverse_side.jpeg"]},
            "uuid": "wiz-1",
        }
    }
    assert server.seen[0].headers["Content-Type"] == "application/json"


async def test_submit_validates_arguments(server: FakeServer, client: kycflow.Client) -> None:
    with pytest.raises(e.ConfigurationError):
        await client.wizard.submit("", 1, ["a"])
    with pytest.raises(e.ConfigurationError):
        await client.wizard.submit("u", 1, "a")
    assert server.seen == []


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, e.BadRequestError),
        (401, e.AuthenticationError),
        (403, e.PermissionDeniedError),
        (404, e.NotFoundError),
        (409, e.ConflictError),
        (422, e.BadRequestError),
        (418, e.APIStatusError),  # a status with no class of its own
    ],
)
async def test_status_errors(
    server: FakeServer, client: kycflow.Client, status: int, cls: type[e.APIStatusError]
) -> None:
    server.route("GET", "/v2/my/verifications/wizard", error(status, "nope"))
    with pytest.raises(cls) as info:
        await client.wizard.start()
    assert info.value.status == status
    assert info.value.message == "nope"
    assert info.value.request_id == "req-test-1"
    assert info.value.details == [{"issue": "x"}]
    assert len(server.seen) == 1


async def test_html_error_from_proxy(server: FakeServer, client: kycflow.Client) -> None:
    server.route(
        "GET",
        "/v2/my/verifications/wizard",
        reply(
            raw=b"<html><body><h1>403 Forbidden</h1></body></html>",
            status=403,
            content_type="text/html",
        ),
    )
    with pytest.raises(e.PermissionDeniedError) as info:
        await client.wizard.start()
    assert "403 Forbidden" in info.value.body_excerpt


async def test_invalid_json_is_protocol_error(server: FakeServer, client: kycflow.Client) -> None:
    server.route("GET", "/v2/my/verifications/wizard", reply(raw=b'{"code": 200,}'))
    with pytest.raises(e.ProtocolError) as info:
        await client.wizard.start()
    assert '"code": 200' in info.value.excerpt


async def test_misfit_json_is_protocol_error(server: FakeServer, client: kycflow.Client) -> None:
    server.route("GET", "/v2/my/verifications", reply({"total": "lots", "data": "nope"}))
    with pytest.raises(e.ProtocolError):
        await client.verifications.list()


async def test_oversized_reply_is_protocol_error(server: FakeServer) -> None:
    big = {"total": 1, "data": [{"id": 1, "pad": "x" * 5000}]}
    server.route("GET", "/v2/my/verifications", reply(big))
    async with kycflow.Client(server.base_url, max_response_bytes=1000) as c:
        with pytest.raises(e.ProtocolError, match="max_response_bytes"):
            await c.verifications.list()


async def test_oversized_chunked_reply_without_length(server: FakeServer) -> None:
    from aiohttp import web

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(20):
            await resp.write(b"x" * 500)
        await resp.write_eof()
        return resp

    server.route("GET", "/v2/my/verifications", chunked)
    async with kycflow.Client(server.base_url, max_response_bytes=2000) as c:
        with pytest.raises(e.ProtocolError, match="exceeds"):
            await c.verifications.list()


async def test_per_call_extra_headers(server: FakeServer, client: kycflow.Client) -> None:
    server.route("GET", "/v2/my/verifications/wizard", reply(envelope()))
    await client.wizard.start(extra_headers={"X-Trace": "t1"}, max_retries=0, timeout=2.0)
    assert server.seen[0].headers["X-Trace"] == "t1"
    with pytest.raises(e.ConfigurationError):
        await client.wizard.start(bogus=1)  # type: ignore[call-arg]


async def test_raw_responses_keep_the_request_id_of_a_success(
    server: FakeServer, client: kycflow.Client
) -> None:
    server.route(
        "GET", "/v2/my/verifications/wizard", reply(envelope(), 200, {"X-Request-Id": "rq-1"})
    )
    page_reply = reply({"total": 0, "data": []}, 200, {"X-Request-Id": "rq-2"})
    server.route("GET", "/v2/my/verifications", page_reply)
    step = await client.with_raw_response.wizard.start()
    assert (step.request_id, step.status_code) == ("rq-1", 200)
    assert step.parse().uuid == "wiz-1"
    assert step.url.endswith("/api/v2/my/verifications/wizard")
    page = await client.with_auth(None).with_raw_response.verifications.list(limit=5)
    assert page.request_id == "rq-2"
    assert page.parse().total == 0
    assert "Authorization" not in server.seen[1].headers  # the view's own (no) auth
