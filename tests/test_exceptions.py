"""The exception tree survives pickling and copying: an error raised in a worker process reaches its parent whole."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from orchestratex import exceptions as E

ERRORS: list[E.OrchestrateXError] = [
    E.OrchestrateXError("something failed"),
    E.UserError("max_iterations: Input should be greater than or equal to 1"),
    E.ConfigurationError("store URL 'bogus' has no scheme"),
    E.ProviderNotConfigured("set OPENAI_API_KEY", provider="openai", env_var="OPENAI_API_KEY"),
    E.UnknownModelError("nope", ["openai:gpt-4.1", "sim:gpt-4.1"]),
    E.UnknownModelError("gpt4", ["sim:gpt-4.1"], unserved="openai:gpt-4.1"),
    E.UnknownPriceError("model 'a:b' has no price"),
    E.ProviderError("failed", model="a:b", provider="a"),
    E.ProviderHTTPError("boom", status_code=418, body={"error": "teapot"}, headers={"x-a": "1"}, model="a:b"),
    E.AuthenticationError("openai error (401): bad key", status_code=401, model="openai:gpt-4.1", provider="openai"),
    E.RateLimited("slow down", retry_after=2.0, model="a:b", provider="a"),
    E.ProviderServerError("overloaded", status_code=529, retry_after=1.5, body="busy", model="a:b"),
    E.ContextLengthExceeded("too long", status_code=400, model="a:b"),
    E.ContentFiltered("refused", status_code=400, model="a:b"),
    E.ModelNotFound("ollama does not serve the model ollama:x (404): not found", status_code=404, model="ollama:x"),
    E.ProviderTimeout("no answer in 60 s", model="a:b", provider="a"),
    E.ProviderConnectionError("refused", model="a:b"),
    E.MalformedResponse("no choices", model="a:b"),
    E.EmptyAnswer("a:b answered nothing", model="a:b"),
    E.CircuitOpen("cooling down", model="a:b"),
    E.EvaluationError("no score found"),
    E.BudgetExceeded("nothing fits", remaining=0.001, needed=0.002),
    E.StoreError("write failed"),
    E.StoreUnavailable("database is locked"),
    E.StoreFull("the disk is full"),
    E.NotFound("no session 'x'"),
    E.Conflict("lease held"),
    E.OrchestrationCancelled("cancelled"),
]


def _same(a: BaseException, b: BaseException) -> None:
    assert type(b) is type(a)
    assert str(b) == str(a)
    assert b.args == a.args
    assert vars(b) == vars(a)


def test_every_class_of_the_tree_is_covered() -> None:
    assert {type(e).__name__ for e in ERRORS} == set(E.__all__)


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_an_error_pickles_and_copies_whole(error: E.OrchestrateXError) -> None:
    _same(error, pickle.loads(pickle.dumps(error)))
    _same(error, copy.deepcopy(error))
    _same(error, copy.copy(error))


def test_a_provider_error_raised_in_a_worker_process_reaches_the_parent(tmp_path: Path) -> None:
    script = tmp_path / "pool.py"
    script.write_text(
        textwrap.dedent(
            """
            import concurrent.futures
            import multiprocessing

            from orchestratex.exceptions import ProviderNotConfigured, ProviderServerError


            def overloaded(_: int) -> None:
                raise ProviderServerError("openai error (503): overloaded", status_code=503, model="openai:gpt-4.1")


            def no_key(_: int) -> None:
                raise ProviderNotConfigured("set OPENAI_API_KEY", provider="openai", env_var="OPENAI_API_KEY")


            if __name__ == "__main__":
                context = multiprocessing.get_context("spawn")
                with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
                    for work in (overloaded, no_key):
                        try:
                            pool.submit(work, 0).result()
                        except Exception as error:
                            print(type(error).__name__, vars(error))
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("ProviderServerError {") and "'status_code': 503" in lines[0]
    assert lines[1].startswith("ProviderNotConfigured {") and "'env_var': 'OPENAI_API_KEY'" in lines[1]
