"""The evaluation harness: suites, the faithfulness judge, metrics, reports and the CI gate.
It drives the assistant from outside, as a user would: through a `Runtime` over a corpus, or
over HTTP against a running server.

May import: `core`, `index`, `assistant`. Not `api`: a server is reached over HTTP.
"""
