"""Splitting articles into passages the embedding model sees whole.

Chunks are measured in the embedding model's own word-pieces: llama-index's default counts GPT
tokens, and at its default size about 70% of each chunk would never be embedded by MiniLM.

The article's headline opens its first passage, on a line of its own (`indexed_text`). A
headline states the story in a line ("Writers strike ends: Hollywood screenwriters, studios
reach deal") with words the body only refers back to ("the agreement"), so the passage that
holds the lead is searched and embedded with them. The body is chunked on its own and the
headline put in front of the first chunk, within what the model embeds whole: a headline
chunked with the text moved every boundary after it, and a seed answer lost the sentence that
names its fourth attendee (README, Readers). It is searched, not quoted: a headline names the
news but is a teaser, often cut short (assistant.composer).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from llama_index.core import Document
from llama_index.core.node_parser import SentenceSplitter

from core.articles import Article, headline_line


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
        self,
        count_tokens: Callable[[str], list[int]],
        chunk_tokens: int,
        overlap: int,
        limit: int | None = None,
    ) -> None:
        """`limit`: the most word-pieces a passage may hold with its headline (what the
        embedding model reads whole); the chunk size when not given."""
        self._count = count_tokens
        self._limit = max(limit or chunk_tokens, chunk_tokens)
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
        nodes = self._splitter.get_nodes_from_documents([Document(text=article.text)])
        head = headed(article)
        spans: list[tuple[str, int]] = []
        cursor = 0
        for node in nodes:
            text = node.get_content()
            start = getattr(node, "start_char_idx", None)
            if start is None or article.text[start : start + len(text)] != text:
                found = article.text.find(text, cursor)
                start = found if found >= 0 else cursor
            cursor = max(cursor, start)
            spans.append((text, len(head) + start))
        if (
            head
            and spans
            and spans[0][1] == len(head)
            and len(self._count(head + spans[0][0])) <= self._limit
        ):
            spans[0] = (head + spans[0][0], spans[0][1] - len(head))
        chunks: list[Chunk] = []
        for ordinal, (text, start) in enumerate(spans):
            digest = hashlib.sha256(f"{article.content_hash}:{ordinal}".encode()).hexdigest()
            chunks.append(
                Chunk(
                    id=f"{article.id}:{ordinal}:{digest[:8]}",
                    article_id=article.id,
                    ordinal=ordinal,
                    text=text,
                    start=start,
                    end=start + len(text),
                )
            )
        return chunks


def headed(article: Article) -> str:
    """The headline line put above the text, or nothing when the text already opens with its
    headline (a page whose extractor kept its <h1>, a seed file's first line)."""
    line = headline_line(article.title)
    if not line or " ".join(article.text[: len(line) + 40].split()).startswith(line.strip()):
        return ""
    return line


def indexed_text(article: Article) -> str:
    """What the chunks' spans index: the headline line, then the text."""
    return headed(article) + article.text
