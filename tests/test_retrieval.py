"""Retrieval: fusion, the lexical index's life cycle, filters, outlets, dates, parts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import pytest

from assistant.answering import Assistant
from assistant.planner import (
    RECENT_DAYS,
    mentioned_sources,
    named_window,
    plan_query,
    split_parts,
)
from assistant.rerank import diversify
from assistant.retriever import rrf, within
from assistant.runtime import Runtime
from assistant.terms import analyse
from core.articles import make_article
from core.records import Filters, ScoredPassage
from core.settings import Settings
from index.catalog import COMMON_FLOOR, SqliteCatalog
from index.chunking import Chunk
from index.database import SqliteDatabase
from index.embedder import Embedder
from index.loaders import load_articles

from tests_support import write_jsonl

STORIES = [
    # Two outlets on the same story, and a closer-worded distractor from a third.
    (
        "v1",
        "The Verge",
        "2023-10-20",
        "Apple and Google search deal",
        "The Verge reports that Apple defended its search deal with Google in court, saying "
        "there was no valid alternative to Google as the default engine.",
    ),
    (
        "t1",
        "TechCrunch",
        "2023-10-22",
        "Publishers sue Google",
        "TechCrunch reports that a news publisher filed a class action suit claiming Google "
        "siphons off publishers' content and ad revenue through anticompetitive means.",
    ),
    (
        "x1",
        "Wire Daily",
        "2023-10-21",
        "Google search deal in court",
        "Did Apple and Google agree about the search deal? Apple and Google defended the "
        "search deal in court, agreeing it was lawful, Wire Daily said.",
    ),
    (
        "x2",
        "Wire Daily",
        "2023-10-01",
        "Harbour crane XR-7781 repaired",
        "Engineers repaired the harbour crane known as XR-7781 after a storm in Elling.",
    ),
    (
        "x3",
        "Coast News",
        "2023-10-28",
        "Crane upgrade in Elling",
        "The port of Elling installed a new crane on its eastern quay this week.",
    ),
    (
        "x4",
        "Coast News",
        "2023-09-15",
        "Crane upgrade plans in Elling",
        "The port of Elling announced plans for a new crane on its eastern quay.",
    ),
]


@pytest.fixture(params=["sqlite", "postgres"])
def catalog_engine(request: pytest.FixtureRequest) -> str:
    """The lexical half is the catalog's: FTS5 BM25 in SQLite, ts_rank_cd in PostgreSQL."""
    return str(request.param)


@pytest.fixture
def corpus(tmp_path: Path, settings: Settings, embedder: Embedder) -> Assistant:
    records = [
        {
            "id": i,
            "source": s,
            "published": d,
            "title": t,
            "text": x,
            "url": f"https://news.example/{i}",
        }
        for i, s, d, t, x in STORIES
    ]
    runtime = Runtime(settings, embedder)
    runtime.writer.ingest(load_articles([write_jsonl(tmp_path / "c.jsonl", records)]))
    return runtime.assistant


def test_rrf_rewards_agreement_between_rankings() -> None:
    fused = rrf([["a", "b", "c"], ["c", "a"]])
    assert max(fused, key=lambda k: fused[k]) == "a"
    assert fused["c"] > fused["b"]


def test_hybrid_finds_an_exact_code_that_dense_search_blurs(corpus: Assistant) -> None:
    hits = corpus.search("XR-7781", 1)
    assert hits[0].article_id == "x2"
    assert hits[0].lexical is not None


def test_source_and_date_filters(corpus: Assistant) -> None:
    by_source = corpus.search("crane in Elling", 5, Filters(source="Coast News"))
    assert {h.article_id for h in by_source} == {"x3", "x4"}
    after = corpus.search("crane in Elling", 5, Filters(published_after=date(2023, 10, 2)))
    assert after and all(h.published and h.published >= date(2023, 10, 2) for h in after)
    assert "x2" not in {h.article_id for h in after}
    before = corpus.search("crane in Elling", 5, Filters(published_before=date(2023, 10, 1)))
    assert {h.article_id for h in before} == {"x2", "x4"}
    window = Filters(published_after=date(2023, 9, 20), published_before=date(2023, 10, 27))
    inside = {h.article_id for h in corpus.search("crane", 6, window)}
    assert "x2" in inside and not inside & {"x3", "x4"}


def test_as_of_leaves_out_later_articles_and_moves_latest(corpus: Assistant) -> None:
    question = "What is the latest on the new crane in Elling?"
    then = corpus.search(question, 3, Filters(as_of=date(2023, 10, 20)))
    assert then[0].article_id == "x4"  # the newest crane story as of then
    assert all(h.published and h.published <= date(2023, 10, 20) for h in then)
    # The earlier of as_of and published_before bounds the search, whichever it is.
    later_before = Filters(published_before=date(2023, 10, 30), as_of=date(2023, 9, 30))
    assert {h.article_id for h in corpus.search(question, 5, later_before)} == {"x4"}
    earlier_before = Filters(published_before=date(2023, 10, 1), as_of=date(2023, 10, 30))
    assert {h.article_id for h in corpus.search(question, 5, earlier_before)} == {"x2", "x4"}


def test_as_of_filters_validate_and_travel() -> None:
    with pytest.raises(ValueError, match="as_of must not be earlier than published_after"):
        Filters(published_after=date(2023, 10, 2), as_of=date(2023, 10, 1))
    same_day = Filters(published_after=date(2023, 10, 1), as_of=date(2023, 10, 1))
    assert same_day.until == date(2023, 10, 1)
    only = Filters(as_of=date(2023, 10, 1))
    assert not only.is_empty() and only.as_dict() == {"as_of": "2023-10-01"}


def test_a_question_naming_two_outlets_gets_passages_from_both(corpus: Assistant) -> None:
    hits = corpus.search("Did The Verge and TechCrunch agree about Google's search deal?", 2)
    assert {h.source for h in hits} == {"The Verge", "TechCrunch"}


def test_latest_prefers_the_newer_story(corpus: Assistant) -> None:
    hits = corpus.search("What is the latest on the new crane in Elling?", 1)
    assert hits[0].article_id == "x3"


def test_lexical_index_survives_restart_update_and_delete(
    tmp_path: Path, settings: Settings, embedder: Embedder
) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"id": "k1", "title": "Kestrel", "text": "The kestrel sanctuary in Morvane reopened."},
        ],
    )
    runtime = Runtime(settings, embedder)
    runtime.writer.ingest(load_articles([path]))
    runtime.close()
    runtime = Runtime(settings, embedder)  # a new process would see the same
    handle = runtime.store
    assert next(c for c, _ in handle.catalog.lexical_search("Morvane", 5)).startswith("k1:")
    write_jsonl(
        path,
        [
            {
                "id": "k1",
                "title": "Kestrel",
                "text": "The kestrel sanctuary in Delphin closed for the winter.",
            }
        ],
    )
    runtime.writer.ingest(load_articles([path]))
    assert handle.catalog.lexical_search("Morvane", 5) == []
    assert handle.catalog.lexical_search("Delphin", 5)
    runtime.writer.delete(["k1"])
    assert handle.catalog.lexical_search("Delphin kestrel", 5) == []
    runtime.close()


def test_planner_reads_outlets_dates_and_parts() -> None:
    assert mentioned_sources(
        "Did 'The Verge' and TechCrunch agree?", ["TechCrunch", "The Verge", "The Age"]
    ) == ["TechCrunch", "The Verge"]
    assert named_window("What happened on October 27, 2023?") == (
        date(2023, 10, 27),
        date(2023, 10, 27),
    )
    assert named_window("news in September 2023") == (date(2023, 9, 1), date(2023, 9, 30))
    assert named_window("what happened to the crane?") is None
    assert split_parts("Who attended the meeting and what did Israel say about it?") == [
        "Who attended the meeting?",
        "what did Israel say about it?",
    ]
    assert split_parts("Who are Bassem Naeem and Mousa Abu Marzouk?") == [
        "Who are Bassem Naeem and Mousa Abu Marzouk?"
    ]
    plan = plan_query("What happened this week in Elling?", Filters(), [], date(2023, 10, 28))
    assert plan.window == (date(2023, 10, 22), date(2023, 10, 28))
    # As of a day, "this week" counts back from it; an as_of after the newest story, or an
    # empty index, leaves the one day there is.
    for as_of, newest, end in [
        (date(2023, 10, 10), date(2023, 10, 28), date(2023, 10, 10)),
        (date(2023, 11, 30), date(2023, 10, 28), date(2023, 10, 28)),
        (date(2023, 10, 10), None, date(2023, 10, 10)),
    ]:
        week = plan_query("What happened this week?", Filters(as_of=as_of), [], newest)
        assert week.window == (end - timedelta(days=6), end)


def test_planner_reads_the_period_news_is_asked_about() -> None:
    """Relative periods are windows the reranker prefers; "recently", "now" and "a new
    study" only widen the search to the last month (they are often an article's words)."""
    day = date(2023, 11, 17)  # a Friday

    def plan(question: str) -> tuple[object, object]:
        p = plan_query(question, Filters(as_of=day), [], date(2023, 12, 31))
        return p.window, p.recent

    def reads(question: str, outlets: Sequence[str] = ()) -> object:
        """Where the readers look first: the plan's period, read as of the same day."""
        return plan_query(question, Filters(), list(outlets), day).period

    week = (date(2023, 11, 11), day)
    assert plan("Which country declared an emergency this week?") == (week, week)
    assert plan("Phone networks were down for millions Wednesday in which country?") == (
        week,
        week,
    )
    assert plan("Who won this year's Nobel Peace Prize?")[0] == (date(2023, 1, 1), day)
    assert plan("Which city reported more bedbugs this fall?")[0] == (
        day - timedelta(days=91),
        day,
    )
    month = (day - timedelta(days=RECENT_DAYS - 1), day)
    for question in (
        "Which animal recently escaped from a circus near Rome?",
        "How many free tests can households now order?",
        "A new study names which country as the worst for housing?",
        # What comes next is asked about from the present: the latest reports announce it.
        "Where will next month’s Republican presidential debate take place?",
        "Which upcoming film did the president screen for troops?",
    ):
        assert plan(question) == (None, month), question
        assert reads(question) == month, question  # where the readers look
    assert reads("Which country declared an emergency this week?") == week
    # Naming an outlet, "recently" dates its report, not the fact: no period of the present.
    noted = "Which company, recently noted by TechCrunch, partners with Google?"
    assert reads(noted, ["TechCrunch"]) is None
    assert reads(f"{noted} this week", ["TechCrunch"]) == week
    # The plan carries what the readers need, the outlet rule kept under a source filter.
    by_outlet = Filters(source="TechCrunch", as_of=day)
    planned = plan_query(noted, by_outlet, ["TechCrunch"], date(2023, 12, 31))
    assert (planned.sources, planned.period, planned.asked_on) == ([], None, day)
    asked = plan_query(
        "Which country declared an emergency this week?", Filters(as_of=day), [], None
    )
    assert (asked.period, asked.asked_on) == (week, day)
    timeless = plan_query("Who attended the Moscow meeting?", Filters(), [], day)
    assert (timeless.period, timeless.asked_on) == (None, None)
    assert plan("Who attended the Moscow meeting?") == (None, None)
    assert plan("Who won the next-door neighbour's prize?") == (None, None)
    assert reads("Who attended the Moscow meeting?") is None
    assert plan("Which cryptocurrency saw a 20% jump over the past week?") == (week, week)
    # A shopping day and an outlet named "... Today" are no period of the present.
    for question in (
        "Did The Verge and Wired agree on the best Black Friday deals?",
        "What did Business Today and USA TODAY report about the merger?",
    ):
        assert plan(question) == (None, None), question
    assert plan("What did the senator say today?")[0] == (day, day)
    # The window never reaches outside the question's own filters.
    assert within(Filters(as_of=day), month) == Filters(
        published_after=month[0], published_before=day, as_of=day
    )
    assert within(Filters(published_before=date(2023, 1, 1)), month) is None
    assert within(Filters(), None) is None


def test_a_question_about_this_week_finds_the_week_s_report_among_older_ones(
    tmp_path: Path, settings: Settings, embedder: Embedder
) -> None:
    """An archive of years holds many older stories in the same words; the week's report
    ranks below them in both searches and must still be found (RealTimeQA's weekly quiz
    questions, asked over the pages of several years)."""
    older: list[dict[str, object]] = [
        {
            "id": f"old{n}",
            "source": "Archive",
            "published": f"{2015 + n}-03-0{n + 1}",
            "title": f"State of emergency declared over volcano eruption threat ({n})",
            "text": f"A state of emergency was declared over the threat of a volcano "
            f"eruption in region {n}, officials said, as a volcanic eruption threat grew.",
        }
        for n in range(6)
    ]
    recent: dict[str, object] = {
        "id": "iceland",
        "source": "Wire",
        "published": "2023-11-12",
        "title": "Iceland braces for lava",
        "text": "Iceland declared an emergency as magma spread under Grindavik, which was "
        "evacuated before a possible eruption.",
    }
    runtime = Runtime(settings.model_copy(update={"candidates": 3}), embedder)
    runtime.writer.ingest(load_articles([write_jsonl(tmp_path / "c.jsonl", [*older, recent])]))
    question = "Which country declared a state of emergency this week over a volcano eruption?"
    as_of = Filters(as_of=date(2023, 11, 17))
    retriever = runtime.assistant.retriever
    pool = retriever.hybrid(question, as_of, embedder.encode([question])[0])
    assert "iceland" not in {p.article_id for p in pool}  # outranked in both searches
    hits = runtime.assistant.search(question, 3, as_of)
    assert "iceland" in [h.article_id for h in hits]
    runtime.close()


def test_the_answer_to_a_question_about_this_week_quotes_the_week_s_report(
    tmp_path: Path, settings: Settings, embedder: Embedder
) -> None:
    """Both reports are retrieved, but the older one says it in the question's own words
    ("pharmacy chain ... filed for bankruptcy") and its sentence would lead; the answer is
    the report published in the week the question asks about."""
    articles: list[dict[str, object]] = [
        {
            "id": "old",
            "source": "Archive",
            "published": "2018-05-01",
            "title": "Regional pharmacy chain files for bankruptcy",
            "text": "Citing financial and industry challenges, the Harbor Drug pharmacy chain "
            "filed for bankruptcy on Monday. Its stores stay open for now.",
        },
        {
            "id": "week",
            "source": "Wire",
            "published": "2023-10-16",
            "title": "Cardwell to close stores",
            "text": "Cardwell Pharmacies filed for bankruptcy on Sunday "
            "and plans to close an untold number of stores as it battles slumping sales. "
            "The company listed debts of $3 billion.",
        },
    ]
    runtime = Runtime(settings, embedder)
    runtime.writer.ingest(load_articles([write_jsonl(tmp_path / "c.jsonl", articles)]))
    question = "Which major pharmacy chain filed for bankruptcy this week?"
    as_of = Filters(as_of=date(2023, 10, 21))
    assert {p.article_id for p in runtime.assistant.search(question, 5, as_of)} == {"old", "week"}
    answer = runtime.assistant.ask(question, filters=as_of)
    assert answer.answer.startswith("Cardwell Pharmacies filed for bankruptcy on Sunday"), answer
    # The older story's sentences are no evidence for "this week" at all: the model reader
    # reads these candidates, and a 2018 filing is a wrong answer however well it matches.
    week = (date(2023, 10, 15), date(2023, 10, 21))
    passages = runtime.assistant.search(question, 5, as_of)
    vector = embedder.encode([question])[0]
    composer = runtime.assistant.composer
    everything = composer.candidates(analyse(question), passages, vector)
    assert {passages[c.passage_index].article_id for c in everything} == {"old", "week"}
    evidence = composer.of_the_period(everything, passages, week)
    assert {passages[c.passage_index].article_id for c in evidence} == {"week"}
    # Asked as of 2018, the older report is the one in the week.
    then = runtime.assistant.ask(question, filters=Filters(as_of=date(2018, 5, 3)))
    assert then.answer.startswith("Citing financial and industry challenges"), then
    runtime.close()


def test_asked_what_holds_now_the_answer_quotes_the_last_month_s_report(
    tmp_path: Path, settings: Settings, embedder: Embedder
) -> None:
    """ "Now" names no period, but what holds now is what the last month reported: a year-old
    story in the question's very words ("can now order ... free tests") is what held then."""
    articles: list[dict[str, object]] = [
        {
            "id": "old",
            "source": "Archive",
            "published": "2022-05-17",
            "title": "More free tests",
            "text": "US households can now order an additional eight free Covid-19 tests "
            "from the government website. Orders ship within days.",
        },
        {
            "id": "month",
            "source": "Wire",
            "published": "2023-09-25",
            "title": "Test kits return",
            "text": "People in Wisconsin and nationally can order four tests per household "
            "to be delivered by mail. The program had been paused since the spring.",
        },
    ]
    runtime = Runtime(settings, embedder)
    runtime.writer.ingest(load_articles([write_jsonl(tmp_path / "c.jsonl", articles)]))
    question = "How many free Covid-19 tests can US households now order from the government?"
    as_of = Filters(as_of=date(2023, 9, 30))
    assert {p.article_id for p in runtime.assistant.search(question, 5, as_of)} == {
        "old",
        "month",
    }
    answer = runtime.assistant.ask(question, filters=as_of)
    assert answer.answer.startswith("People in Wisconsin and nationally can order four"), answer
    # Asked in 2022, the year-old story was the news.
    then = runtime.assistant.ask(question, filters=Filters(as_of=date(2022, 5, 20)))
    assert then.answer.startswith("US households can now order an additional eight"), then
    runtime.close()


def test_the_answer_reads_the_opening_of_an_article_the_search_found_later_in(
    tmp_path: Path, settings: Settings, embedder: Embedder
) -> None:
    """The passage that matches "who won?" best refers back to the winner ("a tribute to her
    courage"); the name is in the article's first paragraph, which the search did not find."""
    opening = (
        "Imprisoned Iranian human rights activist Narges Mohammadi won the 2023 Nobel Peace "
        "Prize, the Norwegian committee announced Friday in Oslo."
    )
    middle = " ".join(
        f"Paragraph {n} of the report describes the years of campaigning, the arrests and the "
        "trials, the letters smuggled out of prison and the protests that followed in cities "
        "across the country, as told by family members and lawyers."
        for n in range(1, 9)
    )
    later = (
        "This year's Nobel Peace Prize is a tribute to her courage, the chair of the Nobel "
        "committee said of the winner of the Nobel Peace Prize."
    )
    articles: list[dict[str, object]] = [
        {
            "id": "prize",
            "source": "Wire",
            "published": "2023-10-06",
            "title": "Peace prize announced",
            "text": f"{opening}\n\n{middle}\n\n{later}",
        }
    ]
    runtime = Runtime(settings, embedder)
    runtime.writer.ingest(load_articles([write_jsonl(tmp_path / "c.jsonl", articles)]))
    question = "Who won this year's Nobel Peace Prize?"
    best = runtime.assistant.search(question, 1)
    assert best and "tribute to her courage" in best[0].text, best
    assert "Narges Mohammadi" not in best[0].text
    first = runtime.store.catalog.opening("prize")
    assert first is not None and first.text.startswith("Imprisoned Iranian"), first
    assert [p.id for p in runtime.assistant.retriever.cover(question, best)] == [
        best[0].id,
        first.id,
    ]
    answer = runtime.assistant.ask(question, top_k=1)
    assert "Narges Mohammadi" in answer.answer, answer
    assert runtime.store.catalog.opening("no such article") is None
    runtime.close()


def test_diversity_caps_passages_per_article() -> None:
    def p(article: str, n: int) -> ScoredPassage:
        return ScoredPassage(f"{article}:{n}", article, "", None, "", (), "", "", 0, 0, score=1.0)

    ranked = [p("a", 0), p("a", 1), p("a", 2), p("b", 0), p("c", 0)]
    assert [x.chunk_id for x in diversify(ranked, 4, 2)] == ["a:0", "a:1", "b:0", "c:0"]
    assert len(diversify(ranked[:3], 3, 1)) == 3  # relaxes when nothing else is left


def test_two_part_question_gets_evidence_for_both(demo_runtime: Runtime) -> None:
    assistant = demo_runtime.assistant
    hits = assistant.search("Who attended the Moscow meeting and what happened to Acapulco?", 5)
    texts = " ".join(h.text for h in hits)
    assert "Bogdanov" in texts and "Acapulco" in texts


def test_lexical_search_leaves_out_words_most_passages_have(tmp_path: Path) -> None:
    """At archive size BM25 scores every passage an OR-ed word matches, so a word in most of
    them ("council") would cost a scan of the corpus: it is dropped when the query has a rarer
    word, and kept when it is all the query has (or the index is small)."""
    catalog = SqliteCatalog(SqliteDatabase(tmp_path / "catalog.sqlite3"))
    articles = [
        make_article(
            id=f"a{n}",
            title=f"Council notes {n}",
            text=f"The council met again on item {n}."
            + (" The heron survey was approved." if n < 3 else ""),
            published="2023-10-01",
        )
        for n in range(COMMON_FLOOR + 100)
    ]
    catalog.mark_pending(articles)
    catalog.mark_ready((a, [Chunk(f"{a.id}:0", a.id, 0, a.text, 0, len(a.text))]) for a in articles)
    found = [cid for cid, _ in catalog.lexical_search("council heron", 20)]
    assert sorted(found) == ["a0:0", "a1:0", "a2:0"]
    assert len(catalog.lexical_search("council", 20)) == 20
    # The planner and the name cover read the outlets on every question: from an index.
    plan = catalog.db.rows(
        "EXPLAIN QUERY PLAN SELECT DISTINCT source FROM articles WHERE state = 'ready'"
    )
    assert "articles_source_state" in " ".join(str(tuple(row)) for row in plan)
    catalog.close()
