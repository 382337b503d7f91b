"""What a newcomer finds from ``import kycflow``: the event types, ``TypePolicy``, typed errors,
and the endpoint groups of ``Client`` in ``help()``."""

from __future__ import annotations

import pydoc
import typing

import kycflow
from kycflow.wizard import events


def test_event_types_and_type_policy_are_exported() -> None:
    for name in events.__all__:
        assert getattr(kycflow, name) is getattr(events, name)
        assert name in kycflow.__all__
    assert kycflow.TypePolicy is kycflow.wizard.runner.TypePolicy
    assert "TypePolicy" in kycflow.__all__
    assert issubclass(kycflow.StepStarted, kycflow.WizardEvent)


def test_missing_document_error_requested_is_typed() -> None:
    hints = typing.get_type_hints(kycflow.MissingDocumentError)
    assert hints["requested"] == list[kycflow.DocumentType]
    init = typing.get_type_hints(kycflow.MissingDocumentError.__init__)
    assert "DocumentType" in str(init["requested"])
    passport = kycflow.DocumentType(id=2, description="Passport")
    assert kycflow.MissingDocumentError("m", requested=[passport]).requested == [passport]


def test_help_of_client_shows_its_endpoint_groups() -> None:
    text = pydoc.render_doc(kycflow.Client, renderer=pydoc.plaintext)
    for name, said in (
        ("verifications", "verification history"),
        ("wizard", "verification wizard"),
        ("files", "Document uploads"),
    ):
        assert f"\n |  {name}\n" in text, name
        assert said in text
    hints = typing.get_type_hints(kycflow.Client.wizard.fget)  # type: ignore[attr-defined]
    assert hints["return"].__name__ == "Wizard"


async def test_views_have_their_own_endpoint_groups() -> None:
    async with kycflow.Client("http://127.0.0.1:9/api") as client:
        view = client.with_auth(kycflow.BearerToken("at_x1234"))
        assert view.wizard is not client.wizard
        assert view.wizard is view.wizard  # built once per view
        assert view.files._client is view  # type: ignore[attr-defined]
        # Made when first used, then kept; bound to the view, never to the client.
        assert view.verifications is view.verifications
        assert view.documents._client is view
        assert client.documents._client is client


async def test_a_subclass_view_keeps_its_class_and_own_attributes() -> None:
    class TenantClient(kycflow.Client):
        def __init__(self, base_url: str, tenant: str) -> None:
            super().__init__(base_url)
            self.tenant = tenant

    async with TenantClient("http://127.0.0.1:9/api", "acme") as client:
        view = client.with_auth(kycflow.BearerToken("at_x1234"))
        assert type(view) is TenantClient
        assert view.tenant == "acme"
        assert view.auth is not None
        assert client.auth is None
        assert view.wizard._client is view
