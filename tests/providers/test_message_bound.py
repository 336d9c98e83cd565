"""A provider's count of a prompt for all its models at once is exactly its count of each model's request."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orchestratex import FunctionProvider, GenerationRequest, Message, ModelProfile, SimulatedProvider
from orchestratex.providers import Provider

MODELS = [
    ModelProfile(name="p:small", input_cost_per_1k=0.001, output_cost_per_1k=0.002, max_output_tokens=100),
    ModelProfile(name="p:large", input_cost_per_1k=0.01, output_cost_per_1k=0.02),
]

messages = st.lists(
    st.builds(Message, role=st.sampled_from(["system", "user", "assistant"]), content=st.text(max_size=300)),
    min_size=1,
    max_size=4,
)


def providers() -> list[Provider]:
    return [FunctionProvider(lambda request: "ok"), SimulatedProvider(seed=1)]


@given(msgs=messages, cap=st.integers(1, 4096))
def test_the_bound_of_the_messages_is_the_count_of_every_request(msgs: list[Message], cap: int) -> None:
    for provider in providers():
        bound = provider._message_bound(msgs)
        assert bound is not None
        for model in MODELS:
            assert bound == provider.count_input_tokens(
                GenerationRequest(model=model, messages=msgs, max_output_tokens=cap)
            )


def test_a_provider_with_its_own_counting_has_no_bound_for_all_models() -> None:
    by_model = FunctionProvider(lambda request: "ok", count_tokens=lambda request: len(request.model.name))

    class Exact(SimulatedProvider):
        def count_input_tokens(self, request: GenerationRequest) -> int:
            return 1 + super().count_input_tokens(request)

    msgs = [Message(role="user", content="hello")]
    assert by_model._message_bound(msgs) is None
    assert Exact(seed=1)._message_bound(msgs) is None
