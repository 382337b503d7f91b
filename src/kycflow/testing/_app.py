"""The sandbox's aiohttp application: its route table over one ``SandboxState``."""

from __future__ import annotations

from aiohttp import web

from ._http import ADMIN_PREFIX, API_PREFIX
from ._middleware import make_middleware
from ._routes_admin import AdminRoutes
from ._routes_auth import AuthRoutes
from ._routes_documents import DocumentRoutes
from ._routes_files import FileRoutes
from ._routes_verifications import VerificationRoutes
from .state import SandboxState

__all__ = ["build_app"]


def build_app(state: SandboxState, *, admin: bool) -> web.Application:
    """The application serving ``state``; with ``admin``, the admin API under ``/_sandbox``."""
    app = web.Application(
        middlewares=[make_middleware(state.records, lambda: state.scenario.quirks.error_body)]
    )
    add = app.router.add_route
    api = API_PREFIX + "/v2/my"
    verifications = VerificationRoutes(state)
    add("GET", api + "/verifications", verifications.history, name="history")
    add("GET", api + "/verifications/wizard", verifications.wizard, name="wizard")
    add("GET", api + r"/verifications/{vid:\d+}", verifications.details, name="details")
    add("POST", api + "/verifications", verifications.submit, name="submit")
    add("POST", api + "/verifications/", verifications.submit_slash, name="submit_slash")
    add("POST", api + "/files", FileRoutes(state).upload, name="upload")
    docs = DocumentRoutes(state)
    add("GET", api + "/documents", docs.list, name="documents")
    add("POST", api + "/documents", docs.create, name="document_create")
    add("GET", api + r"/documents/{did:\d+}", docs.get, name="document")
    add("DELETE", api + r"/documents/{did:\d+}", docs.delete, name="document_delete")
    auth = AuthRoutes(state)
    add("GET", api + "/signin/wizard", auth.signin_wizard, name="signin_wizard")
    add("POST", api + "/signin", auth.signin, name="signin")
    add("POST", api + "/signin/2fa", auth.choose_factor, name="signin_2fa")
    add("POST", api + "/2fa/{kind}", auth.second_factor, name="second_factor")
    add("POST", api + "/refresh", auth.refresh, name="refresh")
    if admin:
        routes = AdminRoutes(state)
        add("POST", ADMIN_PREFIX + "/users", routes.users, name="admin_users")
        add("GET", ADMIN_PREFIX + "/records", routes.records, name="admin_records")
        add("GET", ADMIN_PREFIX + "/faults", routes.get_faults, name="admin_faults")
        add("POST", ADMIN_PREFIX + "/faults", routes.set_faults, name="admin_set_faults")
        add("POST", ADMIN_PREFIX + "/reset", routes.reset, name="admin_reset")
        add("POST", ADMIN_PREFIX + "/expire", routes.expire, name="admin_expire")
        add("GET", ADMIN_PREFIX + "/scenario", routes.scenario, name="admin_scenario")
        add("POST", ADMIN_PREFIX + "/review", routes.review, name="admin_review")
        add("GET", ADMIN_PREFIX + "/reviews", routes.reviews, name="admin_reviews")
    return app
