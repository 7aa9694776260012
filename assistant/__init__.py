"""Questions in, cited answers out: query planning, hybrid retrieval and reranking, answer
composition, follow-up rewriting and conversations; and `runtime`, the one object that wires
the whole system from settings for the API, the CLI, the eval harness and the benches.

May import: `core`, `index`.
"""
