"""A tenant admin brands the site: colours that pass a contrast check, language, sender name, a raster
logo (SVG refused); learners see it on every page; nothing else of the tenant row can be changed."""

from __future__ import annotations

import io

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image
from sqlalchemy import text

from lms.db.binding import tenant_session
from lms.db.engines import Database
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]


def png(size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def test_admin_changes_colours_and_learners_see_them(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    site = host(tenant)

    pale = await client.patch(f"{site}/api/v1/admin/branding", json={"primary_color": "#f4d03f"}, headers=headers)
    assert pale.status_code == 422
    error = pale.json()["error"]
    assert error["field"] == "primary_color"
    assert "1.5:1" in error["message"] or "1.4:1" in error["message"]

    saved = await client.patch(
        f"{site}/api/v1/admin/branding",
        json={
            "primary_color": "#7b1fa2",
            "accent_color": "#b35c00",
            "default_locale": "de",
            "email_sender_name": "Acme Academy",
        },
        headers=headers,
    )
    assert saved.status_code == 200, saved.text
    assert saved.json() == {
        "primary_color": "#7b1fa2",
        "accent_color": "#b35c00",
        "default_locale": "de",
        "email_sender_name": "Acme Academy",
    }
    learner = browser_headers(await bearer(login, await make_user(tenant, roles=["learner"])))
    home = await client.get(f"{secure_host(tenant)}/", headers=learner)
    assert "#7b1fa2" in home.text

    cleared = await client.patch(f"{site}/api/v1/admin/branding", json={"accent_color": ""}, headers=headers)
    assert "accent_color" not in cleared.json()
    injected = await client.patch(
        f"{site}/api/v1/admin/branding", json={"email_sender_name": "x\r\nBcc: all@evil.test"}, headers=headers
    )
    assert injected.status_code in (400, 422)
    audit = (await client.get(f"{site}/api/v1/admin/audit", headers=headers)).json()["items"]
    assert audit[0]["action"] == "branding.changed"
    assert audit[0]["before"] == {"accent_color": "#b35c00"}


async def test_logo_upload_accepts_raster_images_and_refuses_svg(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    site = host(tenant)

    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    refused = await client.put(f"{site}/api/v1/admin/branding/logo", content=svg, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "logo"
    assert "SVG" in refused.json()["error"]["message"]
    junk = await client.put(f"{site}/api/v1/admin/branding/logo", content=b"GIF89a not really", headers=headers)
    assert junk.status_code == 422
    huge = await client.put(f"{site}/api/v1/admin/branding/logo", content=png(2400), headers=headers)
    assert huge.status_code == 422

    uploaded = await client.put(f"{site}/api/v1/admin/branding/logo", content=png(), headers=headers)
    assert uploaded.status_code == 200, uploaded.text
    logo_url = uploaded.json()["logo_url"]
    assert logo_url.startswith("/brand/logo/logo-")
    assert logo_url.endswith(".png")

    served = await client.get(f"{site}{logo_url}")  # signed out: the sign-in page shows it too
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert "immutable" in served.headers["cache-control"]
    assert served.content == png()
    sign_in = await client.get(f"{secure_host(tenant)}/sign-in")
    assert logo_url in sign_in.text

    other = await make_tenant()
    assert (await client.get(f"{host(other)}{logo_url}")).status_code == 404
    assert (await client.get(f"{site}/brand/logo/..%2F..%2Fetc%2Fpasswd")).status_code in (400, 404, 422)


async def test_only_admins_of_the_site_change_it_and_only_its_branding(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    learner = await login(await make_user(tenant, roles=["learner", "instructor"]))
    assert (
        await client.patch(f"{host(tenant)}/api/v1/admin/branding", json={"primary_color": "#000000"}, headers=learner)
    ).status_code == 403
    other_admin = await login(await make_user(other, roles=["tenant_admin"]))
    assert (
        await client.patch(
            f"{host(tenant)}/api/v1/admin/branding", json={"primary_color": "#000000"}, headers=other_admin
        )
    ).status_code in (401, 403)

    # The application role may write the branding column of its own tenant only.
    async with tenant_session(db.app_sessions, tenant.id) as session:
        with pytest.raises(Exception, match="permission denied"):
            await session.execute(text("update tenants set seats = 100000 where id = :id"), {"id": tenant.id})
    async with tenant_session(db.app_sessions, tenant.id) as session:
        changed = await session.execute(
            text("update tenants set branding = '{}'::jsonb where id = :id"), {"id": other.id}
        )
        assert changed.rowcount == 0  # type: ignore[attr-defined]


async def test_admin_previews_then_saves_on_the_page(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    site = secure_host(tenant)
    headers = browser_headers(await bearer(login, await make_user(tenant, roles=["tenant_admin"])))

    page = await client.get(f"{site}/admin/branding", headers=headers)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # Saving the page as shown (the platform's colours in the pickers) keeps the defaults.
    untouched = await client.post(
        f"{site}/admin/branding",
        data={"csrf_token": CSRF, "primary_color": "#1f4e9c", "accent_color": "#e0892b", "default_locale": ""},
        headers=headers,
        follow_redirects=False,
    )
    assert untouched.status_code == 303, untouched.text

    form = {
        "csrf_token": CSRF,
        "primary_color": "#aaccee",
        "accent_color": "#b35c00",
        "default_locale": "",
        "email_sender_name": "",
    }
    low = await client.post(f"{site}/admin/branding", data=form, headers=headers)
    assert low.status_code == 422
    assert "contrast of 1.7:1" in low.text or "contrast of 1.6:1" in low.text

    preview = await client.post(
        f"{site}/admin/branding", data={**form, "primary_color": "#0b5d1e", "action": "preview"}, headers=headers
    )
    assert preview.status_code == 200
    assert "Preview (not saved yet)" in preview.text
    assert "--preview-primary: #0b5d1e" in preview.text
    saved = await client.post(
        f"{site}/admin/branding",
        data={**form, "primary_color": "#0b5d1e", "action": "save"},
        headers=headers,
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert "#0b5d1e" in (await client.get(f"{site}/admin/branding", headers=headers)).text

    svg = await client.post(
        f"{site}/admin/branding/logo",
        data={"csrf_token": CSRF},
        files={"logo": ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml")},
        headers=headers,
    )
    assert svg.status_code == 422
    assert "SVG logos are not accepted" in svg.text
    uploaded = await client.post(
        f"{site}/admin/branding/logo",
        data={"csrf_token": CSRF},
        files={"logo": ("logo.png", png(), "image/png")},
        headers=headers,
        follow_redirects=False,
    )
    assert uploaded.status_code == 303


async def test_the_saved_message_shows_once(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    site = secure_host(tenant)
    headers = browser_headers(await bearer(login, await make_user(tenant, roles=["tenant_admin"])))

    saved = await client.post(
        f"{site}/admin/branding",
        data={"csrf_token": CSRF, "primary_color": "#0b5d1e", "accent_color": "#b35c00", "default_locale": ""},
        headers=headers,
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    shown = await client.get(f"{site}{saved.headers['location']}", headers=headers)
    assert shown.status_code == 200
    assert shown.text.count("Your branding is saved. Every page shows it now.") == 1
    # Inside the administration's frame, like every admin page.
    assert 'class="admin-nav"' in shown.text
