"""Splitting articles into passages the embedding model sees whole.

Chunks are measured in the embedding model's own word-pieces: llama-index's default counts GPT
tokens, and at its default size about 70% of each chunk would never be embedded by MiniLM.

What is chunked is the article's headline, then its text (`indexed_text`). A headline states the
story in a line ("Writers strike ends: Hollywood screenwriters, studios reach deal"), often
with the very words a question asks for, which the body then refers back to ("the
agreement"): as the opening passage's first line it is searched and embedded with the story,
and read, quoted and cited as evidence when it holds what a question asks for
(assistant.composer). On the 84 answerable RealTimeQA dev questions this took retrieval's
MRR from 0.598 to 0.633 (README, Readers). Indexes built before keep headline-less passages
until `newsdesk reindex`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from llama_index.core import Document
from llama_index.core.node_parser import SentenceSplitter

from core.articles import Article


@dataclass(frozen=True)
class Chunk:
    id: str
    article_id: str
    ordinal: int
    text: str
    start: int
    end: int


class Chunker:
    def __init__(
        self, count_tokens: Callable[[str], list[int]], chunk_tokens: int, overlap: int
    ) -> None:
        self._splitter = SentenceSplitter(
            chunk_size=chunk_tokens,
            chunk_overlap=min(overlap, chunk_tokens // 4),
            tokenizer=count_tokens,
            include_metadata=False,
            include_prev_next_rel=False,
        )

    def split(self, article: Article) -> list[Chunk]:
        """Chunks with their exact character span in the article's indexed text, for
        citations."""
        whole = indexed_text(article)
        nodes = self._splitter.get_nodes_from_documents([Document(text=whole)])
        chunks: list[Chunk] = []
        cursor = 0
        for ordinal, node in enumerate(nodes):
            text = node.get_content()
            start = getattr(node, "start_char_idx", None)
            if start is None or whole[start : start + len(text)] != text:
                found = whole.find(text, cursor)
                start = found if found >= 0 else cursor
            end = start + len(text)
            cursor = max(cursor, start)
            digest = hashlib.sha256(f"{article.content_hash}:{ordinal}".encode()).hexdigest()
            chunks.append(
                Chunk(
                    id=f"{article.id}:{ordinal}:{digest[:8]}",
                    article_id=article.id,
                    ordinal=ordinal,
                    text=text,
                    start=start,
                    end=end,
                )
            )
        return chunks


def indexed_text(article: Article) -> str:
    """The headline on a line of its own above the text, unless the text already opens with
    it (a page whose extractor kept its <h1>, a seed file's first line)."""
    title = " ".join(article.title.split())
    if not title or " ".join(article.text[: len(title) + 40].split()).startswith(title):
        return article.text
    return f"{title}\n\n{article.text}"
