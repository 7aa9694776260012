"""What a question names, when its subject is missing from the evidence, and the direct answer
kept from a sentence the judge dropped: the rules the reader's refusal gate and salvage use."""

from __future__ import annotations

from datetime import date

import pytest

from assistant.composer import Candidate
from assistant.kinds import Kind
from assistant.reader import Evidence, salvage
from assistant.terms import analyse, subject_absent
from core.records import ScoredPassage

MULTI_HOP = (
    "Does 'The Verge' article suggest that Google's deals with companies like Apple are "
    "unnecessary, while 'The Age' and 'TechCrunch' articles imply Google's actions are "
    "driven by profit?"
)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (MULTI_HOP, ("Verge", "Google", "Apple", "Age", "TechCrunch")),
        # A quoted phrase that goes on in lower case starts with a capital, not a name.
        (
            "Between the report from 'Wired' on 2023-11-25 and others, is there a focus on "
            "'Universal travel adapters' during Black Friday sales?",
            ("Wired", "Black Friday"),
        ),
        # Months are dates (passages carry them as metadata), not names.
        ("Did Polygon report on Netflix in October before November?", ("Polygon", "Netflix")),
        ("Who is Kasra Aarabi?", ("Kasra Aarabi",)),
        ("What did Israel's foreign ministry say?", ("Israel",)),
    ],
)
def test_the_names_a_question_is_about(question: str, expected: tuple[str, ...]) -> None:
    assert analyse(question).names == expected


def test_a_missing_person_makes_the_subject_absent() -> None:
    terms = analyse("Who is Kasra Aarabi?")
    assert subject_absent(terms, "Israel condemned the meeting in Moscow.")
    assert not subject_absent(terms, "Kasra Aarabi told the Telegraph.")


def test_a_yes_or_no_question_missing_one_of_its_people_is_for_the_reader_to_answer() -> None:
    terms = analyse("Did Vladimir Putin meet Kasra Aarabi in Moscow?")
    text = "Vladimir Putin met Hamas leaders in Moscow."
    assert subject_absent(terms, text)
    assert not subject_absent(terms, text, yes_or_no=True)  # likely "No", not a refusal
    assert subject_absent(analyse("Did Kasra Aarabi go?"), text, yes_or_no=True)


def test_one_outlet_of_several_missing_is_a_retrieval_miss_not_an_absent_subject() -> None:
    terms = analyse(MULTI_HOP)
    text = "The Verge: Google pays Apple. The Age: Google chases profit."
    assert not subject_absent(terms, text)  # TechCrunch missing: 1 of 5
    assert subject_absent(terms, "Apple makes phones.")  # 4 of 5 missing


def _evidence(number: int, text: str, index: int = 0) -> Evidence:
    passage = ScoredPassage(
        id=f"p{index}",
        article_id=f"a{index}",
        title="t",
        published=date(2023, 10, 31),
        source="TechCrunch",
        sources=(),
        url="",
        text=text,
        start=0,
        end=len(text),
    )
    candidate = Candidate(index, 0, 0, len(text), text, 0.5, 0.5)
    return Evidence(number, candidate, passage)


def test_the_answer_inside_a_dropped_restatement_is_kept_when_the_evidence_names_it() -> None:
    question = "Which company, reported by TechCrunch, paid to be the default search engine?"
    evidence = [
        _evidence(1, "Epic will argue its case in court.", 0),
        _evidence(2, "Google spent $26.3 billion making itself the default search engine.", 1),
    ]
    dropped = ["Google, reported by TechCrunch and its CEO, paid to be the default search engine."]
    found = salvage(question, Kind.ENTITY, dropped, evidence)
    assert found is not None
    phrase, grounds = found
    assert phrase == "Google"
    assert [e.number for e in grounds] == [2]


def test_nothing_is_kept_from_a_dropped_sentence_whose_answer_no_evidence_holds() -> None:
    question = "Which company, reported by TechCrunch, paid to be the default search engine?"
    evidence = [_evidence(1, "Google spent $26.3 billion on default deals.", 0)]
    dropped = ["Epic Games, reported by TechCrunch, paid to be the default search engine."]
    assert salvage(question, Kind.ENTITY, dropped, evidence) is None
