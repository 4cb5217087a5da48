"""The package's layout: the algorithm never imports the course, and no module reaches into
another module's private names."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dreamer_lite"


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) for every import in a file, including ones inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
    return found


def test_the_algorithm_never_imports_the_course():
    algorithm = sorted(PACKAGE.glob("*.py"))
    assert len(algorithm) > 10
    offenders = [
        f"{path.name} imports {module}"
        for path in algorithm
        for module, names in imports(path)
        if module.startswith("dreamer_lite.course")
        or (module == "dreamer_lite" and "course" in names)
    ]
    assert offenders == []


def test_no_private_names_imported_across_modules():
    offenders = [
        f"{path.relative_to(PACKAGE)}: {module}.{name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for module, names in imports(path)
        if module.startswith("dreamer_lite")
        for name in names
        if name.startswith("_")
    ]
    assert offenders == []
