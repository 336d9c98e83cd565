"""The distributions as users get them: what the wheels hold, what their metadata asks for, and the
install hint of a command whose extra is missing.

The wheels are built offline (`pip wheel --no-deps --no-build-isolation --no-index`) with the build
backend of this environment; without hatchling those tests are skipped.
"""

from __future__ import annotations

import email
import importlib.util
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import orchestratex

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "orchestratex"
ADAPTERS = sorted(p.parent for p in (ROOT / "adapters").glob("*/pyproject.toml"))
NEXT_MINOR = Version(f"{Version(orchestratex.__version__).major}.{Version(orchestratex.__version__).minor + 1}")


def _project(directory: Path) -> dict[str, object]:
    with (directory / "pyproject.toml").open("rb") as f:
        project: dict[str, object] = tomllib.load(f)["project"]
    return project


def _requirement(requirements: object, name: str) -> Requirement:
    assert isinstance(requirements, list)
    (found,) = (r for r in map(Requirement, requirements) if r.name == name)
    return found


def test_the_core_version_has_one_source() -> None:
    with (ROOT / "pyproject.toml").open("rb") as f:
        config = tomllib.load(f)
    assert "version" not in config["project"]
    assert config["project"]["dynamic"] == ["version"]
    assert ROOT / config["tool"]["hatch"]["version"]["path"] == PACKAGE / "__init__.py"


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda p: p.name)
def test_an_adapter_requires_the_core_minor_whose_internals_it_imports(adapter: Path) -> None:
    project = _project(adapter)
    core = _requirement(project["dependencies"], "orchestratex")
    assert orchestratex.__version__ in core.specifier
    assert NEXT_MINOR not in core.specifier, f"{adapter.name}: {core} would accept a core whose internals changed"
    extras = _project(ROOT)["optional-dependencies"]
    assert isinstance(extras, dict)
    wanted = _requirement(extras[adapter.name], f"orchestratex-{adapter.name}")
    assert str(project["version"]) in wanted.specifier
    assert Version(f"{Version(str(project['version'])).major}.{Version(str(project['version'])).minor + 1}") not in (
        wanted.specifier
    )


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda p: p.name)
def test_an_adapter_ships_the_license(adapter: Path) -> None:
    assert (adapter / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()


@pytest.mark.parametrize("readme", [ROOT, *ADAPTERS], ids=lambda p: "core" if p == ROOT else p.name)
def test_a_readme_links_absolutely(readme: Path) -> None:
    """A README is its distribution's description on PyPI, where a relative link leads nowhere."""
    links = re.findall(r"\]\(([^)]+)\)", (readme / "README.md").read_text(encoding="utf-8"))
    assert links
    assert [link for link in links if not link.startswith(("https://", "#"))] == []


def _serve_without(module: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        f"sys.modules[{module!r}] = None\n"  # as if not installed: import and find_spec both see it missing
        "from orchestratex.cli import main\n"
        "sys.exit(main(['serve', '--port', '0', '--store', 'memory://']))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("module", "distribution"),
    [
        ("fastapi", "fastapi"),
        ("prometheus_client", "prometheus-client"),
        ("fastapi_offline", "fastapi-offline"),
        ("uvicorn", "uvicorn"),
    ],
)
def test_serve_without_part_of_the_server_extra_names_it(module: str, distribution: str) -> None:
    done = _serve_without(module)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"orchestratex: error: the server needs {distribution} (not installed): pip install 'orchestratex[server]'\n"
    )


def test_serve_without_the_server_extra_says_what_the_install_page_shows() -> None:
    """docs/install.md quoted `orchestratex serve` without the `server` extra as "the server needs fastapi-offline (not
    installed)", while a plain `pip install orchestratex`, which has none of the extra, says uvicorn: the page now
    quotes that, checked here with every module of the extra missing."""
    text = " ".join((ROOT / "docs" / "install.md").read_text(encoding="utf-8").split())
    quoted = re.search(r"`orchestratex serve` without `server`: `([^`]+)`", text)
    assert quoted, "docs/install.md no longer quotes what serve says without the server extra"
    code = (
        "import sys\n"
        "for module in ('uvicorn', 'fastapi', 'prometheus_client', 'fastapi_offline'):\n"
        "    sys.modules[module] = None\n"
        "from orchestratex.cli import main\n"
        "sys.exit(main(['serve', '--port', '0', '--store', 'memory://']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"orchestratex: error: {quoted.group(1)}\n"


def test_importing_the_server_without_part_of_its_extra_names_it() -> None:
    code = "import sys\nsys.modules['prometheus_client'] = None\nimport orchestratex.server\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stderr.splitlines()[-1] == (
        "ImportError: orchestratex.server needs prometheus-client (not installed): pip install 'orchestratex[server]'"
    )


needs_backend = pytest.mark.skipif(
    importlib.util.find_spec("hatchling") is None, reason="the build backend (hatchling) is not installed"
)


PIP_WHEEL = (sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q")
"""Offline: the backend of this environment, nothing downloaded."""


def _wheel(source: Path, out: Path) -> zipfile.ZipFile:
    subprocess.run(
        [*PIP_WHEEL, "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (path,) = out.glob("*.whl")
    return zipfile.ZipFile(path)


@needs_backend
def test_the_core_wheel_holds_every_file_the_package_reads(tmp_path: Path) -> None:
    wheel = _wheel(ROOT, tmp_path)
    names = set(wheel.namelist())
    shipped = {
        p.relative_to(PACKAGE.parent).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert {"orchestratex/data/catalog.toml", "orchestratex/data/prices.toml", "orchestratex/py.typed"} <= shipped
    assert "orchestratex/server/console/index.html" in shipped
    assert shipped - names == set()
    dist_info = f"orchestratex-{orchestratex.__version__}.dist-info"
    assert f"{dist_info}/licenses/LICENSE" in names
    metadata = email.message_from_bytes(wheel.read(f"{dist_info}/METADATA"))
    assert metadata["Version"] == orchestratex.__version__
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata["License-Expression"] == "Apache-2.0"
    assert "orchestratex = orchestratex.cli:main" in wheel.read(f"{dist_info}/entry_points.txt").decode()


@needs_backend
@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda p: p.name)
def test_an_adapter_wheel_holds_its_license_types_and_entry_points(adapter: Path, tmp_path: Path) -> None:
    wheel = _wheel(adapter, tmp_path)
    names = set(wheel.namelist())
    package = f"orchestratex_{adapter.name}"
    dist_info = f"{package}-{_project(adapter)['version']}.dist-info"
    assert {f"{package}/__init__.py", f"{package}/py.typed", f"{dist_info}/licenses/LICENSE"} <= names
    entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
    assert f"= {package}:" in entry_points
