"""Pages in the browser's terms: HTML errors, sign-in and back, forms with CSRF and field errors,
hashed assets, the locale, and tenants kept apart."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import RefreshToken, User
from lms.tenancy.models import Tenant
from lms.tenancy.schemas import Branding
from lms.tenancy.services import Actor, TenantAdmin
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.identity.helpers import PASSWORD, make_member, secure_host
from tests.support import TEST_BASE_DOMAIN

Client = AsyncTestClient[Litestar]
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
CSRF = "csrf-" + "x" * 24


def browser_headers(token: str | None = None, csrf: str = CSRF, **extra: str) -> dict[str, str]:
    cookies = [f"lms_csrf={csrf}"] + ([f"lms_session={token}"] if token else [])
    return {**BROWSER, "Cookie": "; ".join(cookies), **extra}


async def bearer(login: Login, user: User) -> str:
    return (await login(user))["Authorization"].removeprefix("Bearer ")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/no-such-page", 404),
        ("/courses/not-a-course/at-all", 404),
        ("/sign-in", 405),
        # a single sign-on round trip that fails reaches the browser as a page too
        ("/auth/sso/0190a5c4-0000-7000-8000-000000000000/login", 404),
    ],
)
async def test_browser_errors_are_branded_pages_and_api_errors_stay_json(
    client: Client, make_tenant: MakeTenant, path: str, status: int
) -> None:
    tenant = await make_tenant(name="Umbrella Learning", branding=Branding(primary_color="#ffe066"))
    method = "PUT" if status == 405 else "GET"
    page = await client.request(method, f"{secure_host(tenant)}{path}", headers=BROWSER)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert "Umbrella Learning" in page.text
    assert '<html lang="en" dir="ltr"' in page.text
    # A light brand colour gets dark text on it (AA contrast).
    assert "--brand-on-primary: #1b1f24" in page.text
    api = await client.request(method, f"{secure_host(tenant)}{path}", headers={"Accept": "application/json"})
    assert api.status_code == status
    assert api.json()["error"]["code"]


@pytest.mark.parametrize("path", ["/account", "/design-system", "/account?tab=sessions&x=%2F"])
async def test_signed_out_visitor_is_sent_to_sign_in_and_back(
    client: Client, make_tenant: MakeTenant, path: str
) -> None:
    tenant = await make_tenant()
    response = await client.get(f"{secure_host(tenant)}{path}", headers=BROWSER, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/sign-in?next=")
    sign_in = await client.get(f"{secure_host(tenant)}{location}", headers=BROWSER)
    assert sign_in.status_code == 200
    assert 'name="next" value="' + path.replace("&", "&amp;") + '"' in sign_in.text


async def test_api_clients_still_get_401_json(client: Client, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant()
    response = await client.get(f"{secure_host(tenant)}/api/v1/me", headers=BROWSER)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_a_learner_on_a_staff_page_gets_the_403_page(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    learner = await make_user(tenant, roles=["learner"])
    response = await client.get(
        f"{secure_host(tenant)}/design-system", headers=browser_headers(await bearer(login, learner))
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "You do not have access" in response.text
    # Staff see every component of the design system.
    admin = await make_user(tenant, roles=["tenant_admin"])
    components = await client.get(
        f"{secure_host(tenant)}/design-system", headers=browser_headers(await bearer(login, admin))
    )
    assert components.status_code == 200
    for marker in ("<table", "<progress", "<dialog", 'class="tabs"', 'class="toast', "empty-state", "pagination"):
        assert marker in components.text


async def test_unknown_and_suspended_sites_answer_browsers_with_pages(
    client: Client, db: Database, make_tenant: MakeTenant
) -> None:
    unknown = await client.get(f"https://nobody.{TEST_BASE_DOMAIN}/account", headers=BROWSER)
    assert unknown.status_code == 404
    assert "No learning site here" in unknown.text
    tenant = await make_tenant(name="Initech Academy")
    async with db.operator_sessions() as session, session.begin():
        await TenantAdmin(session, Actor(name="test"), TEST_BASE_DOMAIN).suspend(tenant.id, "unpaid invoice")
    page = await client.get(f"{secure_host(tenant)}/", headers={**BROWSER, "Accept-Language": "fr-FR,fr;q=0.9"})
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert "Initech Academy" in page.text
    assert "Ce site est suspendu" in page.text
    api = await client.get(f"{secure_host(tenant)}/api/v1/me", headers=BROWSER)
    assert api.json()["error"]["code"] == "tenant_suspended"


async def test_assets_have_hashed_names_and_immutable_caching(client: Client, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant()
    home = await client.get(f"{secure_host(tenant)}/", headers=BROWSER)
    urls = re.findall(r'(?:href|src)="(/static/a/[^"]+)"', home.text)
    assert {url.split("/")[-1].split(".")[0] for url in urls} >= {"pico", "theme", "htmx", "app"}
    for url in urls:
        asset = await client.get(f"{secure_host(tenant)}{url}")
        assert asset.status_code == 200
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["content-type"].split(";")[0] in {"text/css", "text/javascript", "application/javascript"}
    missing = await client.get(f"{secure_host(tenant)}/static/a/pico.000000000000.css", headers=BROWSER)
    assert missing.status_code == 404


async def sign_in_form(client: Client, tenant: Tenant, **fields: str) -> Any:
    return await client.post(
        f"{secure_host(tenant)}/sign-in",
        data={"csrf_token": CSRF, **fields},
        headers=browser_headers(),
        follow_redirects=False,
    )


async def test_sign_in_is_email_first_then_password_then_back_to_next(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    user = await make_member(make_user, tenant)
    first = await sign_in_form(client, tenant, email=user.email, next="/account")
    assert first.status_code == 200
    assert 'name="password"' in first.text
    wrong = await sign_in_form(client, tenant, email=user.email, password="wrong password", next="/account")
    assert wrong.status_code == 401
    assert "The e-mail address or password is not correct." in wrong.text
    assert 'aria-invalid="true"' in wrong.text
    right = await sign_in_form(client, tenant, email=user.email, password=PASSWORD, next="/account")
    assert right.status_code == 303
    assert right.headers["location"] == "/account"
    assert {"lms_session", "lms_refresh", "lms_csrf"} <= set(right.cookies.keys())


@pytest.mark.parametrize("next_path", ["//evil.example", "https://evil.example/", "/\\evil.example", "javascript:x"])
async def test_sign_in_never_redirects_off_site(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, next_path: str
) -> None:
    tenant = await make_tenant()
    user = await make_member(make_user, tenant)
    response = await sign_in_form(client, tenant, email=user.email, password=PASSWORD, next=next_path)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


async def test_sign_in_form_without_the_csrf_cookie_is_refused(client: Client, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant()
    response = await client.post(
        f"{secure_host(tenant)}/sign-in",
        data={"csrf_token": CSRF, "email": "someone@example.com"},
        headers=BROWSER,
    )
    assert response.status_code == 400
    assert "This form has expired" in response.text


async def test_sign_in_sends_sso_addresses_to_their_provider(
    client: Client, db: Database, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        provider = await factories.identity.make_sso_provider(session, tenant.id)
        provider.email_domains = ["sso-corp.example"]
        provider.enabled = True
    response = await sign_in_form(client, tenant, email="pat@sso-corp.example", next="/account")
    assert response.status_code == 303
    assert response.headers["location"] == f"/auth/sso/{provider.id}/login?next=/account"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"display_name": ""}, "display_name", "Enter your name."),
        ({"display_name": "A" * 201}, "display_name", "Enter at most 200 characters."),
        ({"locale": "tlh"}, "locale", "Choose a language from the list."),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "Choose a time zone from the list."),
    ],
)
async def test_profile_form_names_the_bad_field_and_stores_nothing(
    client: Client,
    db: Database,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    tenant = await make_tenant()
    user = await make_user(tenant, display_name="Before")
    data = {"csrf_token": CSRF, "display_name": "After", "locale": "de", "time_zone": "Europe/Berlin", **fields}
    response = await client.post(
        f"{secure_host(tenant)}/account/profile", data=data, headers=browser_headers(await bearer(login, user))
    )
    assert response.status_code == 422
    assert f'href="#{field}"' in response.text
    assert message in response.text
    async with tenant_session(db.app_sessions, tenant.id) as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        assert (stored.display_name, stored.locale, stored.time_zone) == ("Before", None, None)


async def test_a_profile_form_with_a_nul_is_refused_at_the_edge_and_stores_nothing(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    user = await make_user(tenant, display_name="Before")
    data = {"csrf_token": CSRF, "display_name": "Ada\x00", "locale": "de", "time_zone": "Europe/Berlin"}
    response = await client.post(
        f"{secure_host(tenant)}/account/profile", data=data, headers=browser_headers(await bearer(login, user))
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    async with tenant_session(db.app_sessions, tenant.id) as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        assert stored.display_name == "Before"


async def test_profile_form_saves_with_the_csrf_field_and_the_page_follows_the_language(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    user = await make_user(tenant)
    token = await bearer(login, user)
    data = {"display_name": "Ada Lovelace", "locale": "de", "time_zone": "Europe/Berlin"}
    refused = await client.post(f"{secure_host(tenant)}/account/profile", data=data, headers=browser_headers(token))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    wrong = await client.post(
        f"{secure_host(tenant)}/account/profile",
        data={**data, "csrf_token": "another-token-entirely"},
        headers=browser_headers(token),
    )
    assert wrong.status_code == 403
    saved = await client.post(
        f"{secure_host(tenant)}/account/profile",
        data={**data, "csrf_token": CSRF},
        headers=browser_headers(token),
        follow_redirects=False,
    )
    assert saved.status_code == 303
    # The user's own language wins over the browser's.
    page = await client.get(
        f"{secure_host(tenant)}/account?saved=profile", headers=browser_headers(token, **{"Accept-Language": "fr"})
    )
    assert '<html lang="de"' in page.text
    assert "Ihr Profil ist gespeichert." in page.text
    async with tenant_session(db.app_sessions, tenant.id) as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        assert (stored.display_name, stored.locale, stored.time_zone) == ("Ada Lovelace", "de", "Europe/Berlin")


async def test_another_tenants_session_is_a_signed_out_visitor_here(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    home, other = await make_tenant(), await make_tenant()
    user = await make_user(home, display_name="Visitor From Elsewhere")
    token = await bearer(login, user)
    page = await client.get(f"{secure_host(other)}/account", headers=browser_headers(token), follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/sign-in")
    landing = await client.get(f"{secure_host(other)}/", headers=browser_headers(token))
    assert "Visitor From Elsewhere" not in landing.text
    write = await client.post(
        f"{secure_host(other)}/account/profile",
        data={"csrf_token": CSRF, "display_name": "Hijacked"},
        headers=browser_headers(token),
    )
    assert write.status_code == 401
    async with tenant_session(db.app_sessions, home.id) as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        assert stored.display_name == "Visitor From Elsewhere"


async def test_sign_out_revokes_the_session_family_and_clears_cookies(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    user = await make_member(make_user, tenant)
    signed_in = await sign_in_form(client, tenant, email=user.email, password=PASSWORD)
    refresh = signed_in.cookies["lms_refresh"]
    foreign = await client.post(
        f"{secure_host(tenant)}/api/v1/auth/sign-out",
        data={"csrf_token": "forged"},
        headers={**browser_headers(), "Cookie": f"lms_csrf={CSRF}; lms_refresh={refresh}"},
        follow_redirects=False,
    )
    assert foreign.headers["location"] == "/"
    response = await client.post(
        f"{secure_host(tenant)}/api/v1/auth/sign-out",
        data={"csrf_token": CSRF},
        headers={**browser_headers(), "Cookie": f"lms_csrf={CSRF}; lms_refresh={refresh}"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?signed_out=1"
    assert 'lms_session=""' in response.headers.get("set-cookie", "") or "lms_session=;" in str(
        response.headers.get_list("set-cookie")
    )
    async with tenant_session(db.app_sessions, tenant.id) as session:
        rows = (await session.execute(select(RefreshToken).where(RefreshToken.user_id == user.id))).scalars().all()
        assert rows
        assert all(row.revoked_at is not None for row in rows)


async def test_a_german_browser_gets_german_pages(client: Client, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant(name="Beispiel AG")
    page = await client.get(
        f"{secure_host(tenant)}/sign-in", headers={**BROWSER, "Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
    )
    assert '<html lang="de" dir="ltr"' in page.text
    assert "Bei Beispiel AG anmelden" in page.text
    assert "E-Mail-Adresse" in page.text


async def test_the_tenant_default_language_applies_when_the_browser_names_none_we_have(
    client: Client, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant(branding=Branding(default_locale="fr"))
    page = await client.get(f"{secure_host(tenant)}/sign-in", headers={**BROWSER, "Accept-Language": "es"})
    assert '<html lang="fr"' in page.text
    assert "Se connecter" in page.text


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/sign-in",
        "/reset-password",
        "/accept-invitation?token=lk_x",
        "/account",
        "/courses",
        "/certificates",
        "/design-system",
    ],
)
async def test_every_page_is_labelled_html_and_never_cached_by_others(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login, path: str
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    response = await client.get(f"{secure_host(tenant)}{path}", headers=browser_headers(await bearer(login, admin)))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "private, no-store"
