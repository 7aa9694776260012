"""The bottom layer: what every other layer may use and nothing of ours that it uses.

Owns the one settings object (`settings`), the records passed between layers (`articles`:
the article and its validation; `records`: passages, filters, citations, answers and the
request limits), the English word lists (`words`), the sentence splitter with offsets
(`sentences`) and the JSON client for a running Newsdesk server (`client`).

May import: the standard library and third-party packages only.
"""
