"""The `newsdesk` command line: the top of the house, where settings are built from the
environment and flags and handed to a `Runtime`, the API server or the eval harness.

May import: every layer. Nothing imports it.
"""
