"""The HTTP face: one FastAPI app factory over a `Runtime`, thin routes (/ask, /search,
/articles, /chat, the OpenAI-compatible /v1) and the chat page's static files.

May import: `core`, `index`, `assistant`. Not `eval`: the harness drives the API from outside.
"""
