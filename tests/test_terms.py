"""What a question names, when its subject is missing from the evidence, and the direct answer
kept from a sentence the judge dropped: the rules the reader's refusal gate and salvage use."""

from __future__ import annotations

from datetime import date

import pytest

from assistant.chronology import decide_order
from assistant.composer import Candidate
from assistant.kinds import Kind, alternatives, asked, question_kind
from assistant.mentions import fuller_names
from assistant.reader import Evidence, answer_words, salvage
from assistant.terms import analyse, subject_absent
from core.records import ScoredPassage

MULTI_HOP = (
    "Does 'The Verge' article suggest that Google's deals with companies like Apple are "
    "unnecessary, while 'The Age' and 'TechCrunch' articles imply Google's actions are "
    "driven by profit?"
)

WATCH = (
    "Considering the information from an article by The Verge and another by CNET on the "
    "Watch Series 9, which feature, highlighted as a significant upgrade in The Verge's piece "
    "and noted for its potential health benefits in CNET's coverage, is represented by a "
    "single letter commonly associated with a vital sign?"
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
        # A clause's opener is capitalised by grammar, not a name.
        (WATCH, ("Verge", "CNET", "Watch Series")),
        ("According to Reuters, who won the vote?", ("Reuters",)),
        ("Approximately how many people attended?", ()),
        ("Is it true? Considering the rain, did Ascot go ahead?", ("Ascot",)),
        # A name may open with digits.
        (
            "Based on a Bloomberg article and a report by 9to5Mac, which executive was promoted?",
            ("Bloomberg", "9to5Mac"),
        ),
    ],
)
def test_the_names_a_question_is_about(question: str, expected: tuple[str, ...]) -> None:
    assert analyse(question).names == expected


def test_a_question_about_reports_the_evidence_mostly_misses_is_refused() -> None:
    """Two of its three outlets missing: the question is about other reports. Counting its
    opener ("Considering") as a name the evidence holds ("considering") made it one of four
    names, two present, and let a story from one outlet answer a question about three."""
    terms = analyse(
        "Considering the reports by TechCrunch, Engadget and Wired, which company recalled "
        "its smart speaker?"
    )
    one_outlet = "TechCrunch reviewed the holiday gift guide. Considering a tablet?"
    assert subject_absent(terms, one_outlet)
    assert not subject_absent(terms, f"{one_outlet} Wired reported the recall.")


def test_a_missing_person_makes_the_subject_absent() -> None:
    terms = analyse("Who is Kasra Aarabi?")
    assert subject_absent(terms, "Israel condemned the meeting in Moscow.")
    assert not subject_absent(terms, "Kasra Aarabi told the Telegraph.")


@pytest.mark.parametrize(
    ("question", "text"),
    [
        ("Which major strike in the US ended this week?", "The U.S. writers strike is over."),
        ("Which strike in the U.S. ended?", "The United States writers strike is over."),
        ("What did the United States announce?", "The U.S. announced new sanctions."),
        ("What did the UK government decide?", "Britain's government decided to wait."),
        ("Which resolution did the UN adopt?", "The United Nations adopted a truce call."),
    ],
)
def test_a_country_written_another_way_is_still_the_subject(question: str, text: str) -> None:
    """News copy writes the US as "U.S.", "US" and "United States" in one story: a question
    naming it one way is answered by a report that names it another, not refused (it was,
    on RealTimeQA: "Which major strike in the US ended this week?")."""
    terms = analyse(question)
    assert all("." not in name for name in terms.names)  # "U.S." is one name, not U and S
    assert not subject_absent(terms, text)
    assert subject_absent(terms, "The writers strike is over in Hollywood.")


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


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        # The verb comes late, but the question asks who.
        ("Who, according to TechCrunch, is the figure who was removed from OpenAI?", Kind.ENTITY),
        ("Which two public figures were seen leaving the stadium together?", Kind.LIST),
        ("Between the Verge report and the Wired report, was there consistency?", Kind.POLAR),
        (
            "Between the Verge report and the Wired report, was there consistency in which "
            "company they named?",
            Kind.POLAR,
        ),
        # ... and a question that asks inside its scene before that late verb asks for a name.
        (
            "Considering a New York Times article and a BBC News report, which network, known "
            "for its initialism, did Pamela Anderson partner with?",
            Kind.ENTITY,
        ),
        # A question that sets the scene first is shaped by the sentence that asks.
        (
            "Turkey is typically the centerpiece of Thanksgiving dinner. Which US state raises "
            "the most turkeys?",
            Kind.ENTITY,
        ),
        ("The meeting drew criticism. Did Dr. Smith attend it?", Kind.POLAR),
        ("Did Dr. Smith say the U.S. economy grew?", Kind.POLAR),
        # A question that states its scene asks inside it: its question word gives its shape.
        ("Sharon White is to step down. After how many years?", Kind.NUMBER),
        ("Trump and his adult sons were found liable for fraud in which state?", Kind.ENTITY),
        ("Three astronauts returned to Earth this week after how many days in space?", Kind.NUMBER),
        ("Around what percentage of Americans get their flu shot each year?", Kind.NUMBER),
        ("Thousands were evacuated in fear of an eruption in what year?", Kind.DATE),
        # ... and a "what" that begins a clause is no question word.
        (
            "While accounts of what was eaten at the first Thanksgiving vary, which food was "
            "definitely not on the menu?",
            Kind.ENTITY,
        ),
        ("The man who led the talks said they failed. How did they end?", Kind.OPEN),
        ("Accounts of what was eaten vary.", Kind.OPEN),
        ("Explain what the court decided about the fraud case.", Kind.OPEN),
    ],
)
def test_the_kind_of_answer_a_question_wants(question: str, kind: Kind) -> None:
    assert question_kind(question) is kind


def test_the_scene_set_before_a_question_does_not_change_what_it_expects() -> None:
    question = "Another tradition is football. Which NFL team has played the most games?"
    assert asked(question) == "Which NFL team has played the most games?"
    assert analyse(question).expects == analyse(asked(question)).expects
    assert "football" in analyse(question).words  # the scene still counts for search
    assert analyse("Football is a tradition. Who has played the most games?").expects == "name"


@pytest.mark.parametrize(
    ("question", "expects"),
    [
        ("Which major pharmacy chain filed for bankruptcy this week?", "name"),
        ("Trump was found liable for fraud in which state?", "name"),
        ("Which celebrity will host the 2024 Academy Awards?", "name"),
        ("What company bought the newspaper?", "name"),
        ("Which of the teams won the final?", "name"),
        # Answered with a common noun, or not asking for a kind of thing at all.
        ("Which food was eaten at the first Thanksgiving?", ""),
        ("Which type of products were removed from shelves?", ""),
        ("What did the team say after the match?", ""),
        ("Which word did Trump use for his enemies?", ""),
        # Asked inside a statement, a figure or a date all the same.
        ("Three astronauts returned to Earth after how many days in space?", "number"),
        ("Around what percentage of Americans get their flu shot?", "number"),
        ("The treaty was signed in what year?", "date"),
    ],
)
def test_a_which_question_about_a_named_kind_of_thing_expects_a_name(
    question: str, expects: str
) -> None:
    assert analyse(question).expects == expects


@pytest.mark.parametrize(
    ("question", "offered"),
    [
        (
            "Has the explanation remained consistent or inconsistent?",
            ("Consistent", "Inconsistent"),
        ),
        ("Did Engadget agree or disagree with Polygon's review?", ("Agree", "Disagree")),
        ("Was it reported by Reuters before or after AP reported it?", ("Before", "After")),
        # Two outlets are not two answers.
        ("Did Reuters or AP report the merger first?", None),
        ("Did Reuters report the merger?", None),
    ],
)
def test_the_answers_a_yes_or_no_shaped_question_offers(
    question: str, offered: tuple[str, str] | None
) -> None:
    assert alternatives(question) == offered


def test_a_short_name_in_the_answer_is_given_as_the_story_introduces_it() -> None:
    story = [
        "Former FTX CEO Sam Bankman-Fried testified on Friday. Bankman-Fried said he erred.",
        "The Minnesota Vikings won again. The Vikings have a new quarterback.",
    ]
    assert fuller_names("Bankman-Fried [1].", story) == "Sam Bankman-Fried [1]."
    assert fuller_names("The Vikings.", story) == "The Minnesota Vikings."
    # Already in full, or a name the story never gives in full: unchanged.
    assert fuller_names("Sam Bankman-Fried and Ellison.", story) == "Sam Bankman-Fried and Ellison."
    # A paragraph that ends on a name does not run into the next one's first name.
    paragraphs = ["Hamas leaders held talks in Moscow\n\nVladimir Putin has been accused."]
    assert fuller_names("Vladimir Putin [1].", paragraphs) == "Vladimir Putin [1]."


def dated(source: str, day: date, text: str, article: str) -> ScoredPassage:
    return ScoredPassage(article, article, "", day, source, (), "", text, 0, len(text))


REPORTS = [
    dated(
        "The Verge",
        date(2023, 12, 19),
        "The ActivityPub protocol lets servers exchange posts; the structure is decentralised.",
        "verge",
    ),
    dated(
        "TechCrunch",
        date(2023, 12, 18),
        "Flipboard is integrating the ActivityPub protocol into its magazines, it said.",
        "techcrunch",
    ),
]


@pytest.mark.parametrize(
    ("question", "verdict"),
    [
        (
            "Did TechCrunch report on Flipboard's integration of the ActivityPub protocol after "
            "The Verge discussed the structure of the ActivityPub protocol?",
            "No",
        ),
        (
            "Did TechCrunch report on Flipboard's integration of the ActivityPub protocol before "
            "The Verge discussed the structure of the ActivityPub protocol?",
            "Yes",
        ),
        (
            "Was Flipboard's ActivityPub integration reported by TechCrunch before or after "
            "The Verge discussed the structure of the ActivityPub protocol?",
            "Before",
        ),
    ],
)
def test_which_report_came_first_is_read_from_the_dates(question: str, verdict: str) -> None:
    order = decide_order(question, REPORTS)
    assert order is not None
    assert order.verdict == verdict
    assert (order.first, order.second) == (1, 0)
    assert order.dates_sentence(REPORTS) == (
        "TechCrunch published its report on 18 December 2023, The Verge on 19 December 2023"
    )


@pytest.mark.parametrize(
    "question",
    [
        # An event, not a second report, follows "after".
        "Does the TechCrunch article mention Flipboard's integration after an outage?",
        # A side the passages do not report.
        "Did TechCrunch report on Mastodon's funding before The Verge discussed its CEO?",
        # Both sides are one article: nothing for the dates to decide.
        "Did The Verge discuss the ActivityPub protocol before The Verge reported the structure?",
    ],
)
def test_no_order_is_decided_without_two_dated_reports(question: str) -> None:
    assert decide_order(question, REPORTS) is None


def test_a_count_asked_inside_a_statement_is_not_the_day_of_a_date() -> None:
    """ "... after how many years?" asks for a count; the reply "5" is held by "retired on
    Dec. 5" only as a day of the month, which says nothing about years."""
    question = "Sharon White is to step down as chair after how many years in the role?"
    day = _evidence(1, "Facing calls to step down, Conyers retired on Dec. 5 from his seat.", 0)
    assert answer_words(question, ["5 [1]"], [day], 2) is None
    count = _evidence(2, "White will step down as chair after 5 years in the role.", 1)
    found = answer_words(question, ["5 [1]"], [day, count], 2)
    assert found is not None
    phrase, grounds = found
    assert phrase == "5"
    assert [e.number for e in grounds] == [2]
