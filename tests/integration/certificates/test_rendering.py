"""The certificate template is the tenant's own when it has one; a dead browser is replaced."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lms.certificates.services.rendering import CertificateTemplates, CertificateView, PdfRenderer
from lms.config import PROJECT_ROOT


def view(**fields: object) -> CertificateView:
    values: dict[str, object] = {
        "cert_id": "6f1c2e58-8a0b-4a53-9a57-0d5e2b8f4c11",
        "learner_name": "Mary Jackson",
        "course_title": "Wind Tunnel Basics",
        "tenant_name": "Langley Learning",
        "issued_at": datetime(2026, 11, 21, tzinfo=UTC),
        "expires_at": None,
        "verify_url": "https://learn.langley.test/verify/6f1c2e58-8a0b-4a53-9a57-0d5e2b8f4c11",
        "primary_color": "#0b3d91",
        "accent_color": "#fc3d21",
        "logo_data_url": None,
        "signatory_name": "Dorothy Vaughan",
        "signatory_title": "Head of Computing",
        "signature_image": None,
        "paper": "Letter",
    }
    values.update(fields)
    return CertificateView(**values)  # type: ignore[arg-type]


def test_a_tenant_template_replaces_the_default_for_that_tenant_only(tmp_path: Path) -> None:
    shutil.copytree(PROJECT_ROOT / "branding" / "certificates", tmp_path / "certificates")
    (tmp_path / "certificates" / "tenants" / "langley.html").write_text(
        "<p>Langley certifies {{ c.learner_name }}</p>{{ qr }}"
    )
    templates = CertificateTemplates(tmp_path)

    own = templates.render("langley", view())
    default = templates.render("acme", view())

    assert own.startswith("<p>Langley certifies Mary Jackson</p><svg")
    assert "Certificate of Completion" in default
    assert "Dorothy Vaughan" in default
    assert "Letter landscape" in default


def test_learner_names_are_escaped_in_the_template() -> None:
    html = CertificateTemplates(PROJECT_ROOT / "branding").render("x", view(learner_name="<script>alert(1)</script>"))

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.e2e
async def test_the_renderer_replaces_a_browser_that_died() -> None:
    renderer = PdfRenderer()
    html = CertificateTemplates(PROJECT_ROOT / "branding").render("x", view())
    try:
        first = await renderer.pdf(html, "Letter")
        page = await renderer.page()
        await page.context.browser.close()  # type: ignore[union-attr]

        second = await renderer.pdf(html, "Letter")

        assert first.startswith(b"%PDF")
        assert second.startswith(b"%PDF")
        assert (await renderer.page()) is not page
    finally:
        await renderer.close()
