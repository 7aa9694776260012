"""The `newsdesk` command line.

Parsing and help stay light: models, Chroma and FastAPI are imported only by the command that
needs them, so `newsdesk --help` answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from newsdesk.settings import Settings


class CliError(Exception):
    """A problem with the user's input: printed as one line, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None) is not None:
        overrides["data_dir"] = args.data_dir
    try:
        settings = Settings(**overrides)
        code: int = args.run(args, settings)
        return code
    except CliError as exc:
        print(f"newsdesk: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("newsdesk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `newsdesk ask ... | head`
        sys.stderr.close()
        return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        # SUPPRESS: given before or after the command, one value survives the subparser.
        default=argparse.SUPPRESS,
        help="folder holding the index (default: $NEWSDESK_DATA_DIR or ./newsdesk-data)",
    )
    parser = argparse.ArgumentParser(
        prog="newsdesk",
        description="Question answering over a news corpus, with cited answers.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser(
        "ingest", parents=[common], help="index articles from files and folders"
    )
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ingest.add_argument(
        "--prune", action="store_true", help="delete indexed articles not found in PATHs"
    )
    ingest.add_argument("--json", action="store_true", help="print the summary as JSON")
    ingest.set_defaults(run=run_ingest)

    ask = commands.add_parser("ask", parents=[common], help="ask a question")
    ask.add_argument("question")
    ask.add_argument("--top-k", type=int, default=None)
    add_filter_options(ask)
    ask.add_argument("--json", action="store_true", help="print exactly what POST /ask returns")
    ask.set_defaults(run=run_ask)

    search = commands.add_parser("search", parents=[common], help="show ranked passages")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=5)
    add_filter_options(search)
    search.add_argument("--json", action="store_true")
    search.set_defaults(run=run_search)

    serve = commands.add_parser("serve", parents=[common], help="run the API and chat page")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(run=run_serve)

    delete = commands.add_parser("delete", parents=[common], help="remove articles by id")
    delete.add_argument("ids", nargs="+", metavar="ID")
    delete.set_defaults(run=run_delete)

    watch = commands.add_parser(
        "watch", parents=[common], help="index files in a folder as they appear or change"
    )
    watch.add_argument("folder", type=Path)
    watch.add_argument("--interval", type=float, default=0.5, help="seconds between scans")
    watch.add_argument("--debounce", type=float, default=1.0, help="seconds a file must hold still")
    watch.set_defaults(run=run_watch)

    status = commands.add_parser("status", parents=[common], help="index size and location")
    status.set_defaults(run=run_status)

    from eval.cli import add_commands as add_eval_commands

    add_eval_commands(commands, common)
    return parser


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default=None, help="only articles from this outlet")
    parser.add_argument("--after", type=iso_date, default=None, help="published on/after")
    parser.add_argument("--before", type=iso_date, default=None, help="published on/before")


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from index.articles import ArticleError
    from index.loaders import load_articles

    try:
        articles = load_articles(args.paths)
    except ArticleError as exc:
        raise CliError(f"{exc}; nothing was indexed") from None
    if not articles:
        raise CliError("no articles found in " + ", ".join(map(str, args.paths)))

    from index.writer import IngestPlan

    bar: Any = None

    def open_bar(total: int) -> None:
        nonlocal bar
        if sys.stderr.isatty() and total:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="article", file=sys.stderr)

    def on_plan(plan: IngestPlan) -> None:
        open_bar(len(plan.write))

    def progress(articles_done: int, chunks: int) -> None:
        if bar is not None:
            bar.update(articles_done)

    ingester = Ingester(settings)
    try:
        summary = ingester.ingest(
            articles, prune=args.prune, progress=progress, on_plan=on_plan, on_remote=open_bar
        )
    finally:
        ingester.close()
        if bar is not None:
            bar.close()
    print(json.dumps(summary.as_dict()) if args.json else summary.line())
    return 0


class Ingester:
    """Writes go to the running server that owns the data directory when there is one (it
    answers from them at once), otherwise straight to the store under the write lock."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._handle: Any = None
        self._embedder: Any = None
        self._saw_server = False

    def ingest(
        self,
        articles: Any,
        *,
        prune: bool = False,
        progress: Any = None,
        on_plan: Any = None,
        on_remote: Any = None,
    ) -> Any:
        from index.lock import WriteLock
        from index.writer import IndexWriter
        from newsdesk import registry

        lock = WriteLock(self.settings.lock_path)
        try:
            with lock:
                server = registry.live_server(self.settings)
                if server is None:
                    writer = IndexWriter(self._local_handle(), lock)
                    return writer.ingest(articles, prune=prune, progress=progress, on_plan=on_plan)
                self._saw_server = True
            from newsdesk.remote import ingest_remote

            print(f"newsdesk: sending to the server at {server}", file=sys.stderr)
            if on_remote is not None:
                on_remote(len(articles))
            return ingest_remote(
                server, articles, prune=prune, api_key=self.settings.api_key, progress=progress
            )
        except RuntimeError as exc:
            raise CliError(str(exc)) from None

    def delete(self, article_ids: list[str]) -> int:
        from index.lock import WriteLock
        from index.writer import IndexWriter
        from newsdesk import registry

        lock = WriteLock(self.settings.lock_path)
        try:
            with lock:
                server = registry.live_server(self.settings)
                if server is None:
                    return int(IndexWriter(self._local_handle(), lock).delete(article_ids))
            from newsdesk.remote import delete_remote

            return delete_remote(server, article_ids, api_key=self.settings.api_key)
        except RuntimeError as exc:
            raise CliError(str(exc)) from None

    def _local_handle(self) -> Any:
        from index.embedder import Embedder
        from index.handle import IndexHandle

        if self._handle is not None and self._saw_server:
            # A server wrote since we opened the store: Chroma's cached view is stale.
            from chromadb.api.shared_system_client import SharedSystemClient

            self._handle.close()
            SharedSystemClient.clear_system_cache()
            self._handle = None
        if self._handle is None:
            s = self.settings
            self._embedder = self._embedder or Embedder(s.embedding_package, s.embed_batch_size)
            self._handle = IndexHandle.open(s, self._embedder)
            self._saw_server = False
        return self._handle

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def filters_from(args: argparse.Namespace) -> Any:
    from assistant.types import Filters

    if args.after and args.before and args.after > args.before:
        raise CliError("--after must not be later than --before")
    return Filters(source=args.source, published_after=args.after, published_before=args.before)


def open_assistant(settings: Settings) -> Any:
    from assistant.service import Assistant
    from index.handle import IndexHandle

    if not settings.catalog_path.exists():
        raise CliError(
            f"no index in {settings.data_dir}; run `newsdesk ingest PATH` first "
            "(or pass --data-dir)"
        )
    return Assistant(IndexHandle.open(settings))


def run_ask(args: argparse.Namespace, settings: Settings) -> int:
    question = args.question.strip()
    if not question:
        raise CliError("the question is empty")
    if len(question) > settings.max_question_chars:
        raise CliError(f"the question is longer than {settings.max_question_chars} characters")
    if args.top_k is not None and not 1 <= args.top_k <= 50:
        raise CliError("--top-k must be between 1 and 50")
    answer = open_assistant(settings).ask(question, args.top_k, filters_from(args))
    if args.json:
        print(json.dumps(answer.as_dict(), ensure_ascii=False))
        return 0
    print(answer.answer)
    for c in answer.citations:
        print(f"\n[{c.id}] {c.title} — {c.source or 'unknown source'}, {c.published or 'undated'}")
        if c.url:
            print(f"    {c.url}")
        print(f"    {c.passage[:300]}{'…' if len(c.passage) > 300 else ''}")
    return 0


def run_search(args: argparse.Namespace, settings: Settings) -> int:
    if not args.query.strip():
        raise CliError("the query is empty")
    hits = open_assistant(settings).search(args.query, args.k, filters_from(args))
    if args.json:
        print(json.dumps([h.as_dict() for h in hits], ensure_ascii=False))
        return 0
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank}. {hit.score:.4f} {hit.title} ({hit.published or 'undated'})")
        print(f"   {hit.text[:200]}")
    return 0


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.app import create_app

    host = args.host or settings.host
    port = args.port or settings.port
    settings = settings.model_copy(update={"host": host, "port": port})
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
    return 0


def run_delete(args: argparse.Namespace, settings: Settings) -> int:
    ingester = Ingester(settings)
    try:
        removed = ingester.delete(args.ids)
    finally:
        ingester.close()
    missing = len(args.ids) - removed
    print(f"{removed} deleted" + (f", {missing} not found" if missing else ""))
    return 0 if not missing else 1


def run_watch(args: argparse.Namespace, settings: Settings) -> int:
    from index.watch import watch

    if not args.folder.is_dir():
        raise CliError(f"{args.folder}: not a folder")
    ingester = Ingester(settings)

    def sink(articles: Any) -> str:
        return str(ingester.ingest(articles).line())

    def report(line: str) -> None:
        print(line, flush=True)

    import signal
    import threading

    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopping.set()  # finish the batch in hand, then leave: never stop mid-write

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"watching {args.folder} (Ctrl-C to stop)", flush=True)
    try:
        watch(
            args.folder,
            sink,
            report,
            interval=args.interval,
            debounce=args.debounce,
            stop=stopping.is_set,
        )
    finally:
        ingester.close()
    print("stopped watching", flush=True)
    return 0


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    from index.catalog import Catalog

    if not settings.catalog_path.exists():
        print(json.dumps({"data_dir": str(settings.data_dir), "articles": 0, "passages": 0}))
        return 0
    counts = Catalog(settings.catalog_path).counts()
    print(json.dumps({"data_dir": str(settings.data_dir), **counts}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
