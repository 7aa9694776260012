"""The command line as a user runs it: ingest summary, ask, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx

from conftest import DEMO, Server, newsdesk_command
from tests_support import ANSWER_FIELDS, article, write_jsonl


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
    assert set(cli_answer) == set(api_answer) == ANSWER_FIELDS
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


def write_bridge_stories(folder: Path) -> Path:
    """Two seed-format stories on one topic, three weeks apart (the format has no outlet)."""
    folder.mkdir()
    (folder / "repairs.txt").write_text(
        "date 2023-10-05 Marrow Bridge repairs begin\nCrews in Telvik began repairing the "
        "Marrow Bridge on Thursday, closing two of its four lanes until the work is done.\n"
    )
    (folder / "reopens.txt").write_text(
        "date 2023-10-25 Marrow Bridge reopens\nThe Marrow Bridge in Telvik reopened to all "
        "traffic on Wednesday after the repairs finished a week early.\n"
    )
    return folder


def test_ingest_source_names_the_outlet_of_articles_without_one(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    folder = write_bridge_stories(tmp_path / "articles")
    own = article(45, text="The Telvik ferry timetable changes on Monday.", source="Telvik Post")
    write_jsonl(folder / "own.jsonl", [own])
    empty = run("ingest", str(folder), "--source", "  ", "--data-dir", data)
    assert empty.returncode == 2 and "--source: the outlet name is empty" in empty.stderr
    result = run("ingest", str(folder), "--source", "Radar Online", "--json", "--data-dir", data)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["added"] == 3
    searched = run("search", "Marrow Bridge in Telvik", "--json", "--data-dir", data)
    assert searched.returncode == 0, searched.stderr
    sources = {h["title"]: h["source"] for h in json.loads(searched.stdout)}
    assert sources["Marrow Bridge repairs begin"] == sources["Marrow Bridge reopens"]
    assert sources["Marrow Bridge reopens"] == "Radar Online"
    ferry = json.loads(
        run("search", "Telvik ferry", "-k", "1", "--json", "--data-dir", data).stdout
    )
    assert ferry[0]["source"] == "Telvik Post"  # an article naming its outlet keeps it


def test_as_of_on_the_command_line(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    folder = write_bridge_stories(tmp_path / "articles")
    assert run("ingest", str(folder), "--data-dir", data).returncode == 0
    question = "What is the latest on the Marrow Bridge in Telvik?"
    asked = run("ask", question, "--as-of", "2023-10-15", "--json", "--data-dir", data)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert not answer["refused"] and "repairing" in answer["answer"]
    assert {c["title"] for c in answer["citations"]} == {"Marrow Bridge repairs begin"}
    searched = run("search", question, "--as-of", "2023-10-15", "--json", "--data-dir", data)
    assert {h["published"] for h in json.loads(searched.stdout)} == {"2023-10-05"}
    bad = run("ask", question, "--as-of", "2023-10-32", "--data-dir", data)
    assert bad.returncode == 2 and "--as-of" in bad.stderr and "YYYY-MM-DD" in bad.stderr
    early = run(
        "ask", question, "--after", "2023-10-20", "--as-of", "2023-10-15", "--data-dir", data
    )
    assert early.returncode == 2
    assert "--as-of must not be earlier than --after" in early.stderr
