"""The chat page in a real headless Chromium (Debian's, driven by Playwright) against a real
server: streaming, citations, follow-ups, refusals, keyboard use, and a 375px phone screen.

Needs /usr/bin/chromium (apt-get install chromium) and the playwright pip package; Playwright's
own browser download is never used. Without them the tests skip locally and fail under CI=true.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import REPO, Server

pytestmark = pytest.mark.browser

ARTIFACTS = REPO / "test-artifacts"
ANSWER_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def server(demo_server: Server) -> Server:
    """The shared demo server: chat turns and completions only add conversations."""
    return demo_server


@pytest.fixture
def page_errors() -> list[str]:
    return []


def open_page(browser: Any, url: str, errors: list[str], **context: Any) -> Any:
    page = browser.new_context(locale="en-US", **context).new_page()
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    # Nothing may come from outside this server (no CDN, no fonts).
    page.on(
        "request",
        lambda req: (
            None
            if req.url.startswith((url, "data:"))
            else errors.append(f"external request: {req.url}")
        ),
    )
    page.goto(url + "/")
    return page


def ask(page: Any, question: str) -> Any:
    """Types the question, sends it with Enter and returns the finished assistant turn."""
    before = page.get_by_test_id("assistant-turn").count()
    box = page.get_by_test_id("message-input")
    box.fill(question)
    box.press("Enter")
    turn = page.get_by_test_id("assistant-turn").nth(before)
    turn.wait_for()
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=assistant-turn]')[n]"
        "?.classList.contains('pending') === false",
        arg=before,
        timeout=ANSWER_TIMEOUT_MS,
    )
    return turn


def record_answer_growth(page: Any) -> None:
    """Notes the text of the newest answer at every DOM change, to see it grow piece by piece."""
    page.evaluate(
        """() => {
        window.__growth = [];
        const log = document.querySelector('[data-testid=conversation]');
        new MutationObserver(() => {
            const answers = log.querySelectorAll('[data-testid=answer]');
            const last = answers[answers.length - 1];
            if (last) window.__growth.push(last.textContent);
        }).observe(log, {childList: true, subtree: true, characterData: true});
    }"""
    )


MARKERS = re.compile(r"\s*\[\d+\]")


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def assert_panel_fits(page: Any, width: int, height: int) -> None:
    """The passage panel lies inside the viewport and clear of the question box."""
    panel = page.get_by_test_id("passage-panel").bounding_box()
    composer = page.get_by_test_id("composer").bounding_box()
    assert panel is not None and composer is not None
    assert panel["x"] >= 0 and panel["y"] >= 0, panel
    assert panel["x"] + panel["width"] <= width, (panel, width)
    assert panel["y"] + panel["height"] <= height, (panel, height)
    assert not overlaps(panel, composer), (
        f"the panel {panel} runs under the question box {composer}"
    )


def assert_in_view(page: Any, mark: Any) -> None:
    """The highlight is visible inside the panel's scrolling passage area."""
    box = mark.bounding_box()
    area = page.get_by_test_id("passage-scroll").bounding_box()
    assert box is not None and area is not None
    assert area["y"] <= box["y"] < area["y"] + area["height"], (box, area)


def test_chat_page_desktop(browser: Any, server: Server, page_errors: list[str]) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    page = open_page(browser, server.url, page_errors, viewport={"width": 1280, "height": 900})
    expect(page.get_by_test_id("message-input")).to_be_focused()

    # Turn 1: the answer streams in and cites the Moscow article.
    record_answer_growth(page)
    first = ask(page, "Who attended the Moscow meeting?")
    expect(first.get_by_test_id("searched-for")).to_contain_text("Who attended the Moscow meeting?")
    expect(first.get_by_test_id("answer")).to_contain_text("Bogdanov")
    growth = [text for text in page.evaluate("window.__growth") if "Searching" not in text]
    partial = {text for text in growth if text and "Bogdanov" not in text}
    assert len(partial) >= 2, f"the answer did not arrive in pieces: {growth[:5]}"

    # A citation marker opens the passage panel; Escape closes it and gives focus back.
    marker = first.get_by_test_id("citation-marker").first
    marker.click()
    panel = page.get_by_test_id("passage-panel")
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("passage-title")).to_contain_text("Moscow")
    expect(page.get_by_test_id("passage-text")).to_contain_text("Bogdanov")
    # The demo article (Oct 27) or, with ../shared present, the seed article (Oct 28).
    date = page.get_by_test_id("passage-date")
    expect(date).to_have_attribute("datetime", re.compile(r"^2023-10-2[78]$"))
    expect(date).to_have_text(re.compile(r"^October 2[78], 2023$"))
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(marker).to_be_focused()
    page.keyboard.press("Enter")  # the focused marker is a real button
    expect(panel).to_be_visible()
    page.get_by_test_id("passage-close").click()
    expect(panel).to_be_hidden()

    # Shift+Enter is a new line, not a send.
    box = page.get_by_test_id("message-input")
    box.fill("first line")
    box.press("Shift+Enter")
    box.type("second line")
    assert box.input_value() == "first line\nsecond line"
    expect(page.get_by_test_id("user-turn")).to_have_count(1)
    box.fill("")

    # Turn 2: the follow-up is rewritten and answered from the Israeli statement.
    second = ask(page, "What did Israel say about it?")
    expect(second.get_by_test_id("searched-for")).to_contain_text(
        "What did Israel say about the Moscow meeting?"
    )
    expect(second.get_by_test_id("answer")).to_contain_text("obscene")
    expect(second.get_by_test_id("sources")).to_contain_text("Israel Denounces Moscow")
    # The marker after the ministry's words opens the passage that holds them.
    said = second.get_by_test_id("answer").inner_text()
    cited = re.search(r"\[(\d+)\]", said[said.index("obscene") :])
    assert cited, said
    second.locator(f'[data-testid="citation-marker"][data-citation="{cited[1]}"]').first.click()
    expect(page.get_by_test_id("passage-text")).to_contain_text("Israel")
    expect(page.get_by_test_id("passage-text")).to_contain_text("obscene")
    page.screenshot(path=str(ARTIFACTS / "chat-desktop-passage.png"))
    page.keyboard.press("Escape")

    # Turn 3: nothing in the corpus answers this; the refusal is unmistakable.
    third = ask(page, "What is the capital of Australia?")
    refusal = third.get_by_test_id("refusal")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("No answer found")
    expect(third).to_have_class(re.compile(r"\brefused\b"))
    expect(third.get_by_test_id("citation-marker")).to_have_count(0)
    answer_style = first.locator(".bubble").evaluate("e => getComputedStyle(e).backgroundColor")
    refusal_style = third.locator(".bubble").evaluate("e => getComputedStyle(e).backgroundColor")
    assert answer_style != refusal_style
    page.screenshot(path=str(ARTIFACTS / "chat-desktop.png"))

    # A reload restores the conversation from the server; "New conversation" starts afresh.
    page.reload()
    expect(page.get_by_test_id("assistant-turn")).to_have_count(3)
    expect(
        page.get_by_test_id("assistant-turn").nth(1).get_by_test_id("searched-for")
    ).to_contain_text("the Moscow meeting")
    restored = page.get_by_test_id("assistant-turn").first
    expect(restored.get_by_test_id("direct-answer")).to_have_count(1)
    expect(restored.get_by_test_id("support")).to_have_text("Quoted from the sources")
    page.get_by_test_id("new-conversation").click()
    expect(page.get_by_test_id("assistant-turn")).to_have_count(0)
    expect(page.get_by_test_id("message-input")).to_be_focused()
    fresh = ask(page, "What did Israel say about it?")
    expect(fresh.get_by_test_id("searched-for")).to_contain_text("What did Israel say about it?")
    assert page_errors == []


def test_filters_narrow_the_search(browser: Any, server: Server, page_errors: list[str]) -> None:
    from playwright.sync_api import expect

    page = open_page(browser, server.url, page_errors, viewport={"width": 1280, "height": 900})
    page.get_by_test_id("filter-after").fill("2023-11-15")
    expect(page.get_by_test_id("filters-summary")).to_have_text("from 2023-11-15")
    turn = ask(page, "Who attended the Moscow meeting?")
    expect(turn.get_by_test_id("refusal")).to_be_visible()
    page.get_by_test_id("filter-clear").click()
    expect(page.get_by_test_id("filters-summary")).to_have_text("all sources, any date")
    page.get_by_test_id("filter-after").fill("2023-10-30")
    page.get_by_test_id("filter-before").fill("2023-10-01")
    page.get_by_test_id("message-input").fill("Who attended the Moscow meeting?")
    page.get_by_test_id("message-input").press("Enter")
    expect(page.get_by_test_id("error")).to_contain_text("must not be later")
    assert page_errors == []


def test_chat_page_on_a_phone(browser: Any, server: Server, page_errors: list[str]) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    page = open_page(
        browser,
        server.url,
        page_errors,
        viewport={"width": 375, "height": 812},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    # The filters fold away on a small screen and open with a tap.
    expect(page.get_by_test_id("filter-source")).to_be_hidden()
    page.get_by_test_id("filters-box").locator("summary").tap()
    expect(page.get_by_test_id("filter-source")).to_be_visible()
    page.get_by_test_id("filters-box").locator("summary").tap()

    turn = ask(page, "Who attended the Moscow meeting?")
    expect(turn.get_by_test_id("answer")).to_contain_text("Bogdanov")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways on a phone ({width}px wide)"
    send = page.get_by_test_id("send").bounding_box()
    assert send is not None and send["x"] + send["width"] <= 375
    page.screenshot(path=str(ARTIFACTS / "chat-phone.png"))

    turn.get_by_test_id("citation-marker").first.tap()
    panel = page.get_by_test_id("passage-panel")
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("passage-title")).to_contain_text("Moscow")
    box = panel.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    page.screenshot(path=str(ARTIFACTS / "chat-phone-passage.png"))
    page.get_by_test_id("passage-close").tap()
    expect(panel).to_be_hidden()
    assert page_errors == []


@pytest.mark.parametrize(
    "viewport",
    [
        pytest.param({"width": 1100, "height": 800}, id="1100x800"),
        pytest.param({"width": 375, "height": 800}, id="375x800"),
    ],
)
def test_direct_answer_highlighted_passage_and_support(
    browser: Any, server: Server, page_errors: list[str], viewport: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    phone = viewport["width"] < 720
    extra = {"is_mobile": True, "has_touch": True} if phone else {}
    page = open_page(browser, server.url, page_errors, viewport=viewport, **extra)
    turn = ask(page, "Who attended the Moscow meeting?")

    # The answer's first sentence, up to its citation markers and full stop, leads.
    answer = turn.get_by_test_id("answer").inner_text()
    direct = turn.get_by_test_id("direct-answer")
    expect(direct).to_have_count(1)
    lead = direct.inner_text().strip()
    assert answer.startswith(lead), (lead, answer)
    assert re.fullmatch(r"[^\[\]]+ (\[\d+\])+[.!?]", lead), f"not one cited sentence: {lead!r}"
    supporting = turn.get_by_test_id("supporting-text").inner_text().strip()
    assert supporting and " ".join(answer.split()) == " ".join(f"{lead} {supporting}".split())
    weight = direct.evaluate("e => Number(getComputedStyle(e).fontWeight)")
    rest_weight = turn.get_by_test_id("supporting-text").evaluate(
        "e => Number(getComputedStyle(e).fontWeight)"
    )
    assert weight > rest_weight

    # The demo server's extractive answers quote their sources word for word.
    expect(turn.get_by_test_id("support")).to_have_text("Quoted from the sources")
    expect(turn.get_by_test_id("dropped")).to_have_count(0)

    # A citation opens its passage with the sentence(s) the answer relies on marked.
    marker = turn.get_by_test_id("citation-marker").first
    if phone:
        marker.tap()
    else:
        marker.click()
    panel = page.get_by_test_id("passage-panel")
    expect(panel).to_be_visible()
    marks = page.get_by_test_id("passage-text").locator("mark")
    expect(marks.first).to_be_visible()
    passage = page.get_by_test_id("passage-text").text_content() or ""
    plain_answer = MARKERS.sub("", answer)
    for text in marks.all_text_contents():
        assert text in passage
        sentence = text.strip().rstrip(".!?")
        assert sentence and sentence in plain_answer, f"{text!r} is not a sentence of the answer"
    assert_in_view(page, marks.first)
    expect(page.get_by_test_id("passage-legend")).to_be_visible()

    # The panel stays inside the viewport and clear of the question box.
    assert_panel_fits(page, viewport["width"], viewport["height"])
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"]
    name = f"chat-passage-{viewport['width']}x{viewport['height']}.png"
    page.screenshot(path=str(ARTIFACTS / name))

    # Still so after the conversation grows longer than the screen.
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    later = ask(page, "What did Israel say about the Moscow meeting?")
    later.get_by_test_id("citation-marker").last.click()
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("passage-text").locator("mark").first).to_be_visible()
    assert_panel_fits(page, viewport["width"], viewport["height"])
    assert page_errors == []
