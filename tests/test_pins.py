"""The fragile packages are pinned exactly, in pyproject.toml and nowhere else.

torch, dm_control and mujoco break each other across versions (mujoco 4.x breaks dm_control
1.0.50), so pyproject.toml pins each with `==`. environment.yml only adds Python and pip and then
installs this package, so it must not name versions of its own: a second copy of a pin is a pin
that can drift. scripts/setup.sh reads the torch pin out of pyproject.toml with a grep, and the
README quotes the three pins.
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
_EXACT = re.compile(r"==[0-9][0-9A-Za-z.+]*")


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


def environment_entries() -> list[str]:
    """Every entry under `dependencies:` in environment.yml, conda and pip alike (parsed by hand:
    no PyYAML needed), e.g. ['python=3.11', 'pip', '-e .[test,notebooks]']."""
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "dependencies:"), None)
    assert start is not None, "environment.yml has no `dependencies:` section"
    entries = []
    for line in lines[start + 1 :]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith((" ", "\t")):
            break  # left the dependencies block
        entry = line.strip().removeprefix("- ").strip().strip("'\"")
        if entry != "pip:":
            entries.append(entry)
    return entries


def test_parsers_read_specifiers():
    assert _specifiers(["torch == 2.13.0", "dm-control==1.0.50  # note", "tqdm", "-e ."]) == {
        "torch": "==2.13.0",
        "dm-control": "==1.0.50",
        "tqdm": "",
    }


@pytest.mark.parametrize("package", PINNED)
def test_pyproject_pins_exactly(package):
    spec = pyproject_pins().get(_normalize(package))
    assert spec is not None, f"{package} is not listed in pyproject.toml's dependencies"
    assert _EXACT.fullmatch(spec), (
        f"{package} must be an exact `==` pin in pyproject.toml, got {package}{spec}"
    )


def test_mujoco_stays_below_4():
    """mujoco 4.x breaks dm_control 1.0.50 (see the comment above the pins)."""
    major = int(pyproject_pins()[_normalize("mujoco")].removeprefix("==").split(".")[0])
    assert major < 4, "mujoco 4.x breaks dm_control 1.0.50: move both pins together"


def test_environment_names_no_pinned_package():
    pinned = {_normalize(p) for p in PINNED}
    for entry in environment_entries():
        name = re.split(r"[\s=<>!~\[]", entry.removeprefix("-e").strip(), maxsplit=1)[0]
        assert _normalize(name) not in pinned, (
            f"environment.yml lists `{entry}`; the pins of {', '.join(PINNED)} live in "
            "pyproject.toml only"
        )


def test_environment_installs_the_package():
    entries = environment_entries()
    assert "-e .[test,notebooks]" in entries, (
        "environment.yml must pip install -e .[test,notebooks]"
    )
    assert "pip" in entries, "environment.yml must install pip for its pip section"


def test_setup_script_finds_the_torch_pin():
    """scripts/setup.sh installs torch first, with the pin it greps out of pyproject.toml."""
    found = re.findall(r'"torch==[^"]*"', (ROOT / "pyproject.toml").read_text())
    assert found == [f'"torch{pyproject_pins()["torch"]}"'], found


@pytest.mark.parametrize("package", PINNED)
def test_readme_quotes_the_pins(package):
    pin = f"{package}{pyproject_pins()[_normalize(package)]}"
    assert pin in (ROOT / "README.md").read_text(), f"README.md should quote `{pin}`"
