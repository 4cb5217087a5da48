"""pyproject.toml and environment.yml must pin the same exact versions of the fragile packages.

torch, dm_control and mujoco are pinned exactly because they break each other across versions
(mujoco 4.x breaks dm_control 1.0.50); a pin changed in one file only is a bug waiting to happen.
"""

import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
PINNED = ("torch", "dm_control", "mujoco")
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*(.*?)\s*(?:#.*)?$")


def _normalize(name: str) -> str:
    """PEP 503 name: dm-control, dm_control and DM.Control are the same package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _specifiers(requirements: list[str]) -> dict[str, str]:
    """['torch==2.13.0', 'numpy>=2'] -> {'torch': '==2.13.0', 'numpy': '>=2'}."""
    found = {}
    for line in requirements:
        match = _REQUIREMENT.match(line)
        if match and not line.lstrip().startswith("-"):
            found[_normalize(match.group(1))] = match.group(2).replace(" ", "")
    return found


def pyproject_pins() -> dict[str, str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return _specifiers(tomllib.load(f)["project"]["dependencies"])


def environment_pins() -> dict[str, str]:
    """The entries of the `- pip:` list in environment.yml (parsed by hand: no PyYAML needed)."""
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "- pip:"), None)
    assert start is not None, "environment.yml has no `- pip:` section"
    indent = len(lines[start]) - len(lines[start].lstrip())
    entries = []
    for line in lines[start + 1 :]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if len(line) - len(line.lstrip()) <= indent:
            break  # left the pip list
        entries.append(line.strip().removeprefix("- ").strip().strip("'\""))
    return _specifiers(entries)


def test_parsers_read_specifiers():
    assert _specifiers(["torch == 2.13.0", "dm-control==1.0.50  # note", "tqdm", "-e ."]) == {
        "torch": "==2.13.0",
        "dm-control": "==1.0.50",
        "tqdm": "",
    }


@pytest.mark.parametrize("package", PINNED)
def test_pins_are_exact_and_identical(package):
    name = _normalize(package)
    in_pyproject = pyproject_pins().get(name)
    in_environment = environment_pins().get(name)
    for where, spec in (("pyproject.toml", in_pyproject), ("environment.yml", in_environment)):
        assert spec is not None, f"{package} is not listed in {where}"
        assert re.fullmatch(r"==[0-9][0-9A-Za-z.+]*", spec), (
            f"{package} must be an exact `==` pin in {where}, got {package}{spec}"
        )
    assert in_pyproject == in_environment, (
        f"{package} is pinned differently: pyproject.toml has {package}{in_pyproject}, "
        f"environment.yml has {package}{in_environment}; make them the same"
    )


def test_environment_installs_the_package():
    lines = (ROOT / "environment.yml").read_text()
    assert "-e .[test,notebooks]" in lines, "environment.yml must pip install -e .[test,notebooks]"
