"""The faithfulness judge: is a claim supported by the passages it cites?

One judge, one threshold, used everywhere a claim is checked: the reader verifies each sentence
it writes with it before anyone sees the answer, and the eval harness scores answers and gates
CI with the same code. It lives here, below both, and keeps rules of its own (its sentence
splitter, stemmer and name finder) rather than sharing the assistant's, so that it does not
inherit the assistant's blind spots.

Two variants, one interface (``support.Judge``: ``.score(pairs)``, ``.assess(pairs)`` for the
scores with the evidence span behind each, ``.threshold``, ``.name``): the fast judge
(``support.default_scorer``: embeddings and lexical checks, milliseconds a claim), and the llm
judge (``support.llm_scorer``: the fast judge, plus a local language model asked only about
the claims the fast judge cannot decide; seconds a claim).

May import: `core`, `index` (the embedding model), `assistant.llm` (the model contract).
"""
