"""Tests of the exercise generator (dreamer_lite.course.generate) and of the committed notebooks.

(a)-(e) and (g) check the real lessons in notebooks/ and skip while there are none; (f) checks
the generator itself on a small synthetic lesson built here.
"""

import ast
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from dreamer_lite.course import SETUP_CELL, colab_badge
from dreamer_lite.course import generate as gen
from dreamer_lite.course.checks import CHECKERS

ROOT = Path(__file__).resolve().parents[1]
LESSONS = gen.lessons(ROOT)


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def generated(kind: str, path: Path) -> nbformat.NotebookNode:
    """The ``exercises`` or ``solutions`` version of a lesson, or a failure that says how to make it."""
    version = ROOT / kind / path.name
    if not version.exists():
        pytest.fail(f"{kind}/{path.name} is missing: run `python -m dreamer_lite.course.generate`")
    return read(version)


def lesson_exercises() -> list[tuple[Path, gen.Exercise]]:
    """(lesson path, exercise) for every exercise of every lesson; [] when a lesson is malformed
    (test_exercise_ids_are_unique_and_numbered then reports why)."""
    try:
        return [(p, e) for p in LESSONS for e in gen.find_exercises(read(p), p.name)]
    except gen.ExerciseFormatError:
        return []


EXERCISES = lesson_exercises()
needs_lessons = pytest.mark.skipif(not LESSONS, reason="no lessons in notebooks/ yet")
needs_exercises = pytest.mark.skipif(not EXERCISES, reason="no exercises in notebooks/ yet")
by_id = pytest.mark.parametrize(
    ("path", "exercise"), EXERCISES or [(None, None)], ids=[e.id for _, e in EXERCISES] or ["none"]
)


# --- (a)-(e): the committed lessons, exercises and solutions ------------------------------------


@needs_lessons
def test_a_generated_files_are_up_to_date():
    changed = gen.generate(ROOT, check=True)
    names = [str(p.relative_to(ROOT)) for p in changed]
    assert not names, f"out of date: {names}; run `python -m dreamer_lite.course.generate`"


@needs_exercises
@by_id
def test_b_exercise_versions_leak_no_solution(path, exercise):
    cell = generated("exercises", path).cells[exercise.cell]
    allowed = {line.strip() for line in exercise.before + exercise.after + exercise.scaffold}
    leaked = [
        line.strip()
        for line in exercise.solution
        if line.strip() and not line.strip().startswith("#") and line.strip() not in allowed
    ]
    present = {line.strip() for line in cell.source.split("\n")}
    assert not [line for line in leaked if line in present], f"{exercise.id} leaks its solution"
    assert exercise.stub.strip() in present


@needs_lessons
@pytest.mark.parametrize("kind", ["exercises", "solutions"])
def test_b_generated_versions_have_no_outputs(kind):
    for path in LESSONS:
        for cell in generated(kind, path).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{kind}/{path.name}"


@needs_exercises
@by_id
def test_c_every_exercise_is_followed_by_its_checker(path, exercise):
    assert exercise.function in CHECKERS, f"{exercise.id}: no checker for {exercise.function}"
    call = re.compile(rf"\bcheck_{exercise.function}\(\s*{exercise.function}\s*[,)]")
    cells = read(path).cells
    following = [c for c in cells[exercise.cell + 1 :] if c.cell_type == "code"][:1]
    here = "\n".join(exercise.after)
    assert call.search(here) or (following and call.search(following[0].source)), (
        f"{exercise.id}: put `check_{exercise.function}({exercise.function})` right after the "
        "function (same cell or the next code cell)"
    )


@needs_lessons
def test_d_every_lesson_starts_with_setup_cell_and_badge():
    for path in LESSONS:
        nb = read(path)
        code = next(c for c in nb.cells if c.cell_type == "code")
        title = next(c for c in nb.cells if c.cell_type == "markdown")
        assert code.source == SETUP_CELL, f"{path.name}: first code cell is not SETUP_CELL"
        assert colab_badge(f"notebooks/{path.name}") in title.source.split("\n"), path.name
        assert re.match(rf"# {path.name[:2]}\. \S", title.source), f"{path.name}: '# NN. Title'"


@needs_lessons
def test_d_lessons_hold_no_unfinished_text():
    """Placeholders for results ("RESULTS_PLACEHOLDER", "TODO") must not reach a learner."""
    for path in LESSONS:
        for index, cell in enumerate(read(path).cells):
            for marker in ("PLACEHOLDER", "TODO", "FIXME", "XXX"):
                assert marker not in cell.source, f"{path.name}, cell {index}: {marker!r} left in"


@needs_lessons
def test_e_exercise_ids_are_unique_and_numbered():
    found = [(p, e) for p in LESSONS for e in gen.find_exercises(read(p), p.name)]
    ids = [e.id for _, e in found]
    assert len(ids) == len(set(ids)), ids
    for path, exercise in found:
        assert re.fullmatch(rf"{path.name[:2]}\.[1-9]\d*", exercise.id), exercise.id


# --- (g): each solution passes its checker in strict mode, each stub is a stub -----------------


def notebook_imports(cells: list, upto: int) -> str:
    """The top-level import statements of the code cells before ``upto``."""
    statements = []
    for cell in cells[:upto]:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.split("\n") if line[:1] not in "%!")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        statements += [
            ast.unparse(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
        ]
    return "\n".join(statements)


def run_exercise_cell(source: str, exercise: gen.Exercise, imports: str, capsys) -> str:
    """Exec an exercise cell in a fresh namespace (torch, the checkers and the notebook's imports)
    and run its checker; skip when it needs state that only the notebook builds."""
    namespace: dict = {}
    exec("import torch\nfrom dreamer_lite.course import checks\n" + imports, namespace)  # noqa: S102
    namespace.update(
        {name: getattr(namespace["checks"], name) for name in namespace["checks"].__all__}
    )
    try:
        exec(compile(source, f"<{exercise.id}>", "exec"), namespace)  # noqa: S102
        if f"check_{exercise.function}(" not in source:
            namespace[f"check_{exercise.function}"](namespace[exercise.function])
    except NameError as error:
        pytest.skip(f"{exercise.id} needs notebook state: {error}")
    except AssertionError:
        out = capsys.readouterr().out
        if "raised NameError" in out:
            pytest.skip(f"{exercise.id} needs notebook state: {out.splitlines()[0]}")
        pytest.fail(f"{exercise.id} ({exercise.notebook}):\n{out}")
    return capsys.readouterr().out


@needs_exercises
@by_id
def test_g_solution_passes_its_checker_strictly(path, exercise, monkeypatch, capsys):
    monkeypatch.setenv("DREAMER_LITE_CHECK", "strict")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    cells = read(path).cells
    imports = notebook_imports(cells, exercise.cell)
    out = run_exercise_cell(cells[exercise.cell].source, exercise, imports, capsys)
    assert "passed — well done!" in out


@needs_exercises
@by_id
def test_g_exercise_stub_is_unfinished(path, exercise, monkeypatch, capsys):
    monkeypatch.setenv("DREAMER_LITE_CHECK", "expect-unfinished")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    cells = read(path).cells
    imports = notebook_imports(cells, exercise.cell)
    out = run_exercise_cell(exercise.exercise_source(), exercise, imports, capsys)
    assert "not implemented yet" in out


# --- (f): the generator on a synthetic lesson ---------------------------------------------------

EXERCISE_CELL = '''\
# EXERCISE 04.2: The lambda-return
import torch

def lambda_return(reward, value, discount, lambda_):
    """Docstring: reward (H, N) -> (H, N)."""
    if True:
        # --- solution (in exercises/ this part is yours to write) ---
        # --- exercises/ starts you with these lines: ---
        # next_return = ...   # G_H = v_H
        # --- (end of the starting lines) ---
        next_return = value[-1]
        returns = []
        for t in reversed(range(reward.shape[0])):
            mix = (1 - lambda_) * value[t + 1] + lambda_ * next_return
            next_return = reward[t] + discount[t] * mix
            returns.append(next_return)
        return torch.stack(returns[::-1])
        # --- end of solution ---

check_lambda_return(lambda_return)'''

SECOND_CELL = """\
# EXERCISE 04.1: Updates due
def updates_soon(env_steps, next_train, train_every, train_steps):
    # --- solution (in exercises/ this part is yours to write) ---
    if env_steps < next_train:
        return 0, next_train
    return train_steps, env_steps + train_every
    # --- end of solution ---"""


def synthetic_lesson(root: Path, badge: str | None = None) -> Path:
    title = "# 04. Demo lesson" + (f"\n{badge}" if badge else "") + "\n\nWhat it builds."
    stdout = new_output("stream", name="stdout", text="✅ all good\n")
    nb = new_notebook(
        cells=[
            new_markdown_cell(title),
            new_code_cell("print('an old setup cell')", execution_count=1, outputs=[stdout]),
            new_markdown_cell("The task."),
            new_code_cell(EXERCISE_CELL, execution_count=2, outputs=[stdout]),
            new_code_cell(SECOND_CELL),
            new_code_cell("check_updates_soon(updates_soon)", execution_count=3, outputs=[stdout]),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index}"
    path = root / "notebooks" / "04_demo.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_f_generator_writes_versions_and_syncs_the_lesson(tmp_path):
    lesson = synthetic_lesson(tmp_path)
    changed = gen.generate(tmp_path)
    names = sorted(str(p.relative_to(tmp_path)) for p in changed)
    assert names == sorted(
        [
            "notebooks/04_demo.ipynb",
            "exercises/04_demo.ipynb",
            "solutions/04_demo.ipynb",
            "exercises/README.md",
            "solutions/README.md",
        ]
    )
    synced = read(lesson)
    assert synced.cells[1].source == SETUP_CELL
    assert synced.cells[0].source.split("\n")[:2] == [
        "# 04. Demo lesson",
        colab_badge("notebooks/04_demo.ipynb"),
    ]
    assert synced.cells[3].outputs, "the lesson keeps its outputs"

    exercise = read(tmp_path / "exercises" / "04_demo.ipynb")
    assert colab_badge("exercises/04_demo.ipynb") in exercise.cells[0].source
    assert [c.id for c in exercise.cells] == [c.id for c in synced.cells]
    source = exercise.cells[3].source
    assert (
        '        raise NotImplementedError("Exercise 04.2: fill in lambda_return")'
        in source.split("\n")
    )
    assert "        # next_return = ...   # G_H = v_H" in source.split("\n")
    assert '"""Docstring: reward (H, N) -> (H, N)."""' in source
    assert "check_lambda_return(lambda_return)" in source
    assert "value[-1]" not in source and "###" not in source
    second = exercise.cells[4].source.split("\n")
    assert second[-1] == '    raise NotImplementedError("Exercise 04.1: fill in updates_soon")'
    for cell in exercise.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None

    solution = read(tmp_path / "solutions" / "04_demo.ipynb")
    assert colab_badge("solutions/04_demo.ipynb") in solution.cells[0].source
    source = solution.cells[3].source
    assert "###" not in source and "# next_return = ..." not in source
    assert "        next_return = value[-1]" in source.split("\n")
    assert "NotImplementedError" not in source

    readme = (tmp_path / "solutions" / "README.md").read_text()
    assert (
        "| 04.2 | The lambda-return | [04_demo.ipynb](04_demo.ipynb) | `lambda_return` | `check_lambda_return` |"
        in readme
    )
    assert "DREAMER_LITE_CHECK" in (tmp_path / "exercises" / "README.md").read_text()


def test_f_generated_code_runs(tmp_path, monkeypatch, capsys):
    synthetic_lesson(tmp_path)
    gen.generate(tmp_path)
    from dreamer_lite.course.checks import check_lambda_return

    monkeypatch.setenv("DREAMER_LITE_CHECK", "strict")
    namespace = {"check_lambda_return": check_lambda_return}
    exec(read(tmp_path / "solutions" / "04_demo.ipynb").cells[3].source, namespace)  # noqa: S102
    monkeypatch.setenv("DREAMER_LITE_CHECK", "expect-unfinished")
    exec(read(tmp_path / "exercises" / "04_demo.ipynb").cells[3].source, namespace)  # noqa: S102
    out = capsys.readouterr().out
    assert (
        "All 7 checks passed" in out
        and "⏳ Exercise not implemented yet: fill in lambda_return" in out
    )


def test_f_generation_is_deterministic_and_check_mode(tmp_path, capsys):
    lesson = synthetic_lesson(tmp_path)
    gen.generate(tmp_path)
    first = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    assert gen.generate(tmp_path) == [] and gen.generate(tmp_path, check=True) == []
    assert {p: p.read_bytes() for p in first} == first
    assert all(text.endswith(b"\n") for text in first.values())
    assert gen.main(["--check", "--root", str(tmp_path)]) == 0

    (tmp_path / "exercises" / "04_demo.ipynb").write_text("{}")  # a hand edit
    (tmp_path / "solutions" / "99_gone.ipynb").write_text("{}")  # a stale version
    assert gen.main(["--check", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "differs: exercises/04_demo.ipynb" in out and "differs: solutions/99_gone.ipynb" in out
    assert gen.main(["--root", str(tmp_path)]) == 0
    assert not (tmp_path / "solutions" / "99_gone.ipynb").exists()
    assert {p: p.read_bytes() for p in first} == first
    assert lesson.read_bytes() == first[lesson]


def test_f_existing_badge_is_replaced(tmp_path):
    old = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://x/old)"
    lesson = synthetic_lesson(tmp_path, badge=old)
    gen.generate(tmp_path)
    lines = read(lesson).cells[0].source.split("\n")
    assert lines[1] == colab_badge("notebooks/04_demo.ipynb") and old not in lines


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (EXERCISE_CELL.replace("        # --- end of solution ---\n", ""), "region"),
        (EXERCISE_CELL.replace("EXERCISE 04.2", "EXERCISE 05.1"), "must be '04.k'"),
        (EXERCISE_CELL.replace("# EXERCISE 04.2: The lambda-return\n", ""), "EXERCISE NN.k"),
        (EXERCISE_CELL.replace("        # --- (end of the starting lines) ---\n", ""), "scaffold"),
        (SECOND_CELL.replace("def updates_soon", "x = 1 #"), "inside a function"),
    ],
)
def test_f_malformed_exercises_are_errors(broken, message):
    nb = new_notebook(cells=[new_code_cell(broken)])
    with pytest.raises(gen.ExerciseFormatError, match=re.escape(message)):
        gen.find_exercises(nb, "04_demo.ipynb")


def test_f_duplicate_ids_are_errors(tmp_path):
    lesson = synthetic_lesson(tmp_path)
    nb = read(lesson)
    nb.cells[4].source = SECOND_CELL.replace("04.1", "04.2")
    nbformat.write(nb, lesson)
    with pytest.raises(gen.ExerciseFormatError, match="unique"):
        gen.generate(tmp_path)


def test_f_no_lessons_is_a_no_op(tmp_path, capsys):
    assert gen.main(["--root", str(tmp_path)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert not (tmp_path / "exercises").exists()


def test_lessons_and_registry_list_the_same_exercises():
    from dreamer_lite.course.cases import EXERCISES

    found = {}
    for path in gen.lessons(ROOT):
        for exercise in gen.find_exercises(nbformat.read(path, as_version=4), path.name):
            found[exercise.function] = exercise.id
    assert found == {name: spec.id for name, spec in EXERCISES.items()}
