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
    from pydantic import ValidationError

    from index.database import is_storage_fault

    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"NEWSDESK_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        print(f"newsdesk: error: bad setting: {problems}", file=sys.stderr)
        return 2
    try:
        code: int = args.run(args, settings)
        return code
    except CliError as exc:
        print(f"newsdesk: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not is_storage_fault(exc):
            raise
        # The catalog's database down or unreachable (or a damaged file): say so, no traceback.
        print(f"newsdesk: error: the index cannot be read or written: {exc}", file=sys.stderr)
        return 1
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
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes sharing the port (default NEWSDESK_WORKERS, 1); more than 1 "
        "needs NEWSDESK_CHROMA_MODE=http",
    )
    serve.set_defaults(run=run_serve)

    delete = commands.add_parser("delete", parents=[common], help="remove articles by id")
    delete.add_argument("ids", nargs="+", metavar="ID")
    delete.set_defaults(run=run_delete)

    watch = commands.add_parser(
        "watch",
        parents=[common],
        help="index files in a folder as they come and go, or poll the followed feeds",
    )
    watch.add_argument("folder", type=Path, nargs="?", default=None)
    watch.add_argument("--interval", type=float, default=0.5, help="seconds between scans")
    watch.add_argument("--debounce", type=float, default=1.0, help="seconds a file must hold still")
    watch.add_argument(
        "--sources", action="store_true", help="poll the followed feeds, each on its schedule"
    )
    watch.add_argument(
        "--once", action="store_true", help="with --sources: poll every source once and exit"
    )
    watch.add_argument("--json", action="store_true", help="with --once: one JSON report")
    watch.set_defaults(run=run_watch)

    sources = commands.add_parser("sources", parents=[common], help="the feeds Newsdesk follows")
    actions = sources.add_subparsers(dest="action", required=True, metavar="ACTION")
    follow = actions.add_parser("add", parents=[common], help="follow an RSS or Atom feed")
    follow.add_argument("url", metavar="URL")
    follow.add_argument(
        "--name",
        type=outlet_name,
        default=None,
        metavar="OUTLET",
        help="outlet credited for its articles (default: the feed's title)",
    )
    follow.add_argument(
        "--every",
        default="15m",
        metavar="INTERVAL",
        help="how often to poll: 30m, 2h, 1d (1m to 7d; default 15m)",
    )
    follow.set_defaults(run=run_sources_add)
    listing = actions.add_parser("list", parents=[common], help="sources and how each is doing")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=run_sources_list)
    unfollow = actions.add_parser("remove", parents=[common], help="stop following a feed")
    unfollow.add_argument("source", metavar="ID|URL")
    unfollow.set_defaults(run=run_sources_remove)

    reindex = commands.add_parser(
        "reindex",
        parents=[common],
        help="re-embed every indexed article from its stored text with the current embedding "
        "settings (after changing them, or when chroma/ is lost or damaged); stop the server "
        "first",
        description="Needed after changing the embedding model or backend: rewrites every "
        "article's vectors from its stored text (no source files needed). Crash-safe; run it "
        "again to finish an interrupted reindex.",
    )
    reindex.add_argument("--json", action="store_true", help="print the summary as JSON")
    reindex.set_defaults(run=run_reindex)

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
    """The runtime with its reader model (and the judge that checks it) opened: a model that
    cannot be used (no weights, a server that does not answer, an unknown model name) stops
    the command with one sentence."""
    from assistant.llm.base import ModelUnavailable
    from index.embedder import EmbedderError
    from index.store import IndexMismatch

    try:
        runtime.embedder.device  # noqa: B018 - cuda asked for where there is none
        runtime.store  # noqa: B018 - an index embedded with other settings
        if runtime.model is not None:
            runtime.judge  # noqa: B018 - the llm judge without the local model
    except (ModelUnavailable, IndexMismatch, EmbedderError) as exc:
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
    from index.database import has_catalog

    if not has_catalog(settings):
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
    workers = settings.workers if args.workers is None else args.workers
    if workers < 1:
        raise CliError(f"--workers must be at least 1, not {workers}")
    settings = settings.model_copy(update={"host": host, "port": port, "workers": workers})
    if workers > 1 and settings.chroma_mode != "http":
        raise CliError(
            f"{workers} workers need Chroma's own server: embedded Chroma is one "
            "process's store (a second process would not see, or would corrupt, its writes). "
            "Start `chroma run --path DIR --port N` and set NEWSDESK_CHROMA_MODE=http "
            "(with NEWSDESK_CHROMA_HOST and NEWSDESK_CHROMA_PORT), or serve with one worker"
        )
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
        from index.store import VectorsMissing

        runtime = checked(open_runtime(settings))
        try:
            consistency = runtime.check_vectors()
        except VectorsMissing as exc:
            raise CliError(str(exc)) from None
        if consistency.problem:
            print(f"newsdesk: warning: {consistency.problem}", file=sys.stderr)
        if workers > 1:
            runtime.close()  # each worker opens its own, from the same settings
            serve_workers(settings)
            return 0
        app = create_app(settings, runtime=runtime, server_lock=server_lock)
        uvicorn.run(app, host=host, port=port, log_level="info", log_config=log_config(settings))
    return 0


def serve_workers(settings: Settings) -> None:
    """uvicorn's supervisor with `settings.workers` processes, each building its app (and Runtime)
    from these settings (api.app.worker_app). This process keeps the data directory's server
    lock and the registration the CLI hands its writes to; any worker answers at that URL."""
    import os

    import uvicorn

    from api.app import WORKER_SETTINGS
    from api.observability import log_config
    from index import owner

    os.environ[WORKER_SETTINGS] = settings.model_dump_json()
    token = owner.register(settings, f"http://{settings.host}:{settings.port}")
    try:
        uvicorn.run(
            "api.app:worker_app",
            factory=True,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            log_level="info",
            log_config=log_config(settings),
        )
    finally:
        owner.unregister(settings, token)


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
    if args.sources == (args.folder is not None):
        raise CliError("give a FOLDER to watch, or --sources to poll the followed feeds")
    if (args.once or args.json) and not args.sources:
        raise CliError("--once and --json go with --sources")
    if args.json and not args.once:
        raise CliError("--json goes with --once")
    if args.sources:
        return watch_sources(args, settings)
    from index.watch import watch

    if not args.folder.is_dir():
        raise CliError(f"{args.folder}: not a folder")
    ingester = open_runtime(settings).ingester()

    def sink(articles: Any) -> str:
        try:
            return str(ingester.ingest(articles).line())
        except RuntimeError as exc:
            raise CliError(str(exc)) from None

    def remove(ids: list[str]) -> str:
        try:
            return f"{ingester.delete(ids)} deleted"
        except RuntimeError as exc:
            raise CliError(str(exc)) from None

    stopping = stop_on_signals()
    print(f"watching {args.folder} (Ctrl-C to stop)", flush=True)
    try:
        watch(
            args.folder,
            sink,
            remove,
            report_line,
            interval=args.interval,
            debounce=args.debounce,
            stop=stopping.is_set,
        )
    finally:
        ingester.close()
    print("stopped watching", flush=True)
    return 0


def report_line(line: str) -> None:
    print(line, flush=True)


def stop_on_signals() -> Any:
    """An Event set by SIGTERM or Ctrl-C: the batch in hand is finished, never cut mid-write."""
    import signal
    import threading

    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return stopping


def watch_sources(args: argparse.Namespace, settings: Settings) -> int:
    """Fetching and extraction run here; the articles go through the ingester, so with a
    server running they are handed to it (as `newsdesk ingest` does), otherwise written here.
    Exit status 1 from --once when any source failed, so cron and CI notice."""
    runtime = open_runtime(settings)
    if args.once and not runtime.sources.all():
        # The loop may start empty: sources added later are polled from the next tick.
        raise CliError(
            f"no sources in {settings.data_dir}; add one with `newsdesk sources add URL`"
        )

    def on_remote(server: str, count: int) -> None:
        print(f"newsdesk: sending {count} article(s) to the server at {server}", file=sys.stderr)

    ingester = runtime.ingester(on_remote)
    poller = runtime.poller(ingester.ingest)
    try:
        if args.once:
            reports = poller.poll_all()
            if args.json:
                print(json.dumps({"sources": [r.as_dict() for r in reports]}))
            else:
                for result in reports:
                    report_line(result.line())
            return 1 if any(r.status == "error" for r in reports) else 0
        from index.lock import LockTimeout

        lock = runtime.poll_lock()
        try:
            lock.acquire()
        except LockTimeout:
            raise CliError(
                f"another process polls the sources of {settings.data_dir} already (a server "
                "with NEWSDESK_POLL=1, or another `newsdesk watch --sources`)"
            ) from None
        try:
            stopping = stop_on_signals()
            print(f"polling {len(runtime.sources.all())} source(s) (Ctrl-C to stop)", flush=True)
            poller.run(stopping, settings.poll_tick, lambda r: report_line(r.line()))
        finally:
            lock.release()
        print("stopped polling", flush=True)
        return 0
    finally:
        poller.fetcher.close()
        ingester.close()
        runtime.close()


def open_sources(settings: Settings) -> Any:
    from index.sources import SourceStore

    return SourceStore.open(settings)


def run_sources_add(args: argparse.Namespace, settings: Settings) -> int:
    from index.sources import SourceError

    store = open_sources(settings)
    try:
        source = store.add(args.url, args.name or "", args.every)
    except SourceError as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
    named = f" as {source.name}" if source.name else ""
    print(f"following [{source.id}] {source.url} every {args.every.strip()}{named}")
    return 0


def run_sources_list(args: argparse.Namespace, settings: Settings) -> int:
    from index.database import has_catalog

    listed: list[dict[str, Any]] = []
    if has_catalog(settings):  # listing never creates a data directory
        store = open_sources(settings)
        try:
            listed = [s.as_dict() for s in store.all()]
        finally:
            store.close()
    if args.json:
        print(json.dumps({"sources": listed}))
        return 0
    if not listed:
        print("no sources; add one with `newsdesk sources add URL`")
    for s in listed:
        print(f"[{s['id']}] {s['outlet'] or '(untitled)'}  {s['url']}  every {s['every']}")
        print(
            f"    last poll {s['last_poll'] or 'never'}, last success "
            f"{s['last_success'] or 'never'}; {s['added']} added, {s['updated']} updated, "
            f"{s['skipped']} skipped"
        )
        if s["last_error"]:
            print(f"    last error ({s['failures']} in a row): {s['last_error']}")
    return 0


def run_sources_remove(args: argparse.Namespace, settings: Settings) -> int:
    store = open_sources(settings)
    try:
        source = store.find(args.source)
        if source is None:
            raise CliError(f"no source {args.source!r}; `newsdesk sources list` shows them")
        store.remove(source.id)
    finally:
        store.close()
    print(f"stopped following [{source.id}] {source.url} (its articles stay indexed)")
    return 0


def run_reindex(args: argparse.Namespace, settings: Settings) -> int:
    from index.database import has_catalog

    if not has_catalog(settings):
        raise CliError(f"no index in {settings.data_dir}; nothing to reindex")
    from index.embedder import EmbedderError
    from index.lock import write_lock
    from index.owner import ServerBusy, ServerLock
    from index.store import Store
    from index.writer import IndexWriter

    try:
        # Held for the whole run: no server may start on vectors being replaced.
        server_lock = ServerLock(settings).acquire()
    except ServerBusy as exc:
        raise CliError(f"{exc}; stop it before reindexing") from None
    runtime = open_runtime(settings)
    lock = write_lock(settings)
    with server_lock, lock:
        try:
            store = Store.open(settings, runtime.embedder, reindexing=True)
        except EmbedderError as exc:
            raise CliError(str(exc)) from None
        try:
            chunks = IndexWriter(store, settings, lock).reindex()
            summary = {**store.catalog.counts(), "chunks_embedded": chunks}
            identity = store.catalog.meta("embedding") or {}
            consistency = store.consistency()
        finally:
            store.close()
    if args.json:
        print(json.dumps({**summary, "embedding": identity}))
    else:
        print(
            f"{summary['articles']} articles re-embedded ({chunks} chunks, "
            f"{summary['passages']} passages embedded; {consistency.vectors} vectors in the "
            f"store) with {identity.get('model')} on the {identity.get('backend')} backend"
        )
    if consistency.problem:
        raise CliError(consistency.problem)
    return 0


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    from index.catalog import open_catalog
    from index.database import has_catalog

    if not has_catalog(settings):
        print(json.dumps({"data_dir": str(settings.data_dir), "articles": 0, "passages": 0}))
        return 0
    catalog = open_catalog(settings)
    try:
        counts = catalog.counts()
    finally:
        catalog.close()
    print(json.dumps({"data_dir": str(settings.data_dir), **counts}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
