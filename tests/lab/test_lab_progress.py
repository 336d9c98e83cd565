"""The lab's long operations show their progress on stderr where someone watches (a terminal, Jupyter), after a
second; never when stderr is piped unless asked (`progress=True`); `progress=False` silences it; a callable
`progress=` of `replay_loop` replaces the display, as before."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from orchestratex import lab
from orchestratex.exceptions import UserError
from orchestratex.lab import _progress
from orchestratex.lab._progress import Progress
from orchestratex.routing.bandit import BayesianRouter
from orchestratex.routing.fitted import FittedRouter

from .lab_synthetic import synthetic_table

HERE = Path(__file__).parent
SLOW = HERE / "slow_replay.py"
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(Path(lab.__file__).parents[2]), os.environ.get("PYTHONPATH", "")]),
}


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class AsciiTerminal(Terminal):
    """A terminal that cannot print the bar's blocks."""

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "ascii"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- the display itself ---------------------------------------------------------------------------
def test_a_terminal_gets_one_line_redrawn_in_place_after_a_second() -> None:
    out, clock = Terminal(), Clock()
    with Progress("replay_loop t", 200, stream=out, clock=clock) as bar:
        for done in range(1, 101):
            clock.now += 0.005  # 100 prompts in half a second: nothing yet
            bar.update(done)
        assert out.getvalue() == ""
        clock.now += 0.6
        bar.update(120, "quality 0.812")
        clock.now += 0.01
        bar.update(121)  # within the refresh interval: not redrawn
        clock.now += 0.2
        bar.update(160)
    text = out.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    first, second, final = text.split("\r")[1:]
    assert first.startswith("replay_loop t:  60%|") and "120/200 prompts [00:01<00:00, 1" in first
    assert first.rstrip().endswith("quality 0.812")
    assert "160/200 prompts" in second and "160/200" in final  # the final state stays on screen


def test_piped_stderr_gets_nothing_unless_asked_then_a_plain_line_every_few_seconds() -> None:
    for show, lines in ((None, 0), (False, 0), (True, 4)):
        out, clock = io.StringIO(), Clock()
        with Progress("fit", 1000, stream=out, clock=clock, show=show) as bar:
            for done in range(1, 1001):
                clock.now += 0.012  # 12 s in all: plain lines at 1 s, 6 s and 11 s, then the final one
                bar.update(done)
        text = out.getvalue()
        assert text.count("\n") == lines and "\r" not in text, (show, text)
    assert text.splitlines()[0].startswith("fit: 84/1,000 prompts (8%), 00:01 elapsed, ~00:1")
    assert text.splitlines()[-1].startswith("fit: done: 1,000/1,000 prompts in 00:12, 83/s")


def test_progress_false_silences_a_terminal_and_a_stderr_without_utf8_gets_ascii() -> None:
    out, clock = Terminal(), Clock()
    with Progress("x", 10, stream=out, clock=clock, show=False) as bar:
        clock.now += 5
        bar.update(5)
    assert out.getvalue() == ""
    ascii_out = AsciiTerminal()
    with Progress("x", 10, stream=ascii_out, clock=clock) as bar:
        clock.now += 5
        bar.update(5)
    assert "|#####" in ascii_out.getvalue() and ascii_out.getvalue().isascii()


def test_jupyter_is_recognised_by_its_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    class ZMQInteractiveShell:
        pass

    class Module:
        @staticmethod
        def get_ipython() -> object:
            return ZMQInteractiveShell()

    assert not _progress.in_notebook()
    monkeypatch.setitem(sys.modules, "IPython", Module)
    assert _progress.in_notebook()
    out, clock = io.StringIO(), Clock()  # a notebook's stderr is no terminal: the live line all the same
    with Progress("x", 10, stream=out, clock=clock) as bar:
        clock.now += 2
        bar.update(4)
    assert out.getvalue().startswith("\rx:  40%|")


def test_a_bad_progress_option_says_what_to_give() -> None:
    table = synthetic_table(20)
    with pytest.raises(UserError, match=r"progress is None \(shown on a terminal or in Jupyter\), True"):
        FittedRouter().fit(table, progress="yes")  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"or a callable progress\(done, total, partial\); got 1"):
        asyncio.run(lab.replay_loop(table, router=BayesianRouter(), progress=1))  # type: ignore[arg-type]


# -- every long operation is wired to it -----------------------------------------------------------
def test_each_long_operation_reports_when_asked_and_is_silent_when_told(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_progress, "DELAY", 0.0)  # show at once: these calls are quick on a small table
    train, test = synthetic_table(80, seed=1, name="train"), synthetic_table(40, seed=2, name="test")
    router = FittedRouter(alpha=1.0)
    profiles = lab.profiles_for(test)

    def run_all(progress: bool) -> None:
        router.fit(train, progress=progress)
        router.predict_table(test, progress=progress)
        lab.fitted_curve(router, test, progress=progress)
        asyncio.run(lab.replay(BayesianRouter(), test, profiles, progress=progress))
        asyncio.run(lab.replay_loop(test, router=FittedRouter(alpha=1.0).fit(train, progress=False), progress=progress))

    run_all(False)
    assert capsys.readouterr().err == ""
    run_all(True)
    err = capsys.readouterr().err
    for done in (
        "fit fitted on train: done: 80/80 prompts",
        "predict fitted on test: done: 40/40 prompts",
        "replay bayesian on test: done: 40/40 prompts",
        "replay_loop test: done: 40/40 prompts",
    ):
        assert done in err, err
    assert err.count("predict fitted on test: done") == 2  # predict_table, then fitted_curve's
    assert "quality 1.000, $0.0" in err  # replay_loop's running figures


def test_a_count_of_unknown_end_shows_the_count_and_rate_without_a_bar() -> None:
    out, clock = Terminal(), Clock()
    with Progress("load_history", None, stream=out, clock=clock, unit="orchestrations") as bar:
        clock.now += 1.5
        bar.advance(3000)
    first, final = out.getvalue().split("\r")[1:]
    assert first.rstrip() == "load_history: 3,000 orchestrations [00:01, 2,000/s]" and final.endswith("\n")
    piped, clock = io.StringIO(), Clock()
    with Progress("load_history", None, stream=piped, clock=clock, show=True, unit="orchestrations") as bar:
        clock.now += 2
        bar.advance(500)
    assert piped.getvalue().splitlines() == [
        "load_history: 500 orchestrations, 00:02 elapsed, 250/s",
        "load_history: done: 500 orchestrations in 00:02, 250/s",
    ]


async def test_load_history_reports_the_orchestrations_read(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: a long history (about 3,500 orchestrations a second from SQLite here: minutes for a server's year)
    was read without a word, while the lab's other long operations show their progress."""
    from orchestratex import Orchestrator, SimulatedProvider

    monkeypatch.setattr(_progress, "DELAY", 0.0)
    async with Orchestrator(providers=[SimulatedProvider(latency_scale=0)]) as orchestrator:
        for i in range(3):
            await orchestrator.run(f"Explain recursion, take {i}", max_iterations=1)
        await lab.load_history(orchestrator.store, progress=False)
        assert capsys.readouterr().err == ""
        table = await lab.load_history(orchestrator.store, progress=True, page_size=2)
        assert len(table) == 3
        assert "load_history: done: 3 orchestrations in 00:00" in capsys.readouterr().err
        with pytest.raises(UserError, match=r"^progress is None"):
            await lab.load_history(orchestrator.store, progress="yes")  # type: ignore[arg-type]


def test_a_minilm_fit_reports_the_prompts_embedded(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Embedder:  # stands in for MiniLM: a vector per text
        def embed(self, texts: list[str]) -> np.ndarray:
            return np.asarray([[len(t), t.count("prove")] for t in texts], dtype=np.float32)

    monkeypatch.setattr(_progress, "DELAY", 0.0)
    router = FittedRouter(features="minilm", embedder=Embedder())  # type: ignore[arg-type]
    router.fit(synthetic_table(300), progress=True)
    assert "fit fitted on synthetic: done: 300/300 prompts" in capsys.readouterr().err
    assert router.predict_table(synthetic_table(300), progress=False)[0].shape == (300, 3)


def test_a_callable_replaces_the_display(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(_progress, "DELAY", 0.0)
    monkeypatch.setattr(_progress, "in_notebook", lambda: True)  # where the display would show by default
    table = synthetic_table(30)
    seen: list[tuple[int, int, float]] = []
    asyncio.run(
        lab.replay_loop(
            table, router=BayesianRouter(), progress=lambda d, t, p: seen.append((d, t, p.quality)), progress_every=10
        )
    )
    assert [(d, t) for d, t, _ in seen] == [(10, 30), (20, 30), (30, 30)]
    assert capsys.readouterr().err == ""
    asyncio.run(lab.replay_loop(table, router=BayesianRouter()))
    assert "\rreplay_loop synthetic: 100%|" in capsys.readouterr().err


# -- through the front door: a process on a terminal, piped, and a notebook -------------------------
def _on_a_terminal(option: str) -> tuple[str, str]:
    """Run the slow replay with stderr on a pseudo-terminal (stdout piped): (stdout, what the terminal got)."""
    master, slave = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, str(SLOW), option], stdout=subprocess.PIPE, stderr=slave, text=True, env=ENV
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed: the child is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    return out, b"".join(chunks).decode()


def test_a_replay_on_a_terminal_shows_a_live_line_on_stderr_only() -> None:
    out, terminal = _on_a_terminal("none")
    assert "60 prompts in" in out and "replay_loop" not in out
    assert "\rreplay_loop slow:" in terminal and "100%|" in terminal and "60/60 prompts" in terminal
    assert terminal.rstrip("\r\n").count("\n") == 0  # one line, redrawn in place, ended once
    _, silent = _on_a_terminal("false")
    assert silent == ""


def test_a_piped_replay_prints_no_progress_unless_asked() -> None:
    for option, shown in (("none", False), ("true", True)):
        done = subprocess.run(
            [sys.executable, str(SLOW), option], capture_output=True, text=True, env=ENV, check=True, timeout=60
        )
        assert "60 prompts in" in done.stdout
        assert ("replay_loop slow: done: 60/60 prompts" in done.stderr) is shown, done.stderr
        assert "\r" not in done.stderr


def test_a_notebook_cell_shows_the_progress_line() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cell = "\n".join(
        [
            "import sys",
            f"sys.path.insert(0, {str(HERE)!r})",
            "from slow_replay import slow_replay",
            "print((await slow_replay()).summary())",
        ]
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    outputs = nb.cells[0].outputs
    err = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    out = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    assert "replay_loop slow:" in err and "60/60 prompts" in err, outputs
    assert "60 prompts in" in out


def test_a_process_without_stderr_replays_without_progress() -> None:
    # Before: with no stderr (pythonw, some services: `sys.stderr is None`) `progress=True` wrote to None and the
    # replay failed with an AttributeError after its first second.
    code = "\n".join(
        [
            "import asyncio, sys",
            f"sys.path.insert(0, {str(HERE)!r})",
            "from slow_replay import slow_replay",
            "sys.stderr = None",
            "print(asyncio.run(slow_replay(True)).summary())",
        ]
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60)
    assert done.returncode == 0 and "60 prompts in" in done.stdout, (done.returncode, done.stdout)


def test_a_phase_that_counts_nothing_is_named_on_the_line_at_once() -> None:
    """Before: a fit's line stood at 100% under "fit fitted on t" while its regressions ran (2.4 s of MMLU's 4 s fit,
    more on a bigger table): the "(regressions)" label it set was never drawn."""
    out, clock = Terminal(), Clock()
    with Progress("fit fitted on t", 100, stream=out, clock=clock) as bar:
        for _ in range(100):
            clock.now += 0.02
            bar.advance()
        bar.describe("fit fitted on t (regressions)")
        assert out.getvalue().split("\r")[-1].startswith("fit fitted on t (regressions): 100%|")
        clock.now += 3  # (the regressions)
        bar.describe("fit fitted on t")
    assert out.getvalue().split("\r")[-1].startswith("fit fitted on t: 100%|")
    quiet = Terminal()
    with Progress("fit fitted on t", 100, stream=quiet, clock=clock) as bar:
        bar.advance(100)  # within the first second: nothing shown, and a phase's name shows nothing either
        bar.describe("fit fitted on t (regressions)")
    assert quiet.getvalue() == ""


def test_a_fit_interrupted_in_its_regressions_says_it_stopped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: Ctrl-C during a fit's regressions (every prompt's features counted) left the line "fit fitted on t
    (regressions): done: 300/300 prompts", as if the fit had finished, above the KeyboardInterrupt."""
    from sklearn.linear_model import Ridge

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C arriving while the regressions run

    monkeypatch.setattr(_progress, "DELAY", 0.0)
    router = FittedRouter(alpha=1.0)
    monkeypatch.setattr(Ridge, "fit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        router.fit(synthetic_table(300), progress=True)
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("fit fitted on synthetic (regressions): stopped at 300/300 prompts after 00:00"), last
    assert "done" not in last and not router.fitted
    monkeypatch.undo()
    out = Terminal()
    with pytest.raises(KeyboardInterrupt), Progress("fit fitted on t", 10, stream=out, clock=Clock()) as bar:
        bar.advance(10)
        bar.describe("fit fitted on t (regressions)")
        raise KeyboardInterrupt
    assert out.getvalue() == ""  # (nothing shown before the first second: nothing to say it stopped either)
    clock = Clock()
    with pytest.raises(KeyboardInterrupt), Progress("fit fitted on t", 10, stream=out, clock=clock) as bar:
        clock.now += 1.5
        bar.advance(10)
        raise KeyboardInterrupt
    assert out.getvalue().split("\r")[-1].rstrip().endswith("10/10 prompts [00:01<00:00, 6.7/s] (stopped)")


async def test_load_history_interrupted_says_it_stopped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: `load_history` stopped by Ctrl-C after a page ended on "load_history: done: 2 orchestrations"."""
    from orchestratex import Orchestrator, SimulatedProvider
    from orchestratex.stores import MemoryStore

    class Interrupted(MemoryStore):
        pages = 0

        async def list_orchestrations(self, **kwargs: object) -> list[object]:  # type: ignore[override]
            self.pages += 1
            if self.pages > 1:
                raise KeyboardInterrupt  # Ctrl-C while the second page is read
            return await super().list_orchestrations(**kwargs)  # type: ignore[arg-type,return-value]

    monkeypatch.setattr(_progress, "DELAY", 0.0)
    store = Interrupted()
    async with Orchestrator(providers=[SimulatedProvider(latency_scale=0)], store=store) as orchestrator:
        for i in range(3):
            await orchestrator.run(f"Explain recursion, take {i}", max_iterations=1)
        with pytest.raises(KeyboardInterrupt):
            await lab.load_history(orchestrator.store, progress=True, page_size=2)
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("load_history: stopped at 2 orchestrations after 00:00"), last


def test_the_percentage_reads_100_only_when_everything_is_done() -> None:
    """Before: rounded, 942 of RouterBench test's 945 prompts read `100%` on the live line (and `(100%)` on a plain
    one) while the replay still ran."""
    out, clock = Terminal(), Clock()
    with Progress("replay t", 945, stream=out, clock=clock) as bar:
        clock.now += 2
        bar.update(942)
        assert out.getvalue().split("\r")[-1].startswith("replay t:  99%|")
        clock.now += 1
        bar.update(945)
    assert out.getvalue().split("\r")[-1].startswith("replay t: 100%|")
    piped, clock = io.StringIO(), Clock()
    with Progress("fit", 945, stream=piped, clock=clock, show=True) as bar:
        clock.now += 2
        bar.update(942)
        clock.now += 0.5
        bar.update(945)
    first, last = piped.getvalue().splitlines()
    assert first.startswith("fit: 942/945 prompts (99%)") and last.startswith("fit: done: 945/945 prompts")


def test_a_first_fit_shows_its_progress_while_scikit_learn_is_imported() -> None:
    """Before: the first fit of a process imported scikit-learn (1.5 s) before its progress display started, so a
    fit showed nothing for its first 2.5 s, and a small table's fit nothing at all however long the import took."""
    done = subprocess.run(
        [sys.executable, str(HERE / "slow_import_fit.py")], capture_output=True, text=True, env=ENV, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines and lines[0].startswith("fit fitted on synthetic (importing scikit-learn): 0/40 prompts (0%)"), lines
    assert lines[-1].startswith("fit fitted on synthetic: done: 40/40 prompts in 00:0"), lines
