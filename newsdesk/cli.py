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
from typing import TYPE_CHECKING, Any

from core.settings import Settings

if TYPE_CHECKING:
    from assistant.runtime import Runtime


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
    ingest.add_argument(
        "--source",
        type=outlet_name,
        default=None,
        metavar="NAME",
        help="outlet for articles that do not name their own (e.g. the seed text format)",
    )
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
    parser.add_argument(
        "--as-of",
        type=iso_date,
        default=None,
        metavar="DATE",
        help="ask as if on DATE: later articles are ignored, 'latest' means up to DATE",
    )


def outlet_name(value: str) -> str:
    name = value.strip()
    if not name:
        raise argparse.ArgumentTypeError("the outlet name is empty")
    return name


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from core.articles import ArticleError
    from index.loaders import load_articles

    try:
        articles = load_articles(args.paths, source=args.source)
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

    def on_remote(server: str, count: int) -> None:
        print(f"newsdesk: sending to the server at {server}", file=sys.stderr)
        open_bar(count)

    ingester = open_runtime(settings).ingester(on_remote)
    try:
        summary = ingester.ingest(articles, prune=args.prune, progress=progress, on_plan=on_plan)
    except RuntimeError as exc:
        raise CliError(str(exc)) from None
    finally:
        ingester.close()
        if bar is not None:
            bar.close()
    print(json.dumps(summary.as_dict()) if args.json else summary.line())
    return 0


def open_runtime(settings: Settings) -> Runtime:
    from assistant.runtime import Runtime

    return Runtime(settings)


def checked(runtime: Runtime) -> Runtime:
    """The runtime with its reader model opened: a model that cannot be used (no weights, a
    server that does not answer, an unknown model name) stops the command with one sentence."""
    from assistant.llm.base import ModelUnavailable

    try:
        runtime.model  # noqa: B018
    except ModelUnavailable as exc:
        raise CliError(str(exc)) from None
    return runtime


_FILTER_OPTIONS = {"published_after": "--after", "published_before": "--before", "as_of": "--as-of"}


def filters_from(args: argparse.Namespace) -> Any:
    from core.records import Filters

    try:
        return Filters(
            source=args.source,
            published_after=args.after,
            published_before=args.before,
            as_of=args.as_of,
        )
    except ValueError as exc:
        # Filters names its fields as the API does; say it in this command's option names.
        message = str(exc)
        for field, option in _FILTER_OPTIONS.items():
            message = message.replace(field, option)
        raise CliError(message) from None


def open_assistant(settings: Settings) -> Any:
    if not settings.catalog_path.exists():
        raise CliError(
            f"no index in {settings.data_dir}; run `newsdesk ingest PATH` first "
            "(or pass --data-dir)"
        )
    return checked(open_runtime(settings)).assistant


def run_ask(args: argparse.Namespace, settings: Settings) -> int:
    from core.records import check_top_k, clean_question

    try:
        question = clean_question(args.question)
        check_top_k(args.top_k)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    filters = filters_from(args)  # before the model loads: a bad filter fails at once
    answer = open_assistant(settings).ask(question, args.top_k, filters)
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
    filters = filters_from(args)
    hits = open_assistant(settings).search(args.query, args.k, filters)
    if args.json:
        print(json.dumps([h.as_dict() for h in hits], ensure_ascii=False))
        return 0
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank}. {hit.score:.4f} {hit.title} ({hit.published or 'undated'})")
        print(f"   {hit.text[:200]}")
    return 0


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    from index.owner import ServerBusy, ServerLock

    host = args.host or settings.host
    port = args.port or settings.port
    settings = settings.model_copy(update={"host": host, "port": port})
    # First of all, before the heavy imports, the model or the store: a second server on this
    # directory stops here, in a second, and never touches the first one's registration.
    try:
        server_lock = ServerLock(settings).acquire()
    except ServerBusy as exc:
        raise CliError(str(exc)) from None
    with server_lock:
        import uvicorn

        from api.app import create_app
        from api.observability import log_config

        runtime = checked(open_runtime(settings))
        app = create_app(settings, runtime=runtime, server_lock=server_lock)
        uvicorn.run(app, host=host, port=port, log_level="info", log_config=log_config(settings))
    return 0


def run_delete(args: argparse.Namespace, settings: Settings) -> int:
    ingester = open_runtime(settings).ingester()
    try:
        removed = ingester.delete(args.ids)
    except RuntimeError as exc:
        raise CliError(str(exc)) from None
    finally:
        ingester.close()
    missing = len(args.ids) - removed
    print(f"{removed} deleted" + (f", {missing} not found" if missing else ""))
    return 0 if not missing else 1


def run_watch(args: argparse.Namespace, settings: Settings) -> int:
    from index.watch import watch

    if not args.folder.is_dir():
        raise CliError(f"{args.folder}: not a folder")
    ingester = open_runtime(settings).ingester()

    def sink(articles: Any) -> str:
        try:
            return str(ingester.ingest(articles).line())
        except RuntimeError as exc:
            raise CliError(str(exc)) from None

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
