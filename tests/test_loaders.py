"""Reading articles: the seed format, JSON Lines, folders, and the input we refuse."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from core.articles import ArticleError, canonical_url, derive_id
from index.loaders import load_articles

from conftest import DEMO, SEED, shared_file
from tests_support import write_jsonl


def test_seed_format_gives_date_title_and_body(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("date 2023-10-28 A headline here\nFirst line of body.\nSecond line.\n")
    [article] = load_articles([path])
    assert article.published == date(2023, 10, 28)
    assert article.title == "A headline here"
    assert article.text == "First line of body.\nSecond line."


def test_the_real_seed_article_loads() -> None:
    shared_file("seeds", SEED.name)
    [article] = load_articles([SEED])
    assert article.published == date(2023, 10, 28)
    assert "Axis of Terror" in article.title
    assert "Mikhail Bogdanov" in article.text


def test_demo_corpus_is_large_enough_and_dated_late_october() -> None:
    articles = load_articles([DEMO])
    assert len(articles) >= 12
    assert all(
        a.published and date(2023, 10, 20) <= a.published <= date(2023, 10, 31) for a in articles
    )
    assert len({a.id for a in articles}) == len(articles)


def test_jsonl_fields_and_derived_ids(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [
            {
                "id": "given-1",
                "title": "T1",
                "published": "2023-10-01",
                "source": "S",
                "url": "https://example.com/a",
                "text": "Body one.",
            },
            {
                "title": "T2",
                "published": "2023-10-02T10:00:00+00:00",
                "source": "S",
                "url": "https://www.example.com/b/?utm_source=x",
                "text": "Body two.",
            },
            {"title": "T3", "text": "Body three."},
        ],
    )
    one, two, three = load_articles([path])
    assert one.id == "given-1" and one.source == "S" and one.url == "https://example.com/a"
    assert two.published == date(2023, 10, 2)
    assert two.id == derive_id("https://example.com/b", "", "")  # tracking params ignored
    assert three.id == derive_id("", "T3", "Body three.")
    assert three.published is None


def test_canonical_url_drops_tracking_and_fragments() -> None:
    assert canonical_url("https://www.cnn.com/x/?utm_medium=rss&id=3#top") == (
        "https://cnn.com/x?id=3"
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"title": "x"}\n', "text"),
        ('{"text": ""}\n', "no text"),
        ('{"text": "x", "published": "yesterday-ish"}\n', "not a date"),
        ('{"text": "x", "published": "2999-01-01"}\n', "future"),
        ('{"text": "x"\n', "malformed JSON"),
        ("[1, 2]\n", "expected a JSON object"),
    ],
)
def test_bad_records_name_the_line_and_the_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a fine article"}\n' + content)
    with pytest.raises(ArticleError) as caught:
        load_articles([path])
    assert problem in str(caught.value)
    assert f"{path}:2" in str(caught.value)


def test_binary_and_unknown_files_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(ArticleError, match="binary"):
        load_articles([binary])
    other = tmp_path / "sheet.xlsx"
    other.write_bytes(b"PK")
    with pytest.raises(ArticleError, match="unsupported file type"):
        load_articles([other])
    with pytest.raises(ArticleError, match="no such file"):
        load_articles([tmp_path / "missing"])


def test_folders_are_walked_and_hidden_files_skipped(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("date 2023-10-01 A\nBody a.\n")
    (tmp_path / ".hidden.txt").write_text("date 2023-10-01 H\nHidden.\n")
    (tmp_path / "notes.bin").write_bytes(b"\x00")
    articles = load_articles([tmp_path])
    assert [a.title for a in articles] == ["A"]
    assert json.dumps([a.title for a in articles])
