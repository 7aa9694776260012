"""The rule-based follow-up rewriter, on histories shaped like the demo corpus's answers."""

from __future__ import annotations

import pytest

from assistant.composer import REFUSAL
from assistant.conversations import Turn
from assistant.followup import QuestionRewriter, RuleRewriter
from assistant.mentions import noun_phrases, person
from core.records import Citation

MOSCOW_ANSWER = (
    "Senior Hamas figures Bassem Naeem and Mousa Abu Marzouk attended the meeting in Moscow "
    "as the movement's representatives [1]. Iranian Deputy Foreign Minister Ali Bagheri Kani "
    "also took part in the Moscow meeting, and Russian Deputy Foreign Minister Mikhail Bogdanov "
    "attended on behalf of the Kremlin, hosting the visitors at the foreign ministry [1]."
)
MOSCOW_TITLE = "Hamas and Iranian Envoys Hold Talks With Russian Diplomats in Moscow"


def cite(title: str) -> Citation:
    return Citation(1, "a1", title, "2023-10-27", "Wire", "", "passage", 0, 7)


def exchange(
    question: str, answer: str, title: str = "", standalone: str | None = None
) -> list[Turn]:
    return [
        Turn("user", question, question=standalone or question),
        Turn("assistant", answer, citations=[cite(title)] if title else []),
    ]


MOSCOW = exchange("Who attended the Moscow meeting?", MOSCOW_ANSWER, MOSCOW_TITLE)
ISRAEL = exchange(
    "What did Israel say about it?",
    "Israel's foreign ministry said the invitation was an obscene step [1].",
    "Israel Denounces Moscow Over Hamas Delegation",
    standalone="What did Israel say about the Moscow meeting?",
)
SPEAKER = exchange(
    "Who was elected speaker of the House?",
    "Mike Johnson, a Louisiana Republican, was elected Speaker of the House on Wednesday [1].",
    "Mike Johnson Elected Speaker",
)
LEWISTON = exchange(
    "How many people died in Lewiston?",
    "Eighteen people were killed in the shootings [1].",
    "Lewiston, Maine Mass Shooting",
)


@pytest.fixture
def rewriter() -> QuestionRewriter:
    return RuleRewriter()


@pytest.mark.parametrize(
    ("history", "message", "expected"),
    [
        (MOSCOW, "What did Israel say about it?", "What did Israel say about the Moscow meeting?"),
        (MOSCOW, "It was held where?", "The Moscow meeting was held where?"),
        (MOSCOW, "What was its outcome?", "What was the Moscow meeting's outcome?"),
        (MOSCOW, "When was the meeting held?", "When was the Moscow meeting held?"),
        (
            MOSCOW,
            "Why did Israel condemn that meeting?",
            "Why did Israel condemn the Moscow meeting?",
        ),
        (MOSCOW, "What came out of those talks?", "What came out of the Moscow talks?"),
        (
            MOSCOW,
            "What did Russia say after that?",
            "What did Russia say after the Moscow meeting?",
        ),
        (MOSCOW, "Who else was there?", "Who else was at the Moscow meeting?"),
        (
            MOSCOW,
            "What did they discuss?",
            "What did Bassem Naeem, Mousa Abu Marzouk, Ali Bagheri Kani and Mikhail Bogdanov "
            "discuss?",
        ),
        (MOSCOW, "What did he say?", "What did Bassem Naeem say?"),
        (MOSCOW, "What about the Cairo summit?", "Who attended the Cairo summit?"),
        (ISRAEL, "And Iran?", "What did Iran say about the Moscow meeting?"),
        (ISRAEL, "And what did they demand?", "And what did Israel demand?"),
        (ISRAEL, "What did they ask Russia to do?", "What did Israel ask Russia to do?"),
        (ISRAEL, "Who hosted the meeting?", "Who hosted the Moscow meeting?"),
        (SPEAKER, "When was he elected?", "When was Mike Johnson elected?"),
        (SPEAKER, "What is his background?", "What is Mike Johnson's background?"),
        (
            SPEAKER,
            "What did Democrats say about her?",
            "What did Democrats say about Mike Johnson?",
        ),
        (SPEAKER, "What is her position?", "What is Mike Johnson's position?"),
        (LEWISTON, "What happened there?", "What happened in Lewiston?"),
        (LEWISTON, "Who was behind it?", "Who was behind Lewiston, Maine Mass Shooting?"),
    ],
)
def test_references_resolve_to_earlier_turns(
    rewriter: QuestionRewriter, history: list[Turn], message: str, expected: str
) -> None:
    assert rewriter.rewrite(message, history) == expected


@pytest.mark.parametrize(
    "message",
    [
        "Who won the Mexican Grand Prix?",
        "Is there a ceasefire in Gaza?",
        "Were there any casualties in Avdiivka?",
        "Is it true that the ECB held rates?",
        "Did the ECB say it would raise rates again?",
        "Did Israel say that Hamas is worse than the Islamic State?",
        "What happened at the meeting in Cairo?",
        "What did the Israeli foreign ministry say about the Moscow meeting?",
        "How many trucks entered Gaza through Rafah?",
    ],
)
def test_standalone_questions_are_unchanged(rewriter: QuestionRewriter, message: str) -> None:
    assert rewriter.rewrite(message, MOSCOW) == message


def test_nothing_to_refer_to_leaves_the_message_alone(rewriter: QuestionRewriter) -> None:
    assert rewriter.rewrite("What did Israel say about it?", []) == "What did Israel say about it?"


def test_one_name_per_message_so_a_second_pronoun_reads_within_it(
    rewriter: QuestionRewriter,
) -> None:
    out = rewriter.rewrite("What did they say about their role?", ISRAEL)
    assert out == "What did Israel say about their role?"


def test_a_chain_of_follow_ups_uses_the_stored_standalone_questions(
    rewriter: QuestionRewriter,
) -> None:
    history = MOSCOW + ISRAEL
    assert rewriter.rewrite("Why was it condemned?", history) == (
        "Why was the Moscow meeting condemned?"
    )


def test_an_unresolvable_pronoun_gets_the_topic_as_context(rewriter: QuestionRewriter) -> None:
    history = exchange("When did the Moscow meeting take place?", "On Thursday [1].", MOSCOW_TITLE)
    out = rewriter.rewrite("Did Israel ask Russia to expel them?", history)
    assert out == "Did Israel ask Russia to expel them, regarding the Moscow meeting?"


def test_a_refused_answer_is_not_mined_for_names(rewriter: QuestionRewriter) -> None:
    history = [
        Turn("user", "Who leads the Bank of Atlantis?", question="Who leads the Bank of Atlantis?"),
        Turn("assistant", REFUSAL + " Mike Johnson", refused=True),
    ]
    out = rewriter.rewrite("What did he say?", history)
    assert "Mike Johnson" not in out


def test_only_the_recent_history_counts(rewriter: QuestionRewriter) -> None:
    """'it' follows the latest question's topic, not an older one."""
    history = MOSCOW + exchange(
        "How many people died in the Lewiston shooting?", "Eighteen [1].", "Lewiston"
    )
    assert rewriter.rewrite("Who carried it out?", history) == (
        "Who carried the Lewiston shooting out?"
    )


def test_noun_phrases_stop_at_the_verb_after_an_auxiliary() -> None:
    assert [p.text for p in noun_phrases("When did the ECB hold rates?")] == ["the ECB"]
    assert [p.text for p in noun_phrases("Why did the talks fail?")] == ["the talks"]
    assert [p.text for p in noun_phrases("Who attended the meeting in Moscow on Friday?")] == [
        "the meeting in Moscow"
    ]


def test_people_are_told_from_titles_places_and_institutions() -> None:
    assert person("Iranian Deputy Foreign Minister Ali Bagheri Kani") == "Ali Bagheri Kani"
    assert person("Mike Johnson") == "Mike Johnson"
    for not_a_person in ("Senior Hamas", "United States", "Security Council", "Moscow", "UN"):
        assert person(not_a_person) is None
