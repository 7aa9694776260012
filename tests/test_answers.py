"""Answers on the demo corpus: named people with citations that contain them, refusals."""

from __future__ import annotations

import re
from datetime import date

import pytest

from assistant.answering import Assistant
from assistant.composer import REFUSAL, recounts_the_past
from assistant.runtime import Runtime
from assistant.terms import analyse
from core.records import Answer, Filters, ScoredPassage

ATTENDEES = ["Bassem Naeem", "Mousa Abu Marzouk", "Ali Bagheri Kani", "Mikhail Bogdanov"]
MARKER = re.compile(r"\[(\d+)\]")


@pytest.fixture(scope="module")
def assistant(demo_runtime: Runtime) -> Assistant:
    return demo_runtime.assistant


def sentences_with_markers(answer: Answer) -> list[tuple[str, list[int]]]:
    parts = re.split(r"(?<=[.!?])\s+", answer.answer)
    return [(p, [int(n) for n in MARKER.findall(p)]) for p in parts if p.strip()]


def assert_cited(answer: Answer, name: str) -> None:
    """The name stands in a sentence whose citation points at a passage containing it."""
    by_id = {c.id: c for c in answer.citations}
    for sentence, markers in sentences_with_markers(answer):
        if name in sentence:
            assert markers, f"sentence naming {name} has no citation: {sentence}"
            assert any(name in by_id[m].passage for m in markers), sentence
            return
    raise AssertionError(f"{name} is not in the answer: {answer.answer}")


def test_moscow_meeting_attendees_are_named_and_cited(assistant: Assistant) -> None:
    answer = assistant.ask("Who attended the Moscow meeting?")
    assert not answer.refused
    for name in ATTENDEES:
        assert_cited(answer, name)


def test_every_sentence_carries_markers_that_resolve(assistant: Assistant) -> None:
    answer = assistant.ask("What happened to Acapulco when Hurricane Otis hit?")
    assert not answer.refused
    ids = [c.id for c in answer.citations]
    assert ids == list(range(1, len(ids) + 1))  # numbered in order, no gaps
    used = set()
    for sentence, markers in sentences_with_markers(answer):
        assert markers, sentence
        used.update(markers)
        for m in markers:
            assert m in ids
    assert used == set(ids)  # nothing cited that the answer does not use
    for c in answer.citations:
        assert c.end - c.start == len(c.passage)


def test_israeli_foreign_ministry_statement_is_found(assistant: Assistant) -> None:
    answer = assistant.ask("What did Israel's foreign ministry call the meeting?")
    assert not answer.refused
    assert "obscene" in answer.answer
    cited = [c for c in answer.citations if "obscene" in c.passage]
    assert cited and all("Israel" in c.passage for c in cited)


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Australia?",
        "Who won the 2022 football World Cup?",
        "What is the recipe for banana bread?",
    ],
)
def test_questions_the_corpus_cannot_answer_are_refused(
    assistant: Assistant, question: str
) -> None:
    answer = assistant.ask(question)
    assert answer.refused, answer.answer
    assert answer.answer == REFUSAL and answer.citations == []


def test_filters_limit_the_evidence(assistant: Assistant) -> None:
    from datetime import date

    late = Filters(published_after=date(2023, 10, 30))
    answer = assistant.ask("Who attended the Moscow meeting?", filters=late)
    assert all(c.published and c.published >= "2023-10-30" for c in answer.citations)
    assert "Bogdanov" not in answer.answer


@pytest.mark.parametrize(
    ("sentence", "marked"),
    [
        ("He left.", "He left [1]."),
        ("Is it over?", "Is it over [1]?"),
        ('It was "obscene."', 'It was "obscene" [1].'),
        ("The game was in Glendale, Arizona ...", "The game was in Glendale, Arizona [1]."),
        ("No full stop", "No full stop [1]."),
    ],
)
def test_markers_sit_inside_the_sentence_they_support(sentence: str, marked: str) -> None:
    """A marker after a closing quote or an ellipsis reads as the start of the next sentence,
    and the claim it supports loses its citation."""
    from assistant.composer import attach_markers

    assert attach_markers(sentence, "[1]") == marked


def test_a_question_heading_hands_its_place_to_the_sentence_that_answers_it(
    assistant: Assistant,
) -> None:
    """An explainer's heading repeats the user's question word for word, so it outranks every
    sentence; it states nothing, and the sentence after it is the answer."""
    text = (
        "Clocks change twice a year in most of the US. When does daylight saving time end in "
        "2023? The change comes on Sunday, Nov. 5, at 2 a.m. local time. Hawaii and most of "
        "Arizona do not observe it."
    )
    passage = ScoredPassage(
        "e:0", "e", "Clock change explainer", None, "", (), "", text, 0, len(text)
    )
    question = "When does daylight saving time end in 2023?"
    vector = assistant.store.embedder.encode([question])[0]
    ranked = assistant.composer.candidates(analyse(question), [passage], vector)
    assert not any(c.text.endswith("?") for c in ranked)
    assert ranked[0].text.startswith("The change comes on Sunday, Nov. 5")
    answer = assistant.composer.compose(question, [passage], vector)
    assert not answer.refused
    assert answer.answer.startswith("The change comes on Sunday, Nov. 5, at 2 a.m.")


def test_a_sentence_that_only_restates_the_question_s_scene_is_no_answer(
    assistant: Assistant,
) -> None:
    """A question that sets the scene ("Turkey is the centerpiece of Thanksgiving dinner.")
    matches the article's sentence saying just that better than any other; it holds no name
    the question asks for, so it is neither quoted nor handed to the model as evidence. A
    yes/no question is still answered by a sentence in its own words."""
    text = (
        "Turkey is typically the centerpiece of Thanksgiving dinner. Minnesota raises the most "
        "turkeys of any US state, about 40 million birds a year, the growers' association said."
    )
    passage = ScoredPassage("t:0", "t", "Turkey farms", None, "", (), "", text, 0, len(text))
    question = (
        "Turkey is typically the centerpiece of Thanksgiving dinner. "
        "Which US state raises the most turkeys?"
    )
    vector = assistant.store.embedder.encode([question])[0]
    ranked = assistant.composer.candidates(analyse(question), [passage], vector)
    assert [c.text[:9] for c in ranked] == ["Minnesota"]
    answer = assistant.composer.compose(question, [passage], vector)
    assert answer.answer.startswith("Minnesota raises the most turkeys"), answer
    assert "centerpiece" not in answer.answer
    polar = "Is turkey typically the centerpiece of Thanksgiving dinner?"
    vector = assistant.store.embedder.encode([polar])[0]
    ranked = assistant.composer.candidates(analyse(polar), [passage], vector)
    assert ranked[0].text.startswith("Turkey is typically the centerpiece"), ranked


def test_asked_about_the_present_a_sentence_recounting_earlier_years_is_background(
    assistant: Assistant,
) -> None:
    """The week's landing story recalls the record it broke, in the question's own words
    ("returned to Earth ... days in space"); asked about this week, the sentence that dates
    itself to 2022 is the story's background and the week's news answers. Asked about the
    record itself, the 2022 sentence is no background and still leads."""
    text = (
        "NASA astronaut Mark Vande Hei returned to Earth in March 2022 after 355 days in space, "
        "the American record at the time. Frank Rubio and two Russian cosmonauts returned to "
        "Earth on Wednesday morning after 371 days aboard the space station."
    )
    passage = ScoredPassage(
        "r:0", "r", "Rubio lands", date(2023, 9, 27), "", (), "", text, 0, len(text)
    )
    question = "Three astronauts returned to Earth this week after how many days in space?"
    vector = assistant.store.embedder.encode([question])[0]
    ranked = assistant.composer.candidates(analyse(question), [passage], vector)
    assert ranked[0].text.startswith("Frank Rubio"), ranked
    answer = assistant.composer.compose(question, [passage], vector)
    assert answer.answer.startswith("Frank Rubio"), answer
    record = "Which American astronaut returned to Earth after 355 days in space?"
    vector = assistant.store.embedder.encode([record])[0]
    ranked = assistant.composer.candidates(analyse(record), [passage], vector)
    assert ranked[0].text.startswith("NASA astronaut Mark Vande Hei"), ranked
    # A year the question asks about is no background ("... the 2022 record this week?").
    assert recounts_the_past(ranked[0].text, passage.published)
    assert not recounts_the_past(ranked[0].text, passage.published, frozenset({2022}))
