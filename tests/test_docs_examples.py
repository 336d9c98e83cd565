"""Every Python example in the README and docs runs, so none can go stale.

A block preceded by a line `<!-- not-run: reason -->` is skipped (e.g. it needs a real API key or
a running MongoDB); everything else is executed with simulated models and no latency. The blocks that need
`orchestratex serve` are run against a real one (`test_the_blocks_that_need_a_server_run_against_orchestratex_serve`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestratex import RunResult

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)```", re.DOTALL)


def _blocks() -> list[tuple[str, str]]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = "\n" + path.read_text(encoding="utf-8")
        for i, match in enumerate(BLOCK.finditer(text)):
            if "not-run" in match.group("before"):
                continue
            found.append((f"{path.relative_to(ROOT)}#{i + 1}", match.group("code")))
    return found


@pytest.mark.parametrize(("where", "code"), _blocks(), ids=[w for w, _ in _blocks()])
def test_doc_example_runs(where: str, code: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    monkeypatch.chdir(tmp_path)
    # dont_inherit: compiled as a reader's script is, without this module's `from __future__ import annotations`
    # (docs/evaluation.md's contract annotated with names it never imported: a NameError for a reader, not here)
    exec(compile(code, where, "exec", dont_inherit=True), {"__name__": "__docs__"})


@pytest.mark.parametrize("where", ["README.md", "examples/quickstart.py"])
def test_the_readme_example_prints_a_run_whose_answer_no_judge_scored(
    where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's first example (and examples/quickstart.py) printed each iteration's `{it.score:.1f}`: with real
    models, an answer no judge could score (every verdict unparseable, a judge down) or an iteration whose every call
    failed has no score, and the reader's first script ended in `TypeError: unsupported format string passed to
    NoneType.__format__` instead of saying how the run went. Its printing part is run on such a run."""
    from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, ModelProfile, Orchestrator

    def answer(request: GenerationRequest) -> str:
        return "I would rather not say." if request.purpose == "judge" else "def fib(n): ..."

    catalog = ModelCatalog(ModelProfile(name=f"function:{n}", cost_per_1k_tokens=0.001) for n in ("a", "b", "c"))
    with Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog, judging="when_possible") as orchestrator:
        result = orchestrator.run_sync("Write a Python function to calculate fibonacci numbers", cost_limit=0.05)
    assert result.status == "completed" and result.orchestration.iterations[0].score is None
    if where == "README.md":
        code = next(code for at, code in _blocks() if at == "README.md#1")
    else:
        code = (ROOT / where).read_text(encoding="utf-8")
    printing = code[code.index("for it in result.orchestration.iterations") :]
    exec(compile(printing, where, "exec", dont_inherit=True), {"result": result})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("#1 function:") and " score -  $" in lines[0], lines
    assert lines[-1].startswith("error: None/10 by function:"), lines


@pytest.mark.parametrize("script", sorted((ROOT / "examples").glob("*.py")), ids=lambda p: p.name)
def test_example_script_runs(script: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    monkeypatch.chdir(tmp_path)
    exec(compile(script.read_text(encoding="utf-8"), str(script), "exec", dont_inherit=True), {"__name__": "__main__"})


# What the docs say outside their Python blocks: commands and options, environment variables, settings tables,
# links and sample log lines, each checked against the code.

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


COMMAND = re.compile(r"(?<![\w./-])orchestratex ((?:run|demo|runs|models|serve|keys)\b(?!:)[^`\n|#;&)]*)")
"""A command the docs show; not an error line quoting its program's name (`orchestratex run: error: …`)."""


def _documented_commands() -> list[tuple[str, str]]:
    """Each `orchestratex <command> …` the docs show (in code blocks and inline code alike)."""
    return [(doc.name, m.group(1).strip()) for doc in DOCS for m in COMMAND.finditer(doc.read_text(encoding="utf-8"))]


def test_every_documented_command_and_option_exists() -> None:
    from orchestratex.cli._main import build_parser

    root = build_parser()
    wrong = []
    commands = _documented_commands()
    assert len(commands) > 40  # the pattern still finds the docs' commands
    for where, line in commands:
        words = line.split()
        parser, depth = root, 0
        while depth < len(words) and words[depth] in _subcommands(parser):
            parser, depth = _subcommands(parser)[words[depth]], depth + 1
        if _subcommands(parser) and depth < len(words) and not words[depth].startswith(("-", "[")):
            wrong.append(f"{where}: unknown command {words[depth]!r} in `orchestratex {line}`")
            continue
        known = _options(parser) | _options(root)
        for word in words[depth:]:
            option = word.strip("[]").split("=")[0]
            if re.fullmatch(r"--?[a-zA-Z][\w-]*", option) and option not in known:
                wrong.append(f"{where}: `orchestratex {' '.join(words[:depth])}` has no option {option}")
    assert not wrong, "\n".join(wrong)


ENV = re.compile(r"\bORCHESTRATEX_[A-Z0-9_]+\b")
CODE_DIRS = ("src", "adapters", "tests", "benchmarks", "scripts", ".ci")


def _read_by_code() -> set[str]:
    """The `ORCHESTRATEX_*` names the code mentions (src, adapters, tests, benchmarks, scripts, CI), with every
    `ServerSettings` field as its variable."""
    from orchestratex.server import ServerSettings

    names = {f"ORCHESTRATEX_{field.upper()}" for field in ServerSettings.model_fields}
    for folder in CODE_DIRS:
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and (path.suffix in (".py", ".sh", "") and "docs" not in path.parts):
                try:
                    names |= set(ENV.findall(path.read_text(encoding="utf-8")))
                except UnicodeDecodeError:
                    continue
    return names


def test_every_documented_environment_variable_is_read_by_the_code() -> None:
    documented = {name for doc in DOCS for name in ENV.findall(doc.read_text(encoding="utf-8"))}
    unread = documented - _read_by_code()
    assert not unread, f"documented but read nowhere: {sorted(unread)}"


def test_every_variable_the_library_reads_is_in_the_operate_pages_table() -> None:
    from orchestratex.server import ServerSettings

    src = {n for p in (ROOT / "src").rglob("*.py") for n in ENV.findall(p.read_text(encoding="utf-8"))}
    src |= {f"ORCHESTRATEX_{field.upper()}" for field in ServerSettings.model_fields}
    src.discard("ORCHESTRATEX_")  # the prefix itself
    table = set(re.findall(r"^\| `(ORCHESTRATEX_[A-Z0-9_]+)`", (ROOT / "docs" / "operate.md").read_text(), re.M))
    missing = src - table
    assert not missing, f"read by the library but not in docs/operate.md's environment variables: {sorted(missing)}"


def _default_shown(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@pytest.mark.parametrize(("page", "column"), [("server.md", 2), ("operate.md", 3)])
def test_the_server_settings_tables_give_the_real_defaults(page: str, column: int) -> None:
    from orchestratex.server import ServerSettings

    rows = re.findall(r"^\| `ORCHESTRATEX_([A-Z0-9_]+)` \|(.*)$", (ROOT / "docs" / page).read_text(), re.M)
    checked = 0
    for name, rest in rows:
        field = ServerSettings.model_fields.get(name.lower())
        if field is None or name in ("RESUME_INTERVAL_S", "PRESETS", "CORS_ORIGINS"):
            continue  # not a ServerSettings field, or a default written in words
        shown = rest.split("|")[column - 2].strip().strip("`")
        assert shown == _default_shown(field.default), f"{page}: ORCHESTRATEX_{name} shows {shown}"
        checked += 1
    assert checked >= 20


def _slug(heading: str) -> str:
    """A heading's anchor, as mkdocs' `toc` extension makes it (Python-Markdown's `slugify`)."""
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", text).strip().lower())


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    found: set[str] = set(re.findall(r'id="([^"]+)"', text))
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*$", text, re.M):
        plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.replace("`", ""))
        found.add(_slug(plain))
    return found


def test_every_public_name_of_the_api_reference_says_what_it_does() -> None:
    """docs/reference/index.md renders its `:::` objects and their public members, as mkdocstrings reads them (griffe,
    the mkdocs.yml filters), and leaves out a member without a docstring: 160 were missing from the reference
    (`RunResult.final_score`, `Orchestrator.router`, `BayesianRouter.select`, most fields of the records and events)."""
    import griffe

    shown = re.search(r"^ +filters: (\[.*\])", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.M)
    assert shown, "mkdocs.yml no longer gives mkdocstrings' filters"
    assert all(f.startswith("!") for f in json.loads(shown.group(1)))
    filters = [re.compile(f.removeprefix("!")) for f in json.loads(shown.group(1))]
    loader = griffe.GriffeLoader(search_paths=[str(ROOT / "src")])
    package = loader.load("orchestratex")
    loader.resolve_aliases(external=False, implicit=False)
    undocumented: list[str] = []

    def walk(obj: Any, members: bool = True) -> None:
        obj = obj.final_target if obj.is_alias else obj
        if not obj.docstring:
            undocumented.append(obj.path)
        if members and (obj.is_class or obj.is_module):
            for name, member in obj.members.items():  # (its own members: an imported name is rendered where it is made)
                dunder = name.startswith("__") and name.endswith("__")
                if not member.is_alias and not dunder and not any(f.search(name) for f in filters):
                    walk(member)

    page = (ROOT / "docs" / "reference" / "index.md").read_text(encoding="utf-8")
    targets = re.findall(r"^::: orchestratex\.(\S+)\n((?: +.*\n)*)", page, re.M)  # (with the options under it)
    assert len(targets) > 10
    for target, options in targets:
        walk(package[target], members="members: false" not in options)
    assert not undocumented, "no docstring: " + ", ".join(undocumented)


def test_the_api_reference_shows_every_name_the_package_exports() -> None:
    """`from orchestratex import …` offers 55 names; the reference showed 34 of them (directly, or in a module it
    renders): `GenerationRequest`, `Generation`, `Message`, `Usage` (what a `FunctionProvider` is given and returns),
    `Task` and `RoutingFeedback` (a router's), `EvaluationTask`, the policies and `RunStream` were nowhere."""
    import griffe

    import orchestratex

    loader = griffe.GriffeLoader(search_paths=[str(ROOT / "src")])
    package = loader.load("orchestratex")
    loader.resolve_aliases(external=False, implicit=False)
    shown: set[str] = set()
    for target in re.findall(
        r"^::: orchestratex\.(\S+)$", (ROOT / "docs" / "reference" / "index.md").read_text(), re.M
    ):
        obj = package[target].final_target if package[target].is_alias else package[target]
        shown |= {obj.path, *(m.path for m in obj.members.values() if obj.is_module and not m.is_alias)}
    missing = [n for n in orchestratex.__all__ if not n.startswith("__") and package[n].final_target.path not in shown]
    assert not missing, f"exported but not in docs/reference/index.md: {missing}"


REPO_URL = "https://github.com/orchestratex/orchestratex/blob/main/"


def test_every_link_to_a_page_and_its_anchor_resolves() -> None:
    broken = []
    for page in DOCS:
        text = FENCE.sub("", page.read_text(encoding="utf-8"))
        for link in re.findall(r"\]\(([^)\s]+)\)|href=\"([^\"]+)\"", text):
            link = link[0] or link[1]  # (a Markdown link, or an HTML one: GitHub shows the page's file too)
            if link.startswith(REPO_URL):
                path, _, anchor = link[len(REPO_URL) :].partition("#")
                target = ROOT / path
            elif link.startswith(("http://", "https://", "mailto:")):
                continue
            else:
                path, _, anchor = link.partition("#")
                target = (page.parent / path).resolve() if path else page
            if not target.exists():
                broken.append(f"{page.relative_to(ROOT)}: {link} (no such file)")
            elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
                broken.append(f"{page.relative_to(ROOT)}: {link} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_operate_pages_sample_log_lines_have_the_real_fields_in_order(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestratex import Orchestrator

    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    samples = {
        m.group(1): re.findall(r"(\w+)=", m.group(2))
        for m in re.finditer(r"^orchestratex\.\w+ INFO (\w+) (.*)$", (ROOT / "docs" / "operate.md").read_text(), re.M)
    }
    assert set(samples) == {"routing", "model_call", "verdict", "stop"}
    with caplog.at_level(logging.INFO, logger="orchestratex"):
        Orchestrator(simulate=True).run_sync("Write a haiku about the sea", max_iterations=1)
    real: dict[str, list[str]] = {}
    for record in caplog.records:
        event, _, fields = record.getMessage().partition(" ")
        if event in samples and event not in real:
            real[event] = re.findall(r"(?:^| )(\w+)=", fields)
    for event, documented in samples.items():
        assert real[event] == documented, f"docs/operate.md's {event} line: {documented}, a run logs {real[event]}"


def test_the_testing_pages_conftest_and_live_marker_work_in_a_strict_suite(tmp_path: Path) -> None:
    """A suite set up as docs/testing.md says, under `--strict-markers` and warnings as errors: a test marked
    `live` keeps the provider keys, the others do not see them."""
    import os
    import subprocess
    import sys

    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    conftest = re.search(r"```python\n(# conftest.py\nfrom orchestratex.testing.fixtures .*?)```", text, re.S)
    config = re.search(r"```toml\n(# pyproject.toml[^\n]*\n\[tool.pytest.ini_options\]\nmarkers = .*?)```", text, re.S)
    assert conftest and config, "docs/testing.md no longer shows the fixtures' conftest.py and the live marker"
    (tmp_path / "conftest.py").write_text(conftest.group(1), encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(config.group(1), encoding="utf-8")
    (tmp_path / "test_mine.py").write_text(
        "import os\n\nimport pytest\n\n\n"
        "def test_offline() -> None:\n    assert 'OPENAI_API_KEY' not in os.environ\n\n\n"
        "@pytest.mark.live\ndef test_real() -> None:\n    assert os.environ['OPENAI_API_KEY'] == 'sk-test'\n",
        encoding="utf-8",
    )
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *"-q -p no:cacheprovider -p no:asyncio --strict-markers -W error".split()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


SET_BY_TOOLS = {"MONGODB_URI"}  # (set by `mongodb-runner exec` for the command it runs)


def test_every_shell_variable_a_page_uses_is_set_on_that_page() -> None:
    """A reader who copies a page's commands in order has every `$VAR` they use (the README's server
    commands sent `Bearer $KEY` with no `KEY=` anywhere)."""
    unset = []
    for page in DOCS:
        defined: set[str] = set(SET_BY_TOOLS)
        for code in re.findall(r"```(?:bash|sh|shell)\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
            defined |= set(re.findall(r"(?:^|\s)([A-Z][A-Z0-9_]*)=", code, re.M))
            unset += [
                f"{page.relative_to(ROOT)}: ${v}"
                for v in re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", code)
                if v not in defined
            ]
    assert not unset, "\n".join(unset)


def test_the_budget_example_shows_the_money_running_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """examples/budget_and_events.py promises "what happens when the money runs out": a run stops on its budget,
    says why, and the session spends no more than its limit (with $0.02 every run ended on its score)."""
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    monkeypatch.chdir(tmp_path)
    script = ROOT / "examples" / "budget_and_events.py"
    exec(compile(script.read_text(encoding="utf-8"), str(script), "exec", dont_inherit=True), {"__name__": "__main__"})
    lines = capsys.readouterr().out.splitlines()
    stopped = [i for i, line in enumerate(lines) if re.match(r"\S.{31} budget +\$", line)]
    assert stopped, "\n".join(lines)
    assert "fits the $" in lines[stopped[0] + 1]
    assert lines[-1].startswith("session spent $") and lines[-1].endswith(" of $0.0015")


def _judged_by(verdict: str) -> RunResult:
    """A run of two scripted models whose judge answers `verdict`, as text (not JSON)."""
    from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, ModelProfile, Orchestrator

    def answer(request: GenerationRequest) -> str:
        return verdict if request.purpose == "judge" else "An answer."

    catalog = ModelCatalog(ModelProfile(name=f"function:{n}", cost_per_1k_tokens=0.001) for n in ("a", "b"))
    with Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog) as orchestrator:
        return orchestrator.run_sync("Say something true.", max_iterations=1, evaluation_threshold=8)


@pytest.mark.parametrize(
    ("verdict", "score", "feedback"),
    [
        ("**Score:** 8.5\n\n**Feedback:** Add a test for None.", 8.5, "Add a test for None."),
        ("**Score**: 9\n**Feedback**: Fine.", 9.0, "Fine."),
        ("Score: **8**\nFeedback: Fine.", 8.0, "Fine."),
        ("Score: 8/10\nFeedback: a score: 9 would need tests.", 8.0, "a score: 9 would need tests."),
    ],
)
def test_the_evaluation_pages_markdown_verdicts_are_read(verdict: str, score: float, feedback: str) -> None:
    """docs/evaluation.md: a judge's plain-text verdict is read with its Markdown emphasis (`**Score:** 8.5` was
    "no score found": the answer, paid for, failed unjudged), and a score inside the feedback is not a second one."""
    from orchestratex.evaluation import parse_verdict

    assert parse_verdict(verdict) == (score, feedback)
    result = _judged_by(verdict)
    assert result.status == "completed" and result.final_score == score


@pytest.mark.parametrize("verdict", ["Initial score: 4. Final score: 8.", "Score: 7. On reflection, rating: 9/10."])
def test_the_evaluation_pages_disagreeing_prose_scores_are_refused(verdict: str) -> None:
    """docs/evaluation.md: prose giving several scores that disagree is a failed verdict, never a wrong score (the
    first score word was read: 4 for a judge that concluded 8)."""
    from orchestratex import EvaluationError
    from orchestratex.evaluation import parse_verdict

    with pytest.raises(EvaluationError, match="several scores"):
        parse_verdict(verdict)
    result = _judged_by(verdict)
    assert result.status == "failed" and "several scores" in (result.error or "")


ANSWER = "RAID 5 stripes data and parity."


@contextlib.contextmanager
def _stand_in_ollama(served: set[str]) -> Iterator[str]:
    """An OpenAI-compatible server on 127.0.0.1 (its base URL, `/v1` included) that answers Chat Completions for the
    model ids in `served`, a judge's request with a verdict, and 404 for any other model, as Ollama does."""

    class Ollama(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            answer: dict[str, object]
            if body["model"] not in served:
                status, answer = 404, {"error": {"message": f"model {body['model']!r} not found"}}
            else:
                judge = "feedback" in json.dumps(body["messages"])
                content = json.dumps({"score": 9, "feedback": "Right."}) if judge else ANSWER
                status, answer = (
                    200,
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30},
                    },
                )
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ollama)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _without_providers(environ: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v for k, v in environ.items() if not k.endswith(("_API_KEY", "_BASE_URL")) and k != "ORCHESTRATEX_CATALOG"
    }


def test_the_openai_pages_base_url_recipe_completes_a_run(tmp_path: Path) -> None:
    """docs/providers/openai.md, "Point the `openai` provider at it": `OPENAI_BASE_URL` and the page's catalog file,
    then `orchestratex run`, against a stand-in for Ollama that serves only the file's models. (The page's former
    catalog, one `openai:` model over the shipped ones, sent the shipped models to the server, which answered 404,
    and left the answer with no judge: the run failed.)"""
    text = (ROOT / "docs" / "providers" / "openai.md").read_text(encoding="utf-8")
    catalog = re.search(r"```toml\n(# ~/models\.toml: .*?)```", text, re.S)
    assert catalog, "docs/providers/openai.md no longer shows the catalog file for OPENAI_BASE_URL"
    (tmp_path / "models.toml").write_text(catalog.group(1), encoding="utf-8")
    with _stand_in_ollama(set(re.findall(r'^name = "openai:([^"]+)"', catalog.group(1), re.M))) as base_url:
        env = _without_providers(os.environ) | {
            "PYTHONPATH": os.pathsep.join(sys.path),
            "OPENAI_BASE_URL": base_url,
            "ORCHESTRATEX_CATALOG": str(tmp_path / "models.toml"),
            "ORCHESTRATEX_STORE_URL": f"sqlite:///{tmp_path / 'runs.db'}",
        }
        done = subprocess.run(
            [sys.executable, "-m", "orchestratex", "run", "Explain RAID 5", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "completed" and result["final_response"] == ANSWER


def test_the_openai_pages_ollama_example_runs_with_ollama_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/providers/openai.md, "Catalog entries": the page's `models.toml` and its example, with `OLLAMA_BASE_URL`
    set and no other provider, as the example says. (With one Ollama model in the file the run was refused: "no
    model can judge the answers of ollama:llama3.2".)"""
    text = (ROOT / "docs" / "providers" / "openai.md").read_text(encoding="utf-8")
    catalog = re.search(r"```toml\n(# models\.toml\n.*?)```", text, re.S)
    example = re.search(r"<!-- not-run: needs a running Ollama server[^\n]*\n```python\n(.*?)```", text, re.S)
    assert catalog and example, "docs/providers/openai.md no longer shows models.toml and the Ollama example"
    (tmp_path / "models.toml").write_text(catalog.group(1), encoding="utf-8")
    import orchestratex.providers

    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local stand-in, not a vendor
    monkeypatch.chdir(tmp_path)
    for name in set(os.environ) - set(_without_providers(os.environ)):
        monkeypatch.delenv(name)
    with _stand_in_ollama(set(re.findall(r'^name = "ollama:([^"]+)"', catalog.group(1), re.M))) as base_url:
        monkeypatch.setenv("OLLAMA_BASE_URL", base_url)
        scope: dict[str, object] = {"__name__": "__docs__"}
        exec(compile(example.group(1), "docs/providers/openai.md (Ollama)", "exec", dont_inherit=True), scope)
        scope["orchestrator"].close()  # type: ignore[attr-defined]
    result = scope["result"]
    assert isinstance(result, RunResult)
    assert result.status == "completed", result.error
    assert result.final_model == "ollama:llama3.2" and result.final_response == ANSWER


def test_the_server_pages_list_routes_give_the_real_limit_and_offset_ranges() -> None:
    """docs/server.md's routes table gives the ranges of `limit` and `offset` that the list routes take (it did not say
    that an `offset` past 1,000,000 answers 422)."""
    from orchestratex.server._schemas import Limit, Offset

    def bounds(alias: object) -> tuple[int, int]:
        query = alias.__metadata__[0]  # type: ignore[attr-defined]
        low = next(m.ge for m in query.metadata if hasattr(m, "ge"))
        high = next(m.le for m in query.metadata if hasattr(m, "le"))
        return low, high

    text = (ROOT / "docs" / "server.md").read_text(encoding="utf-8")
    row = re.search(r"^\| `GET /api/sessions/user/\{user_id\}\?limit=&offset=` \|(.*)$", text, re.M)
    assert row, "docs/server.md's routes table lost the user's sessions row"
    shown = {
        name: (int(a.replace(",", "")), int(b.replace(",", "")))
        for name, a, b in re.findall(r"`(limit|offset)`[^(]*\((?:`offset` )?([\d,]+) to ([\d,]+)", row.group(1))
    }
    assert shown == {"limit": bounds(Limit), "offset": bounds(Offset)}


def test_the_providers_pages_model_of_a_provider_not_in_use_is_refused_saying_so(tmp_path: Path) -> None:
    """docs/providers/index.md: with only OPENAI_API_KEY set, `--models gpt4,claude` (the docs' and the spec's
    preferred models) said "unknown model 'claude'", though the catalog page lists `claude`: it now says whose model it
    is and that its provider is not in use. (No request is made: the run is refused before it starts.)"""
    from orchestratex import FunctionProvider, Orchestrator
    from orchestratex.exceptions import UnknownModelError

    env = _without_providers(os.environ) | {
        "PYTHONPATH": os.pathsep.join(sys.path),
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",  # (nothing listens there: no request could reach a vendor)
        "ORCHESTRATEX_STORE_URL": f"sqlite:///{tmp_path / 'runs.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "orchestratex", "run", "Hello", "--models", "gpt4,claude"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(
        "orchestratex: error: model 'claude' is anthropic:claude-sonnet-5-5, whose provider 'anthropic' is not in use"
    ), done.stderr
    assert "in use: openai)" in done.stderr and "usable models: openai:gpt-4.1" in done.stderr

    with Orchestrator(providers=[FunctionProvider(str, name="openai")]) as orchestrator:
        with pytest.raises(UnknownModelError, match=r"^model 'claude' is anthropic:claude-sonnet-5-5, whose provider"):
            orchestrator.run_sync("Hello", preferred_models=["gpt4", "claude"])
        with pytest.raises(UnknownModelError, match=r"^unknown model 'gpt-17'; known models: openai:"):
            orchestrator.run_sync("Hello", preferred_models=["gpt-17"])


def test_the_cli_pages_runs_show_gives_the_cost_limit_of_a_run(tmp_path: Path) -> None:
    """docs/cli.md: `runs show ID` shows the run's settings; a run made with `--cost-limit 0.5` (a limit its session
    carries) showed `cost limit none`, and `--cost-limit 0` too, though the run had stopped on that budget."""
    env = _without_providers(os.environ) | {
        "PYTHONPATH": os.pathsep.join(sys.path),
        "ORCHESTRATEX_SIM_LATENCY_SCALE": "0",
        "ORCHESTRATEX_STORE_URL": f"sqlite:///{tmp_path / 'runs.db'}",
    }

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "orchestratex", *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode in (0, 1), done.stderr
        return done.stdout

    for limit, shown in (("0.5", "cost limit $0.5 for its session"), ("0", "cost limit $0 for its session")):
        run = json.loads(cli("run", "Say hello", "--cost-limit", limit, "--max-iterations", "1", "--json"))
        settings = next(line for line in cli("runs", "show", run["_id"]).splitlines() if line.startswith("settings:"))
        assert settings == f"settings: up to 1 iteration · threshold 8/10 · {shown} · models all"


def test_the_orchestrator_pages_follow_up_runs_in_its_threads_context(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "Now in one paragraph" was run with `session=` alone: a new thread, answered without the question it follows
    (code,) = [c for where, c in _blocks() if where.startswith("docs/orchestrator.md") and "Now in one paragraph" in c]
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/orchestrator.md", "exec", dont_inherit=True), {"__name__": "__docs__"})
    assert capsys.readouterr().out.splitlines() == ["['user', 'assistant', 'user']", "True True"]


def test_the_openai_pages_ollama_models_do_not_claim_more_context_than_ollama_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/providers/openai.md, "Catalog entries": the page gave `ollama:llama3.2` the model's own window (131,072
    tokens), while Ollama serves 4,096 unless told otherwise and its OpenAI-compatible API cuts a longer prompt
    without a word: a prompt of 20,000 tokens was sent there and answered from its cut end. With the page's file
    such a prompt now never reaches the server."""
    text = (ROOT / "docs" / "providers" / "openai.md").read_text(encoding="utf-8")
    catalog = re.search(r"```toml\n(# models\.toml\n.*?)```", text, re.S)
    assert catalog, "docs/providers/openai.md no longer shows models.toml"
    (tmp_path / "models.toml").write_text(catalog.group(1), encoding="utf-8")
    import orchestratex.providers
    from orchestratex import ModelCatalog, Orchestrator
    from orchestratex.exceptions import UserError

    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local stand-in, not a vendor
    for name in set(os.environ) - set(_without_providers(os.environ)):
        monkeypatch.delenv(name)
    sent: list[int] = []
    with _stand_in_ollama(set(re.findall(r'^name = "ollama:([^"]+)"', catalog.group(1), re.M))) as base_url:
        monkeypatch.setenv("OLLAMA_BASE_URL", base_url)
        catalog_file = ModelCatalog.default().merge_file(tmp_path / "models.toml")
        orchestrator = Orchestrator(catalog=catalog_file)
        original = orchestrator.providers["ollama"].generate

        async def counted(request: Any) -> Any:
            sent.append(sum(len(m.content) for m in request.messages) // 4)
            return await original(request)

        monkeypatch.setattr(orchestrator.providers["ollama"], "generate", counted)
        try:
            orchestrator.run_sync("word " * 16_000, preferred_models=["ollama:llama3.2"])
        except UserError as refused:
            assert "context window" in str(refused)
        finally:
            orchestrator.close()
    assert all(tokens <= 4096 for tokens in sent), sent


def test_the_catalog_pages_watched_catalog_app_takes_the_keys_the_cli_creates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/catalog.md's app serving a watched catalog file was `create_app(orchestrator=Orchestrator(catalog=…))`: an
    orchestrator given no store keeps everything in memory, so every key `orchestratex keys create` made was unknown
    there and each request answered 401 'unknown API key (create one with `orchestratex keys create USER_ID`)', the
    very command the reader had run. The page's block is served on the CLI's store, with a key the CLI made."""
    from fastapi.testclient import TestClient

    text = "\n" + (ROOT / "docs" / "catalog.md").read_text(encoding="utf-8")
    code = next(m.group("code") for m in BLOCK.finditer(text) if "watch=True" in m.group("code"))
    store_url = f"sqlite:///{tmp_path / 'runs.db'}"
    env = _without_providers(os.environ) | {
        "PYTHONPATH": os.pathsep.join(sys.path),
        "ORCHESTRATEX_STORE_URL": store_url,
    }
    made = subprocess.run(
        [sys.executable, "-m", "orchestratex", "keys", "create", "alice"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    (tmp_path / "models.toml").write_text(
        '[[models]]\nname = "openai:my-model"\ninput_cost_per_1k = 0.001\noutput_cost_per_1k = 0.002\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    for name in os.environ.keys() - env.keys():  # (no provider key: the simulator serves the file's model)
        monkeypatch.delenv(name)
    monkeypatch.setenv("ORCHESTRATEX_STORE_URL", store_url)
    scope: dict[str, Any] = {"__name__": "__docs__"}
    exec(compile(code, "docs/catalog.md", "exec", dont_inherit=True), scope)
    with TestClient(scope["app"]) as client:
        answer = client.get("/api/models/openai:my-model", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["input_cost_per_1k"] == 0.001


def test_the_server_pages_embedded_app_takes_a_key_made_as_the_page_says(tmp_path: Path) -> None:
    """docs/server.md's embedded app runs on `sqlite:///orchestratex.db`, after a page whose keys were made with
    `orchestratex keys create alice`: that key is in the default store (the data directory's file), so every request
    to the app answered 401 'unknown API key (create one with `orchestratex keys create USER_ID`)'. The page now gives
    the command that makes a key for that app; run as a process where the app runs, its key is taken."""
    from fastapi.testclient import TestClient

    text = (ROOT / "docs" / "server.md").read_text(encoding="utf-8")
    code = next(code for at, code in _blocks() if at.startswith("docs/server.md#") and "store_url=" in code)
    command = re.search(r"`orchestratex (keys create alice --store (\S+))` \(run where", text)
    assert command, "docs/server.md no longer says how to make a key for the embedded app"
    assert f'store_url="{command.group(2)}"' in code
    env = _without_providers(os.environ) | {"PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("ORCHESTRATEX_STORE_URL", None)
    made = subprocess.run(
        [sys.executable, "-m", "orchestratex", *command.group(1).split()],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    with contextlib.chdir(tmp_path):
        scope: dict[str, Any] = {"__name__": "__docs__"}
        exec(compile(code, "docs/server.md", "exec", dont_inherit=True), scope)
        with TestClient(scope["app"]) as client:
            answer = client.get("/api/sessions/user/alice", headers={"Authorization": f"Bearer {made.stdout.strip()}"})
    assert answer.status_code == 200, answer.text


def test_the_api_references_cancel_says_what_it_returns_and_raises() -> None:
    """The API reference's `Orchestrator.cancel` said neither what its bool means nor that a cancel the store does not
    take raises `StoreUnavailable` (the run NOT cancelled), which a caller must catch to know its run goes on. What
    it now says is checked here: True for a run it ended, False for one already ended or unknown to the store."""
    from orchestratex import Orchestrator

    doc = Orchestrator.cancel.__doc__ or ""
    assert "Returns True when it ended the run" in doc and "Raises `StoreUnavailable`" in doc, doc

    async def check() -> None:
        async with Orchestrator(simulate=True) as orchestrator:
            prepared = await orchestrator.prepare("Explain tides")
            assert await orchestrator.cancel(prepared.id) is True
            assert (await orchestrator.store.get_orchestration(prepared.id)).status == "cancelled"
            assert await orchestrator.cancel(prepared.id) is False
            assert await orchestrator.cancel("0" * 24) is False

    asyncio.run(check())


def test_the_cli_pages_result_lines_count_iterations_as_run_prints_them() -> None:
    """docs/cli.md showed a failed run's line as `✘ error after 1 iterations`; `orchestratex run` prints `after 1
    iteration` (and `0 iterations`, `2 iterations`). Every `✔`/`✘` line the page shows counts them as `run` does."""
    from orchestratex.cli._live import _iterations

    text = " ".join((ROOT / "docs" / "cli.md").read_text(encoding="utf-8").split())
    shown = re.findall(r"[✔✘] \w+ (?:[^`]*? )?after (\d+ iterations?) ·", text)
    assert shown, "docs/cli.md shows no result line"
    assert [n for n in shown if n != _iterations(int(n.split()[0]))] == []


def test_the_cli_pages_transcripts_start_in_the_domain_run_detects() -> None:
    """docs/cli.md's Ctrl-C transcript ran "Write a parser for ISO dates" and showed `▶ started   domain coding`; `run`
    detects that prompt as `general`, so the reader's first line differed from the page's. Each transcript's first
    line gives the domain `run` detects for its prompt."""
    from orchestratex.domains import detect_domain

    shown = [
        (m.group(1), m.group(2))
        for doc in DOCS
        for m in re.finditer(
            r'^\$ orchestratex run "([^"]+)"\n▶ started +domain (\S+)', doc.read_text(encoding="utf-8"), re.M
        )
    ]
    assert shown, "no page shows a run's transcript"
    assert [(prompt, domain) for prompt, domain in shown if detect_domain(prompt) != domain] == []


def test_the_events_page_names_the_class_of_each_event() -> None:
    """docs/events.md listed the six events by their `type` only: `OrchestrationStarted`, `EvaluationCompleted`, … (what
    `from orchestratex import …` offers, what `isinstance` and a `match` statement take, and what a type checker narrows
    `Event` to) and `EventHandler` (a handler's type) were on no page but the API reference. Each row of the page's
    table now names its event's class beside its `type`, and the handlers' section its type."""
    import typing

    import orchestratex
    from orchestratex import events

    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z_]+)` \(`(\w+)`\) \|", text, re.M)}
    classes = typing.get_args(typing.get_args(events.Event)[0])
    assert {cls.model_fields["type"].default: cls.__name__ for cls in classes} == rows
    assert all(getattr(orchestratex, cls.__name__) is cls for cls in classes)  # (as the page says: importable)
    assert "`EventHandler`" in text.split("## Handlers", 1)[1].split("##", 1)[0]


SERVED = "not-run: needs `orchestratex serve` on 127.0.0.1:8000"
"""The reason that leaves a block to `test_the_blocks_that_need_a_server_run_against_orchestratex_serve`."""


def _served_blocks() -> dict[str, str]:
    """Each page's blocks that need a server, joined in page order (the openai SDK's streaming block uses the `client`
    of the block before it, as a reader running them in turn has it)."""
    found: dict[str, str] = {}
    for path in DOCS:
        text = "\n" + path.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            if SERVED in match.group("before"):
                where = str(path.relative_to(ROOT))
                found[where] = found.get(where, "") + match.group("code")
    return found


@pytest.mark.slow
def test_the_blocks_that_need_a_server_run_against_orchestratex_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/openai-compatible.md's openai SDK blocks and docs/server.md's httpx + websockets client were left out of the
    runs above (they need a server), so nothing checked them as written: each page's are run here against a real
    `orchestratex serve`, with its port for 8000 and a key the CLI made for `ox_...`."""
    from .server.server_process import ServerProcess, create_key

    blocks = _served_blocks()
    assert set(blocks) == {"docs/openai-compatible.md", "docs/server.md"}, sorted(blocks)
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    monkeypatch.chdir(tmp_path)
    with ServerProcess(url, tmp_path, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}) as server:
        for where, code in blocks.items():
            assert code.count("127.0.0.1:8000") >= 1 and code.count('"ox_..."') >= 1, where
            code = code.replace("127.0.0.1:8000", f"127.0.0.1:{server.port}").replace('"ox_..."', repr(key))
            exec(compile(code, where, "exec", dont_inherit=True), {"__name__": "__docs__"})
            printed = capsys.readouterr().out.splitlines()
            if where == "docs/server.md":  # each event of the run, its last the run's end
                assert printed[0] == "1 orchestration_started" and printed[-1].endswith("orchestration_completed")
            else:  # the answer, its model, its tokens, the extension field; then the streamed answer
                extension = next(line for line in printed if line.startswith("{'orchestration_id': "))
                assert "'status': 'completed'" in extension and printed[-1].startswith("[simulated by OrchestrateX")


def test_the_routing_pages_fitted_router_line_runs_as_written_on_the_file_the_page_saves(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """docs/routing.md's "Choosing a threshold" ends with `Orchestrator(router=FittedRouter.load("router.npz"), …)`,
    left out of the runs (it needs a router file) and written without its imports: copied into a script, or after the
    page's block that saves router.npz (which imports FittedRouter but not Orchestrator), it failed with `NameError:
    name 'Orchestrator' is not defined`. It is run here, as a script of its own, on the file that block saves."""
    from orchestratex.routing.fitted import FittedRouter

    blocks = list(BLOCK.finditer("\n" + (ROOT / "docs" / "routing.md").read_text(encoding="utf-8")))
    (line,) = [m.group("code") for m in blocks if 'FittedRouter.load("router.npz"), max_iterations' in m.group("code")]
    saves = next(m.group("code") for m in blocks if 'router.save("router.npz")' in m.group("code"))
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    monkeypatch.chdir(tmp_path)
    exec(compile(saves, "docs/routing.md", "exec", dont_inherit=True), {"__name__": "__docs__"})
    scope: dict[str, Any] = {"__name__": "__docs__"}
    exec(compile(line, "docs/routing.md", "exec", dont_inherit=True), scope)
    assert isinstance(scope["orchestrator"].router, FittedRouter)
    assert scope["orchestrator"].run_sync("Q7\n\nwhat colour is the sky").status == "completed"


@pytest.mark.parametrize("reason", ["configures the process's root logger", "configures the process's logging"])
def test_the_operate_pages_logging_blocks_show_a_runs_lines(reason: str, tmp_path: Path) -> None:
    """docs/operate.md's two logging set-ups were left out of the runs (each configures its process's logging): each
    is run here in a process of its own, as a script's first lines, before a run: the page's log lines come out."""
    text = "\n" + (ROOT / "docs" / "operate.md").read_text(encoding="utf-8")
    (code,) = [m.group("code") for m in BLOCK.finditer(text) if f"not-run: {reason}" in m.group("before")]
    script = (
        code + '\nfrom orchestratex import Orchestrator\n\nOrchestrator().run_sync("Write a haiku", max_iterations=1)\n'
    )
    env = _without_providers(os.environ) | {
        "PYTHONPATH": os.pathsep.join(sys.path),
        "ORCHESTRATEX_SIM_LATENCY_SCALE": "0",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    if "JsonFormatter" in code:
        events = [json.loads(line)["event"] for line in lines]
    else:
        events = [m.group(1) for line in lines if (m := re.search(r" orchestratex\.\w+ INFO (\w+) ", line))]
        assert len(events) == len(lines), lines
    assert events[0] == "orchestration_started" and "routing" in events and "verdict" in events, lines
    assert events[-1] == "stop", lines


def _bash_against(port: int, store_url: str, block: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A page's bash block run as written (stopping at a failed command) against the server on `port` for the page's
    8000, `orchestratex` being this interpreter's, on the server's store."""
    return _bash_run("set -e\n" + block.replace(":8000", f":{port}"), store_url, cwd)


def _bash_run(block: str, store_url: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`block` run by bash, `orchestratex` being this interpreter's, on the store of `store_url`."""
    script = 'orchestratex() { "$PYTHON" -m orchestratex "$@"; }\n' + block
    env = _without_providers(os.environ) | {
        "PYTHONPATH": os.pathsep.join(sys.path),
        "PYTHON": sys.executable,
        "ORCHESTRATEX_STORE_URL": store_url,
    }
    done = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 or not check, done.stdout + done.stderr
    return done


def _json_objects(text: str) -> list[dict[str, Any]]:
    """The JSON objects in `text`, written one after another with or without white space or other lines between them."""
    found, decoder, at = [], json.JSONDecoder(), text.find("{")
    while at >= 0:
        value, end = decoder.raw_decode(text, at)
        found.append(value)
        at = text.find("{", end)
    return found


@pytest.mark.slow
def test_the_server_pages_walk_through_runs_as_written_against_orchestratex_serve(tmp_path: Path) -> None:
    """docs/server.md's walk through the API sent the ids of its sample answers (`"session_id": "68b2c9fa…"`,
    `/api/orchestration/status/68b2c9fc…`): pasted as written, every command after the first was answered 404 or 422,
    and no run started. Its commands, in bash against a real `orchestratex serve` (its port for 8000, its store for
    `keys create`), now each get a record and start a run that completes."""
    from .server.server_process import ServerProcess

    text = (ROOT / "docs" / "server.md").read_text(encoding="utf-8")
    found = re.search(r"^## A walk through the API\n\n```bash\n(.*?)```", text, re.S | re.M)
    assert found, "docs/server.md no longer walks through the API in a bash block"
    url = f"sqlite:///{tmp_path / 'server.db'}"
    with ServerProcess(url, tmp_path, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}) as server:
        done = _bash_against(server.port, url, found.group(1) + 'echo "run: $RUN key: $KEY"\n', tmp_path)
        answers = _json_objects(done.stderr) + _json_objects(done.stdout)  # (curl ends no answer with a line break)
        assert len(answers) == 6 and not [a for a in answers if "status_code" in a], answers  # (no error's body)
        run, key = re.findall(r"run: (\S+) key: (\S+)$", done.stdout, re.M)[0]
        status: dict[str, Any] = {}
        for _ in range(600):  # (up to a minute on a loaded machine; the run takes well under a second)
            status = httpx.get(
                f"{server.base_url}/api/orchestration/status/{run}", headers={"Authorization": f"Bearer {key}"}
            ).json()
            if status["status"] not in ("pending", "running"):
                break
            time.sleep(0.1)
        assert status["status"] == "completed", status


@pytest.mark.slow
def test_the_openai_pages_curl_commands_run_as_written_against_orchestratex_serve(tmp_path: Path) -> None:
    """docs/openai-compatible.md's curl block began `KEY=ox_...`: pasted as written, each call was answered 401
    `invalid_api_key`. Its commands, in bash against a real `orchestratex serve`, now get a completion, a stream that
    ends `data: [DONE]`, and the model list."""
    from .server.server_process import ServerProcess

    text = (ROOT / "docs" / "openai-compatible.md").read_text(encoding="utf-8")
    found = re.search(r"^## curl\n\n```bash\n(.*?)```", text, re.S | re.M)
    assert found, "docs/openai-compatible.md no longer shows its curl commands"
    url = f"sqlite:///{tmp_path / 'server.db'}"
    with ServerProcess(url, tmp_path, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}) as server:
        out = _bash_against(server.port, url, found.group(1), tmp_path).stdout
    completion = json.JSONDecoder().raw_decode(out, out.index("{"))[
        0
    ]  # (the first answer, with no line break after it)
    assert completion["object"] == "chat.completion" and completion["orchestratex"]["status"] == "completed", out
    assert "data: [DONE]" in out and '"object": "list"' in out, out


def test_the_errors_page_names_every_error_class_a_traceback_shows() -> None:
    """docs/errors.md draws "every error OrchestrateX raises" from `orchestratex.exceptions`, but a test that forgot its
    test double fails with `RequestsBlocked` (`ALLOW_MODEL_REQUESTS = False`), a `FunctionProvider` returning a dict
    with `FunctionMisused`, and `drive(id)` of a run begun on the other kind of models with `OtherModels`: a reader
    looking up the name their traceback shows found it on no page. Each class of the package is in the page's tree."""
    import importlib
    import pkgutil

    import orchestratex
    from orchestratex.exceptions import OrchestrateXError

    for module in pkgutil.walk_packages(orchestratex.__path__, "orchestratex."):
        if not module.name.endswith("__main__") and ".lab" not in module.name:
            importlib.import_module(module.name)
    found: set[str] = set()
    pending: list[type[BaseException]] = [OrchestrateXError]
    while pending:
        cls = pending.pop()
        found.add(cls.__name__)
        pending += [sub for sub in cls.__subclasses__() if sub.__module__.startswith("orchestratex.")]
    tree = re.search(r"```\n(OrchestrateXError\n.*?)```", (ROOT / "docs" / "errors.md").read_text(), re.S)
    assert tree, "docs/errors.md no longer draws the exception tree"
    drawn = set(re.findall(r"[├└]── (\w+)", tree.group(1))) | {"OrchestrateXError"}
    assert sorted(found - drawn) == []


REFUSED = {"cost_limit", "max_iteration", "on_event"}
"""The `orchestrator.<name>`s docs/orchestrator.md shows refused (a run's option, a misspelling, `on_event=`)."""


def test_every_attribute_of_an_orchestrator_or_a_catalog_the_pages_name_exists() -> None:
    """docs/evaluation.md gave the same-model rule as `catalog.model_identity`, written as the `catalog` of every other
    page is, a `ModelCatalog`: `catalog.model_identity(...)` raised `AttributeError: 'ModelCatalog' object has no
    attribute 'model_identity'` (it is a function of the module, not a public one). Each `orchestrator.<name>` and
    `catalog.<name>` of the pages is an attribute of an `Orchestrator` and a `ModelCatalog`."""
    from orchestratex import ModelCatalog, Orchestrator

    orchestrator, catalog = Orchestrator(), ModelCatalog.default()
    missing = []
    for page in DOCS:
        text = page.read_text(encoding="utf-8")
        for kind, name in re.findall(r"[`(](orchestrator|catalog)\.(?!md\b)([a-z_]+)", text):
            if name not in REFUSED and not hasattr(orchestrator if kind == "orchestrator" else catalog, name):
                missing.append(f"{page.relative_to(ROOT)}: {kind}.{name}")
    orchestrator.close()
    assert missing == []


@pytest.mark.slow
def test_the_readmes_server_commands_end_when_the_server_cannot_start(tmp_path: Path) -> None:
    """The README starts `orchestratex serve --port 8000 &` and waits `until curl -s localhost:8000/health …`: when the
    server could not start (a setting it refuses, a store it cannot open, its port taken: one line on stderr and an
    exit), the loop asked the port for ever. Run as written with a setting the server refuses, the commands now end,
    the server's error shown."""
    from .server.server_process import free_port

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```bash\n(pip install 'orchestratex\[server\]'\n.*?)```", text, re.S)
    assert found, "the README no longer starts the server"
    port = free_port()
    block = found.group(1).split("\n", 1)[1]  # (without its pip install)
    block = block.replace("--port 8000", f"--port {port}").replace("localhost:8000", f"127.0.0.1:{port}")
    done = _bash_run("export ORCHESTRATEX_RATE_LIMIT=0\n" + block, f"sqlite:///{tmp_path / 'runs.db'}", tmp_path, False)
    assert "orchestratex: error: ORCHESTRATEX_RATE_LIMIT" in done.stderr, done.stderr
