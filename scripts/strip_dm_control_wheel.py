"""Strip a dm_control wheel down to what the Control Suite needs (for scripts/gpu_check.sh).

    python scripts/strip_dm_control_wheel.py dm_control-1.0.50-py3-none-any.whl OUTDIR

The full wheel is about 56 MB, mostly the assets of suites this project never loads
(locomotion, manipulation, the suite's dog). The stripped wheel keeps ``dm_control.suite`` and
what it imports (``mujoco``, ``rl``, ``utils``, ``_render``, ``mjcf``, ``viewer``), drops the
rest and every ``*_test.py`` / ``testdata``, and:

* makes the two module-level ``scipy`` imports of the suite (``quadruped``'s terrain,
  ``lqr_solver``) lazy, so ``from dm_control import suite`` works without scipy (35 MB);
* keeps only the requirements that code needs (no labmaze, scipy, protobuf, pyparsing,
  requests, setuptools, tqdm);
* is versioned ``<version>+suite``, so ``pip list`` tells it from the real one (it still
  satisfies ``dm_control==<version>``).

The RECORD (hashes and sizes) is rewritten, so pip installs it like any wheel.
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
import zipfile
from pathlib import Path

DROP_PREFIXES = (
    "dm_control/locomotion/",
    "dm_control/manipulation/",
    "dm_control/composer/",
    "dm_control/entities/",
    "dm_control/blender/",
    "dm_control/autowrap/",
    "dm_control/suite/dog_assets/",  # dog is not one of the paper's tasks
)
KEEP_REQUIREMENTS = ("absl-py", "dm-env", "dm-tree", "glfw", "lxml", "mujoco", "numpy", "pyopengl")
# module -> (import line to move, the line before which it goes, inside its function)
LAZY_IMPORTS = {
    "dm_control/suite/quadruped.py": ("from scipy import ndimage", "smooth_bumps = ndimage.zoom("),
    "dm_control/suite/lqr_solver.py": (
        "import scipy.linalg as scipy_linalg",
        "p = scipy_linalg.solve_discrete_are(",
    ),
}


def dropped(name: str) -> bool:
    """True for the files the suite does not need."""
    return (
        name.startswith(DROP_PREFIXES)
        or name.endswith(("_test.py", "suite/all_domains.png"))
        or "/testdata/" in name
    )


def make_lazy(text: str, line: str, before: str) -> str:
    """Move the module-level import ``line`` to just before the first line containing
    ``before``, with that line's indentation."""
    if f"\n{line}\n" not in text or before not in text:
        raise ValueError(f"cannot find {line!r} or {before!r}: another dm_control version?")
    text = text.replace(f"\n{line}\n", "\n", 1)
    index = text.index(before)
    start = text.rindex("\n", 0, index) + 1
    indent = text[start:index]
    note = "  # imported when used: the stripped wheel carries no scipy"
    return text[:start] + f"{indent}{line}{note}\n" + text[start:]


def metadata(text: str, version: str) -> str:
    """METADATA with the new version and only the kept requirements."""
    lines = []
    for line in text.splitlines():
        if line.startswith("Version: "):
            line = f"Version: {version}"
        if line.startswith("Requires-Dist: "):
            name = re.split(r"[ ;<>=!~\[]", line[len("Requires-Dist: ") :], maxsplit=1)[0]
            if name.lower() not in KEEP_REQUIREMENTS:
                continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def strip(wheel: Path, outdir: Path) -> Path:
    """Write the stripped wheel into ``outdir``; return its path."""
    match = re.match(r"dm_control-([^-]+)-(.+)\.whl$", wheel.name)
    if not match:
        raise ValueError(f"{wheel.name} is not a dm_control wheel")
    old_version, tags = match.groups()
    version = f"{old_version}+suite"
    old_info, new_info = f"dm_control-{old_version}.dist-info/", f"dm_control-{version}.dist-info/"
    outdir.mkdir(parents=True, exist_ok=True)
    target = outdir / f"dm_control-{version}-{tags}.whl"
    records = []
    with (
        zipfile.ZipFile(wheel) as source,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for info in source.infolist():
            name = info.filename
            if dropped(name) or name == old_info + "RECORD" or name.endswith("/"):
                continue
            data = source.read(name)
            if name in LAZY_IMPORTS:
                data = make_lazy(data.decode(), *LAZY_IMPORTS[name]).encode()
            if name.startswith(old_info):
                name = new_info + name[len(old_info) :]
                if name.endswith("/METADATA"):
                    data = metadata(data.decode(), version).encode()
            out.writestr(name, data)
            records.append(record_line(name, data))
        records.append(f"{new_info}RECORD,,")
        out.writestr(new_info + "RECORD", "\n".join(records) + "\n")
    return target


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.splitlines()[2].strip())
    path = strip(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{path} {path.stat().st_size / 2**20:.1f} MiB")
