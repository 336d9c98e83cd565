"""Test helpers that ship with OrchestrateX, so adapters (ours and third parties') and users' own tests can reuse them:

- `orchestratex.testing.fixtures`: `block_model_requests()` and the autouse `hide_provider_variables` fixture, for a
  `conftest.py` (see the Testing page);
- `orchestratex.testing.runs`: `judged_run` and `judged_orchestrator`, one judged run of a provider's model and what it
  cost;
- `orchestratex.testing.store_contract`: the contract suite every `Store` must pass (`StoreContract`);
- `orchestratex.testing.provider_contract`: the contract suite every provider adapter must pass (`ProviderContract`).

Import the submodules explicitly; all but `runs` need pytest. `FunctionProvider` and `SimulatedProvider`, the test
doubles, are in `orchestratex` itself.
"""
