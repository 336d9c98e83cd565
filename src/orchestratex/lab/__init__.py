"""The routing lab: measure routers offline on real per-prompt outcomes, in a notebook or a script.

Load an outcome table (RouterBench, RouteLLM, or your own history from a `Store`), replay a
router over it without calling any provider, and compare cost–quality curves with AIQ, PGR,
APGR and CPT against baselines; `replay_loop` runs the real `Orchestrator` over a table (each
model answers with its recorded outcome and cost, a simulated judge scores) to measure the
refinement loop. Needs the `lab` extra: `pip install 'orchestratex[lab]'`.

    from orchestratex import lab
    from orchestratex.routing.fitted import FittedRouter

    data = lab.data_dir()  # $ORCHESTRATEX_DATA_DIR, or lab.data_dir("/path/to/routing")
    train, test = lab.load_routerbench(data, "train"), lab.load_routerbench(data, "test")
    router = FittedRouter().fit(train)
    curve = lab.fitted_curve(router, test)
    print(lab.aiq([curve, lab.oracle_curve(test)]))
"""

from __future__ import annotations

from ._deps import require as _require

_require("numpy")

from ._embed import MiniLMEmbedder, embeddings_available  # noqa: E402
from ._loaders import (  # noqa: E402
    DATA_ENV,
    ROUTELLM_STRONG,
    ROUTELLM_WEAK,
    ROUTERBENCH_TASKS,
    data_dir,
    load_history,
    load_routellm,
    load_routerbench,
)
from ._loop import LoopOutcome, LoopReplay, SimulatedJudge, replay_loop  # noqa: E402
from ._metrics import Curve, OperatingPoint, aiq, apgr, cpt, hull, pgr  # noqa: E402
from ._plot import plot_curves  # noqa: E402
from ._profiles import PriceFit, fit_prices, profiles_for  # noqa: E402
from ._replay import (  # noqa: E402
    Replay,
    default_cost_weights,
    fitted_curve,
    oracle_curve,
    random_point,
    ranking_curve,
    replay,
    single_model_points,
    sweep,
    zero_router_curve,
)
from ._table import OutcomeTable  # noqa: E402

__all__ = [
    "DATA_ENV",
    "ROUTELLM_STRONG",
    "ROUTELLM_WEAK",
    "ROUTERBENCH_TASKS",
    "Curve",
    "LoopOutcome",
    "LoopReplay",
    "MiniLMEmbedder",
    "OperatingPoint",
    "OutcomeTable",
    "PriceFit",
    "Replay",
    "SimulatedJudge",
    "aiq",
    "apgr",
    "cpt",
    "data_dir",
    "default_cost_weights",
    "embeddings_available",
    "fit_prices",
    "fitted_curve",
    "hull",
    "load_history",
    "load_routellm",
    "load_routerbench",
    "oracle_curve",
    "pgr",
    "plot_curves",
    "profiles_for",
    "random_point",
    "ranking_curve",
    "replay",
    "replay_loop",
    "single_model_points",
    "sweep",
    "zero_router_curve",
]
