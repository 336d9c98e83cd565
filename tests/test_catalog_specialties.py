"""A model's specialties are read as a run's domain is: a built-in domain in any case is kept lowercase (so it
applies to runs of that domain); a misspelt or unknown one is refused, naming the one meant."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestratex import BayesianRouter, ModelCatalog, ModelProfile
from orchestratex._catalog_file import load_catalog_file
from orchestratex.domains import check_domain, check_specialty
from orchestratex.exceptions import ConfigurationError, UserError

FREE = 'name = "sim:a"\ninput_cost_per_1k = 0\noutput_cost_per_1k = 0\n'


def test_a_built_in_domain_in_any_case_is_the_specialty_a_run_of_that_domain_matches() -> None:
    model = ModelProfile(name="sim:a", specialties=("CODING", " Math ", "coding", "Writing"))
    assert model.specialties == ("coding", "math", "writing")  # lowercase, once each, in the order given
    router = BayesianRouter()
    domain = check_domain("Coding")  # a run's domain, as `run(domain=...)` keeps it
    assert domain is not None
    assert router.prior_mean(model, domain) == model.quality + router.specialty_bonus


def test_a_catalog_update_reads_specialties_the_same_way() -> None:
    catalog = ModelCatalog([ModelProfile(name="sim:a")])
    assert catalog.update("sim:a", specialties=["ANALYSIS"]).specialties == ("analysis",)
    with pytest.raises(ConfigurationError, match="'sciense': it looks like 'science' misspelt: write 'science'"):
        catalog.update("sim:a", specialties=["sciense"])


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("codeing", "unknown domain 'codeing': it looks like 'coding' misspelt: write 'coding' (specialties are"),
        ("MATHS", "unknown domain 'MATHS': it looks like 'math' misspelt: write 'math'"),
        (
            "cooking",
            "unknown domain 'cooking': specialties are among coding, math, science, writing, analysis, general",
        ),
        ("  ", "unknown domain '  ': specialties are among coding"),
    ],
)
def test_a_misspelt_or_unknown_specialty_is_refused_saying_what_to_write(given: str, message: str) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        check_specialty(given)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        ModelProfile(name="sim:a", specialties=("coding", given))


def test_a_catalog_file_keeps_specialties_in_any_case_lowercase(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(f'include_default = false\n[[models]]\n{FREE}specialties = ["CODING", "Science"]\n')
    assert load_catalog_file(path).catalog.get("sim:a").specialties == ("coding", "science")


def test_a_catalog_file_with_a_misspelt_specialty_names_the_file_the_entry_and_the_domain_meant(
    tmp_path: Path,
) -> None:
    path = tmp_path / "models.toml"
    path.write_text(f'[[models]]\n{FREE}specialties = ["Codeing"]\n')
    with pytest.raises(ConfigurationError) as raised:
        load_catalog_file(path)
    assert str(raised.value) == (
        f"{path}: models[0] specialties: unknown domain 'Codeing': it looks like 'coding' misspelt: write 'coding'"
        " (specialties are among coding, math, science, writing, analysis, general)"
    )
