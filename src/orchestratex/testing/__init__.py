"""Test helpers that ship with OrchestrateX, so adapters (ours and third parties') and users' own
tests can reuse them: the Store contract suite and the provider-adapter contract suite.

Import the submodules explicitly (`orchestratex.testing.store_contract`); they need pytest.
"""
