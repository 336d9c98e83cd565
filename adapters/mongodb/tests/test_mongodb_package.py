"""The orchestratex_mongodb package: its exported names, its entry point, and the error without PyMongo."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import orchestratex_mongodb


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(orchestratex_mongodb) if not name.startswith("_")} - {"annotations"}
    assert orchestratex_mongodb.__all__ == sorted(orchestratex_mongodb.__all__)
    assert set(orchestratex_mongodb.__all__) == public


def test_registered_as_the_mongodb_store() -> None:
    (ep,) = [ep for ep in entry_points(group="orchestratex.stores") if ep.name == "mongodb"]
    assert ep.load() is orchestratex_mongodb.MongoStore


def test_missing_pymongo_names_the_install_command() -> None:
    code = (
        "import sys\n"
        "sys.modules['pymongo'] = None\n"
        "try:\n"
        "    import orchestratex_mongodb\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'orchestratex[mongodb]'" in out.stdout
