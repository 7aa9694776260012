"""HTML pages and RSS/Atom feeds go through the real trafilatura and feedparser, because the
point of these readers is how those libraries behave on realistic input (boilerplate, dates
they silently drop, link-only entries), which a mock would only restate."""

from __future__ import annotations

import logging
import shutil
import socket
from datetime import date
from pathlib import Path
from typing import NoReturn

import pytest

from core.articles import ArticleError
from index.formats.feed import html_to_text, parse_feed, parse_feed_entries, read_feed
from index.formats.html import html_metadata, parse_html, read_html
from index.loaders import load_articles

FIXTURES = Path(__file__).parent / "fixtures" / "web"
NEWS_PAGE = FIXTURES / "harbour_article.html"
FUTURE_PAGE = FIXTURES / "future_article.html"
EMPTY_PAGE = FIXTURES / "empty_page.html"
RSS_FEED = FIXTURES / "morning_brief.rss"
ATOM_FEED = FIXTURES / "science_notes.atom"
GARBAGE_FEED = FIXTURES / "garbage.xml"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ingest must never fetch anything; any attempt fails the test instead of hanging."""

    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def page(head: str, body: str) -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


STORY_BODY = (
    "<article><h1>Night buses return to the eastern routes</h1>"
    "<p>Night buses will run again on the three eastern routes from next week, the transport "
    "authority said, after drivers agreed a new rota that shares late shifts more evenly.</p>"
    "<p>Passengers had complained for months that the last services left the centre before "
    "midnight, long before most restaurant and hospital shifts end.</p></article>"
)


# --------------------------------------------------------------------------------------------
# HTML pages


def test_news_page_yields_article_with_metadata() -> None:
    [article] = read_html(NEWS_PAGE)

    assert article.title == "Harbour ferry service resumes after storm repairs"
    assert article.published == date(2024, 3, 12)
    assert article.source == "The Lakeside Courier"
    # The canonical link wins over og:url, which carries a tracking parameter.
    assert (
        article.url == "https://www.lakesidecourier.example/news/2024/03/12/harbour-ferry-resumes"
    )
    assert article.origin == str(NEWS_PAGE)
    assert "Gull Island" in article.text
    assert "310,000 euros" in article.text
    assert "a small holiday" in article.text


def test_news_page_text_has_no_boilerplate() -> None:
    [article] = read_html(NEWS_PAGE)

    for boilerplate in (
        "ADVERTISEMENT",
        "Glimmer Outfitters",
        "Anchor Credit",
        "Subscribe today",
        "Most read",
        "Bakery wins",
        "Copyright",
        "Privacy policy",
        "Cookie settings",
        "NewsArticle",  # JSON-LD
        ".ad-slot",  # inline CSS
    ):
        assert boilerplate not in article.text
    # The headline is stored as the title, not repeated as the first line of the body.
    assert not article.text.startswith("Harbour ferry service resumes")


def test_html_metadata_exposes_byline() -> None:
    meta = html_metadata(NEWS_PAGE.read_text(encoding="utf-8"))

    assert meta == {
        "title": "Harbour ferry service resumes after storm repairs",
        "author": "Marta Vensel",
        "site_name": "The Lakeside Courier",
        "url": "https://www.lakesidecourier.example/news/2024/03/12/harbour-ferry-resumes",
        "published": "2024-03-12",
    }


def test_future_published_time_is_rejected_not_dropped() -> None:
    # trafilatura discards the future meta date and would fall back to the visible
    # "1 June 2024"; the reader must refuse the page instead.
    with pytest.raises(ArticleError, match=r"future_article\.html.*2999-06-01.*future"):
        read_html(FUTURE_PAGE)
    with pytest.raises(ArticleError, match="future"):
        html_metadata(FUTURE_PAGE.read_text(encoding="utf-8"), origin=str(FUTURE_PAGE))


def test_future_date_in_json_ld_is_rejected() -> None:
    head = (
        "<title>Night buses</title>"
        '<script type="application/ld+json">'
        '{"@context": "https://schema.org", "@graph": [{"@type": "WebPage"},'
        ' {"@type": "NewsArticle", "datePublished": "2999-01-05T10:00:00Z"}]}'
        "</script>"
    )
    with pytest.raises(ArticleError, match=r"buses\.html.*future"):
        parse_html(page(head, STORY_BODY), "buses.html")


def test_future_pubdate_time_element_is_rejected() -> None:
    body = STORY_BODY.replace(
        "</h1>", '</h1><time itemprop="datePublished" datetime="2999-02-01">1 Feb</time>'
    )
    with pytest.raises(ArticleError, match="future"):
        parse_html(page("<title>Night buses</title>", body), "buses.html")


def test_unreadable_published_date_is_rejected() -> None:
    head = '<meta property="article:published_time" content="sometime last spring">'
    with pytest.raises(ArticleError, match=r"buses\.html.*sometime last spring.*not a date"):
        parse_html(page(head, STORY_BODY), "buses.html")


def test_future_event_mentioned_in_body_does_not_reject_page() -> None:
    head = '<meta property="article:published_time" content="2024-05-02T09:00:00Z">'
    body = STORY_BODY.replace(
        "next week", 'next week and until <time datetime="2999-12-31">the end of time</time>'
    )
    article = parse_html(page(head, body), "buses.html")

    assert article.published == date(2024, 5, 2)


def test_page_without_site_name_uses_url_host() -> None:
    head = (
        '<title>Night buses</title><link rel="canonical" href="https://www.metro-post.example/a/1">'
    )
    article = parse_html(page(head, STORY_BODY), "buses.html")

    assert article.source == "metro-post.example"
    assert article.url == "https://www.metro-post.example/a/1"


def test_url_argument_is_the_fallback_address() -> None:
    article = parse_html(
        page("<title>Night buses</title>", STORY_BODY), "buses.html", url="https://tram.example/n"
    )

    assert article.url == "https://tram.example/n"
    assert article.source == "tram.example"
    assert article.published is None


def test_short_brief_is_still_extracted() -> None:
    body = (
        "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        "<article><h1>Water main bursts on Elm Road</h1><p>A water main burst on Elm Road "
        "early on Sunday, flooding two basements.</p></article>"
    )
    article = parse_html(page("<title>Water main</title>", body), "brief.html")

    assert article.text == "A water main burst on Elm Road early on Sunday, flooding two basements."


def test_page_without_article_text_is_rejected() -> None:
    with pytest.raises(ArticleError, match=r"empty_page\.html.*no article text"):
        read_html(EMPTY_PAGE)


def test_html_file_holding_a_url_is_not_fetched() -> None:
    with pytest.raises(ArticleError, match=r"link\.html"):
        parse_html("https://news.example/story-that-must-not-be-fetched", "link.html")


# --------------------------------------------------------------------------------------------
# Feeds


def test_rss_feed_entries() -> None:
    result = parse_feed_entries(RSS_FEED.read_text(encoding="utf-8"), str(RSS_FEED))
    library, bridge = result.articles

    assert library.title == "Library extends opening hours over the winter"
    assert library.url == "https://valleybrief.example/2024/01/15/library-hours"
    assert library.published == date(2024, 1, 15)
    assert library.source == "Valley Morning Brief"
    assert library.origin == f"{RSS_FEED}[1]"
    # content:encoded is the full story; the description is only a teaser.
    assert library.text == (
        "The central library will stay open until nine in the evening on weekdays from "
        "February, the town council announced.\n\n"
        "Head librarian Agnes Moll said students had asked for a warm, quiet place to study "
        "after school."
    )

    assert bridge.title == "Bridge inspection closes river path for two days"
    assert bridge.url == "https://valleybrief.example/2024/01/16/bridge-inspection"
    # 23:10 at -05:00 is the 17th in UTC, the zone every loader normalises to.
    assert bridge.published == date(2024, 1, 17)
    assert bridge.text == (
        "Walkers and cyclists will be diverted while engineers inspect the old rail bridge "
        "on Thursday and Friday."
    )

    assert result.skipped == ["https://valleybrief.example/2024/01/17/first-snow-gallery"]


def test_link_only_entries_are_reported(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="index.formats.feed"):
        articles = read_feed(RSS_FEED)

    assert len(articles) == 2
    assert "skipped 1 feed entry with no text" in caplog.text
    assert "first-snow-gallery" in caplog.text


def test_atom_feed_entries() -> None:
    swans, observatory = parse_feed(ATOM_FEED.read_bytes(), str(ATOM_FEED))

    assert swans.title == "Volunteers count record number of wintering swans"
    assert swans.url == "https://sciencenotes.example/notes/swan-count"
    assert swans.published == date(2024, 2, 18)  # <published>, not the later <updated>
    assert swans.source == "Northfield Science Notes"
    assert swans.text == (
        "Volunteers on the estuary counted 412 whooper swans this weekend, the highest tally "
        "since the survey began.\n\n"
        "Ornithologists credit the mild autumn and the flooded meadows upstream."
    )
    assert "teaser" not in swans.text

    assert observatory.title == "Observatory opens its telescope to schools"
    assert observatory.url == "https://sciencenotes.example/notes/observatory-schools"
    assert observatory.published == date(2024, 2, 20)  # only <updated> is given
    assert observatory.text == (
        "Pupils from twelve schools will take turns using the hilltop telescope on clear "
        "Tuesday nights."
    )


def test_garbage_feed_is_rejected() -> None:
    with pytest.raises(ArticleError, match=r"garbage\.xml.*not a readable RSS or Atom feed"):
        read_feed(GARBAGE_FEED)


def test_xml_that_is_not_a_feed_is_rejected() -> None:
    with pytest.raises(ArticleError, match=r"settings\.xml.*no entries"):
        parse_feed('<?xml version="1.0"?><settings><mode>fast</mode></settings>', "settings.xml")


def test_feed_with_only_link_entries_is_rejected() -> None:
    feed = (
        '<rss version="2.0"><channel><title>Links</title>'
        "<item><title>One</title><link>https://links.example/1</link></item>"
        "<item><title>Two</title><link>https://links.example/2</link></item>"
        "</channel></rss>"
    )
    with pytest.raises(ArticleError, match=r"links\.rss.*none of the feed's 2 entries"):
        parse_feed(feed, "links.rss")


def test_future_dated_entry_is_rejected() -> None:
    feed = (
        '<rss version="2.0"><channel><title>Odd</title><item><title>Later</title>'
        "<description>Written ahead of time.</description>"
        "<pubDate>Fri, 01 Jan 2999 10:00:00 GMT</pubDate></item></channel></rss>"
    )
    with pytest.raises(ArticleError, match=r"odd\.rss\[1\].*future"):
        parse_feed(feed, "odd.rss")


def test_decoded_text_wins_over_stale_encoding_declaration() -> None:
    feed = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel>'
        "<title>Café Société</title><item><title>Crème brûlée day</title>"
        "<description>The café on the square served crème brûlée all day.</description>"
        "</item></channel></rss>"
    )
    [article] = parse_feed(feed, "cafe.rss")

    assert article.source == "Café Société"
    assert article.title == "Crème brûlée day"
    assert article.text == "The café on the square served crème brûlée all day."


def test_feed_content_that_is_a_url_is_not_fetched() -> None:
    with pytest.raises(ArticleError, match=r"link\.xml"):
        parse_feed("https://news.example/feed.xml", "link.xml")


def test_html_to_text_keeps_paragraphs_and_drops_markup() -> None:
    fragment = (
        "<h2>Results</h2>Intro line<p>First <em>para</em>\n graph.</p>"
        "<ul><li>one</li><li>two</li></ul>a<br>b<!-- note --><style>p {}</style>"
    )

    assert html_to_text(fragment) == (
        "Results\n\nIntro line\n\nFirst para graph.\n\none\n\ntwo\n\na\nb"
    )
    assert html_to_text("   ") == ""


# --------------------------------------------------------------------------------------------
# Through the loader's dispatch


def test_load_articles_dispatches_web_formats(tmp_path: Path) -> None:
    shutil.copy(RSS_FEED, tmp_path / "brief.xml")
    shutil.copy(NEWS_PAGE, tmp_path / "ferry.htm")

    articles = load_articles([NEWS_PAGE, RSS_FEED, ATOM_FEED, tmp_path])
    titles = [article.title for article in articles]

    assert titles == [
        "Harbour ferry service resumes after storm repairs",
        "Library extends opening hours over the winter",
        "Bridge inspection closes river path for two days",
        "Volunteers count record number of wintering swans",
        "Observatory opens its telescope to schools",
        # tmp_path, sorted: brief.xml then ferry.htm
        "Library extends opening hours over the winter",
        "Bridge inspection closes river path for two days",
        "Harbour ferry service resumes after storm repairs",
    ]


@pytest.mark.parametrize("path", [GARBAGE_FEED, FUTURE_PAGE, EMPTY_PAGE], ids=lambda p: p.name)
def test_load_articles_stops_on_bad_web_input(path: Path) -> None:
    with pytest.raises(ArticleError, match=path.name):
        load_articles([NEWS_PAGE, path])


def test_load_articles_rejects_non_utf8_page(tmp_path: Path) -> None:
    latin1 = tmp_path / "old.html"
    latin1.write_bytes(page("<title>Caf\xe9</title>", STORY_BODY).encode("latin-1"))

    with pytest.raises(ArticleError, match=r"old\.html.*not UTF-8"):
        load_articles([latin1])
