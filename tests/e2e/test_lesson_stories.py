"""A learner takes a quiz with the keyboard only (answers autosave and survive a reload), submits it
and sees the result, then hands in an assignment; axe-core checks every page, at desktop and phone size."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import BrowserContext, Page, expect

from tests.conftest import Login, MakeTenant, MakeUser
from tests.e2e.test_web_stories import check_page, sign_in, site
from tests.integration.assessments.assignments.test_assignments import build_assignment
from tests.integration.assessments.helpers import build_quiz, enrol
from tests.integration.identity.helpers import PASSWORD, make_member

Client = AsyncTestClient[Litestar]

QUESTIONS: list[dict[str, Any]] = [
    {
        "type": "single_choice",
        "prompt": "Suspicious e-mail?",
        "options": [{"id": "opt-a", "text": "Report it"}, {"id": "opt-b", "text": "Ignore it"}],
        "correct": "opt-a",
    },
    {"type": "true_false", "prompt": "Share passwords with IT?", "correct": False},
    {"type": "short_answer", "prompt": "Codename?", "accepted": ["zebra"]},
]
RIGHT_CHOICES = {"opt-a", "false"}
FOCUSED = (
    "(() => { const e = document.activeElement; return {name: e.name || '', type: e.type || '', id: e.id || ''}; })()"
)


async def focused(page: Page) -> dict[str, str]:
    info: dict[str, str] = await page.evaluate(FOCUSED)
    return info


async def answer_with_the_keyboard(page: Page) -> None:
    """Tab to the first question, then answer each in turn: arrows pick a radio button, typing fills a field."""
    answered: set[str] = set()
    for _ in range(60):
        info = await focused(page)
        if not info["name"].startswith("q-") or info["name"] in answered:
            if len(answered) == len(QUESTIONS):
                return
            await page.keyboard.press("Tab")
            continue
        answered.add(info["name"])
        if info["type"] == "radio":
            await page.keyboard.press("Space")
            for _ in range(3):
                value = await page.evaluate("document.activeElement.value")
                if value in RIGHT_CHOICES:
                    break
                await page.keyboard.press("ArrowDown")
        else:
            await page.keyboard.type("Zebra")
        await page.keyboard.press("Tab")
    raise AssertionError(f"only reached {sorted(answered)}")


async def tab_to(page: Page, element_id: str) -> None:
    for _ in range(40):
        if (await focused(page))["id"] == element_id:
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} is not reachable with Tab")


async def test_learner_takes_a_quiz_with_the_keyboard_and_hands_in_an_assignment(
    web_server: int,
    context: BrowserContext,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    client: Client,
    login: Login,
) -> None:
    tenant = await make_tenant(name="Initech")
    setup = await build_quiz(client, make_user, login, tenant, questions=QUESTIONS, time_limit_seconds=900)
    course, _, _ = await build_assignment(client, make_user, login, tenant, submission_types=["text"])
    learner = await make_member(make_user, tenant)
    headers = await login(learner)
    await enrol(client, setup.base, setup.course.id, headers)
    await enrol(client, course.base, course.id, headers)
    base = site(tenant, web_server)
    page = await context.new_page()
    await page.goto(f"{base}/sign-in")
    await sign_in(page, learner.email, PASSWORD)
    await page.wait_for_url(f"{base}/")

    await page.goto(f"{base}/courses/{setup.course.id}/lessons/{setup.lesson_id}")
    await check_page(page)
    await page.get_by_role("button", name="Open the quiz").click()
    await expect(page.get_by_role("heading", name="Phishing check")).to_be_visible()
    await check_page(page)
    await tab_to(page, "start")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("timer")).to_contain_text("Time left:")
    await check_page(page)

    await answer_with_the_keyboard(page)
    await expect(page.locator("#save-status")).to_have_text("Answers saved.")
    await page.reload()
    await expect(page.get_by_label("Report it")).to_be_checked()
    await expect(page.get_by_label("False")).to_be_checked()
    await expect(page.get_by_label("Your answer")).to_have_value("Zebra")
    await check_page(page)

    await page.keyboard.press("Tab")  # from the top of the page again
    await tab_to(page, "submit-attempt")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="You passed.")).to_be_visible()
    await expect(page.get_by_text("Score: 3 of 3 points (100%)")).to_be_visible()
    await check_page(page)

    await page.goto(f"{base}/courses/{course.id}/lessons/{course.lessons['Report']}/assignment")
    await expect(page.get_by_role("heading", name="Phishing report")).to_be_visible()
    await check_page(page)
    await page.get_by_role("button", name="Submit", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("A submission needs text, a URL or at least one file.")
    await check_page(page)
    await page.get_by_label("Your answer").fill("The e-mail asked for my password; I reported it.")
    await page.get_by_role("button", name="Submit", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Your work is submitted.")
    await expect(page.get_by_text("I reported it.")).to_be_visible()
    await check_page(page)
