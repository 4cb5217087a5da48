"""The exercise registry: every exercise of the course, registered once, in lesson order.

Each lesson's module lists its ``ExerciseSpec`` entries (id, parameters, reference, cases, wrong
versions). ``EXERCISES`` maps the learner's function name to its entry; the checkers in
``dreamer_lite.course.checks``, the generator, the tests and the solutions index read it.
"""

from __future__ import annotations

from dreamer_lite.course.cases import (
    lesson00,
    lesson01_elbo,
    lesson01_rssm,
    lesson01_world_model,
    lesson02,
    lesson03_discrete,
    lesson03_imagination,
    lesson04,
    lesson04_behavior,
    lesson05,
    lesson06,
)
from dreamer_lite.course.checking import ExerciseSpec

_LESSONS = (
    lesson00,
    lesson01_rssm,
    lesson01_elbo,
    lesson01_world_model,
    lesson02,
    lesson03_imagination,
    lesson03_discrete,
    lesson04,
    lesson04_behavior,
    lesson05,
    lesson06,
)

EXERCISES: dict[str, ExerciseSpec] = {
    spec.name: spec for lesson in _LESSONS for spec in lesson.EXERCISES
}
"""Exercise function name -> its registry entry, e.g. ``EXERCISES["lambda_return"].id == "04.2"``."""

__all__ = ["EXERCISES", "ExerciseSpec"]
