"""The README example: one orchestration with simulated models (no API key needed)."""

from orchestratex import Orchestrator

orchestrator = Orchestrator()  # no API key is set: simulated models, and every answer says so
result = orchestrator.run_sync(
    "Write a Python function to calculate fibonacci numbers",
    cost_limit=0.05,  # US dollars for the whole run; never exceeded
    evaluation_threshold=9.0,  # stop once the judges score an answer this high
)
for it in result.orchestration.iterations:  # each answer: its model, the judges' score, its cost
    score = "-" if it.score is None else f"{it.score:.1f}"  # (-: the answer failed, or no judge scored it)
    print(f"#{it.index} {it.model_name:26} score {score}  ${it.cost:.5f}")
print(f"{result.stop_reason}: {result.final_score}/10 by {result.final_model}, total ${result.total_cost:.5f}")
