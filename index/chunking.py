"""Splitting articles into passages the embedding model sees whole.

Chunks are measured in the embedding model's own word-pieces: llama-index's default counts GPT
tokens, and at its default size about 70% of each chunk would never be embedded by MiniLM.
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
        """Chunks with their exact character span in the article text, for citations."""
        nodes = self._splitter.get_nodes_from_documents([Document(text=article.text)])
        chunks: list[Chunk] = []
        cursor = 0
        for ordinal, node in enumerate(nodes):
            text = node.get_content()
            start = getattr(node, "start_char_idx", None)
            if start is None or article.text[start : start + len(text)] != text:
                found = article.text.find(text, cursor)
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
