"""The command line as a user runs it: ingest summary, ask, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx

from conftest import DEMO, Server, newsdesk_command
from tests_support import article, write_jsonl


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(newsdesk_command(*args), capture_output=True, text=True, timeout=300)


def test_ingest_json_summary_then_ask_json_matches_the_api(
    tmp_path: Path, demo_server: Server
) -> None:
    data = str(tmp_path / "data")
    first = run("ingest", str(DEMO), "--json", "--data-dir", data)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert set(summary) == {"added", "updated", "unchanged", "deleted", "chunks_embedded"}
    assert summary["added"] >= 12 and summary["chunks_embedded"] >= summary["added"]
    second = json.loads(run("ingest", str(DEMO), "--json", "--data-dir", data).stdout)
    assert second["chunks_embedded"] == 0 and second["unchanged"] == summary["added"]
    question = "What did Israel's foreign ministry call the meeting?"
    asked = run("ask", question, "--json", "--data-dir", data)
    assert asked.returncode == 0, asked.stderr
    cli_answer = json.loads(asked.stdout)
    api_answer = httpx.post(
        f"{demo_server.url}/ask", json={"question": question}, timeout=60
    ).json()
    # Same corpus (the server's also holds the seed article when ../shared exists).
    assert set(cli_answer) == set(api_answer) == {"answer", "refused", "citations"}
    assert "obscene" in cli_answer["answer"]
    plain = run("ask", question, "--data-dir", data)
    assert "obscene" in plain.stdout and "[1]" in plain.stdout


def test_bad_input_gives_a_message_and_nonzero_exit(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    bad = write_jsonl(tmp_path / "bad.jsonl", [article(1), {"title": "no text"}])
    result = run("ingest", str(bad), "--data-dir", data)
    assert result.returncode == 2
    assert "bad.jsonl:2" in result.stderr and "text" in result.stderr
    assert "nothing was indexed" in result.stderr
    status = json.loads(run("status", "--data-dir", data).stdout)
    assert status["articles"] == 0
    missing = run("ingest", str(tmp_path / "nope"), "--data-dir", data)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    empty = run("ask", "  ", "--data-dir", data)
    assert empty.returncode == 2 and "empty" in empty.stderr
    no_index = run("ask", "hello?", "--data-dir", str(tmp_path / "none"))
    assert no_index.returncode == 2 and "newsdesk ingest" in no_index.stderr
    bad_date = run("ask", "hello?", "--after", "yesterday", "--data-dir", data)
    assert bad_date.returncode == 2 and "YYYY-MM-DD" in bad_date.stderr


def test_cli_ingest_goes_through_a_running_server(tmp_path: Path, demo_server: Server) -> None:
    """With a server owning the data directory, the CLI sends its writes to it, and the
    server answers from the new article at once."""
    path = write_jsonl(
        tmp_path / "new.jsonl",
        [
            article(
                5,
                text="Engineers in Fjordby finished a suspension bridge of 1,200 metres on Friday.",
            )
        ],
    )
    result = run("ingest", str(path), "--json", "--data-dir", str(demo_server.data_dir))
    assert result.returncode == 0, result.stderr
    assert "sending to the server" in result.stderr
    assert json.loads(result.stdout)["added"] == 1
    answer = httpx.post(
        f"{demo_server.url}/ask",
        timeout=60,
        json={"question": "What did engineers in Fjordby finish?"},
    ).json()
    assert not answer["refused"] and "bridge" in answer["answer"]
    deleted = httpx.delete(f"{demo_server.url}/articles/a5", timeout=60)
    assert deleted.status_code == 200
