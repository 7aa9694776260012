"""Articles in, a searchable index out: reading files in every supported format, chunking,
embedding, Chroma and the SQLite catalog with its BM25 index, and the crash-safe writer that
keeps them in step (including who may write: this process, or the server that owns the data
directory).

May import: `core`.
"""
