"""English word lists every layer may use: stopwords, months, weekdays, the judge's lists.

Each list is named for the job it does. The lists more than one module reads, and the eval
judge's (kept apart on purpose so the judge does not inherit the assistant's blind spots), live
here side by side; a list tuned for one module's one job (the follow-up rewriter's pronouns,
say) stays with that module.
"""

from __future__ import annotations


def wordset(words: str) -> frozenset[str]:
    """Keeps long word lists readable in the source."""
    return frozenset(words.split())


STOPWORDS = wordset(
    """
    a an and are as at be by did do does for from had has have how in is it its of on or that
    the their them there these they this to was were what when where which who whom whose why
    will with about after before said says say tell me any all can could would should than then
    into over under between during
    """
)
"""Words that carry no topic: left out of BM25 queries and of a question's terms."""

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
"""Month names in calendar order (index + 1 is the month number)."""
MONTH_ABBREVIATIONS = {
    **{name[:3]: number for number, name in enumerate(MONTHS, start=1)},
    "sept": 9,
}
"""Short month names as news copy writes them, to their month number."""
MONTH_PATTERN = "|".join(
    sorted(dict.fromkeys((*MONTHS, *MONTH_ABBREVIATIONS)), key=len, reverse=True)
)
"""Any month name or short form as a regex alternation, longest first ("sept" before "sep")."""
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
RELATIVE_DAYS = ("yesterday", "today", "tomorrow")

# --- eval's lists: the answer metrics and the faithfulness judge ----------------------------
# Kept apart from the assistant's on purpose: eval grades the assistant's answers, so a word
# the assistant's lists get wrong must not be wrong the same way here.

ANSWER_STOPWORDS = wordset(
    """
    a an the and or but if of at by for from in into on onto to with without about as is are
    was were be been being has have had do does did will would shall should can could may might
    must this that these those it its he she they them his her their we our you your i me my
    who whom whose which what when where why how not no nor so than then there here also
    """
)
"""Left out of an answer's and a gold evidence's content words (eval.metrics)."""

JUDGE_FUNCTION_WORDS = wordset(
    """
    a an the and or but if then than so as of at by for from in into on onto to with without
    about above after again against all am are aren't be because been before being below
    between both can could did do does doing down during each few further had has have having
    he her here hers herself him himself his how i it its itself just me more most my myself
    no nor not now off once only other our ours ourselves out over own same she should some
    such that their theirs them themselves there these they this those through too under
    until up very was we were what when where which while who whom why will would you your
    yours yourself yourselves is isn't wasn't weren't won't said says say told according
    new one's s t also its it's 's mr mrs ms dr
    """
)
"""Not content and not a name: left out of a claim's content words and trimmed off the start
of a capitalised run (assistant.judge.lexical)."""

JUDGE_TITLES = wordset("mr mrs ms dr prof sir dame lord lady st")
"""Titles dropped from a name before the judge looks for it in the evidence (judge.lexical)."""

JUDGE_COMMON_OPENERS = wordset(
    """
    around about almost nearly roughly some many several most more few only even just still
    now today yesterday tomorrow recently earlier later last next first second third former
    another every each both either neither despite although though however meanwhile instead
    overall officials police experts critics researchers scientists authorities residents
    witnesses many other such while when after before during since until under over among
    """
)
"""Capitalised only because they open the sentence; not names (assistant.judge.lexical). Short on
purpose: a name wrongly skipped here is only a missed check, a common word kept is a false
alarm."""

JUDGE_SENTENCE_STARTERS = wordset(
    """
    the a an he she it they we i you this that these those there his her their its our my
    but and however in on at after before when while if as so yet also meanwhile still
    """
)
"""Words that start a new sentence often enough that "... the U.S. The talks" is a boundary
even though "U.S." is an abbreviation (judge.claims); any other capitalised word after "U.S."
is more likely a continuation ("U.S. President Joe Biden")."""

JUDGE_CLAUSE_VERBS = wordset(
    """
    is are was were be been being am has have had having do does did will would shall should
    can could may might must said says say told tells tell met meets meet went goes go came
    comes come took takes take gave gives give made makes make found finds find won wins win
    lost loses lose left leaves leave held holds hold led leads lead saw sees see got gets get
    became becomes become began begins begin brought brings bring kept keeps keep knew knows
    know thought thinks think ran runs run fell falls fall rose rises rise sent sends send
    spent spends spend paid pays pay sold sells sell built builds build struck strikes strike
    fought fights fight hit hits put puts set sets cut cuts called calls announced announces
    added adds warned warns denied denies claimed claims reported reports stated states
    """
)
"""Verb cues for deciding that both sides of a ", and" are clauses rather than list items
(judge.claims). Without a POS tagger this is a heuristic; a miss only means the sentence stays
one claim."""

JUDGE_CLAUSE_SUBJECTS = wordset(
    """
    he she it they we i you this that these those there his her their its our my the a an
    officials police authorities
    """
)
"""Words that open a clause the way a subject does, so ", and <word> ..." may start a new
claim (assistant.judge.claims)."""


_SMALL_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen twenty"
)
NUMBER_WORDS = {word: str(number) for number, word in enumerate(_SMALL_NUMBERS.split(" "))} | {
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "sixty": "60",
    "seventy": "70",
    "eighty": "80",
    "ninety": "90",
    "hundred": "100",
    "dozen": "12",
}
"""Number words to their figures: news copy writes "four" where a table or a gold answer
says "4"."""
