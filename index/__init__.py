"""Articles in, a searchable index out: reading files in every supported format, chunking,
embedding, Chroma and the catalog with its lexical index (SQLite, or PostgreSQL when
NEWSDESK_DATABASE_URL names one), and the crash-safe writer that
keeps them in step (including who may write: this process, or the server that owns the data
directory).

May import: `core`.
"""
