"""Break each guarded line on purpose and check that its tests notice (issue #19's mutants).

Each mutant replaces one exact piece of source text in a copy of the tree (tracked and untracked files,
as ``git ls-files`` lists them) and runs the tests that guard it there; the working tree is never
touched. A mutant is *killed* when its tests fail and *survives* when they pass. The tests are first
run once on the unmutated copy: a guard that fails there proves nothing.

    QT_QPA_PLATFORM=offscreen nice -n 15 .venv/bin/python scripts/mutants.py            # all, a table at the end
    .venv/bin/python scripts/mutants.py --only carry --only clamp                       # names containing these
    .venv/bin/python scripts/mutants.py --list

Exit code 0 when every mutant is killed, 1 when one survives, 2 when a mutant no longer applies (its
source text moved: update the mutant with the code).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # relative to the repository root
    old: str  # exact source text, found exactly once
    new: str
    tests: tuple[str, ...]  # pytest node ids or files that must fail


MUTANTS = (
    Mutant(
        "prior_bpd at T−2",
        "core/diffusion/vlb.py",
        "    t = schedule.T - 1\n    mean, var = q_mean_variance(schedule, x0, t)",
        "    t = schedule.T - 2\n    mean, var = q_mean_variance(schedule, x0, t)",
        ("tests/test_vlb.py::test_the_prior_term_is_the_kl_at_the_last_step",),
    ),
    Mutant(
        "fixed_large log-variance from β̃",
        "core/diffusion/posterior.py",
        "var_table, log_table = schedule.betas, torch.log(schedule.betas)",
        "var_table, log_table = schedule.betas, schedule.posterior_log_variance_clipped",
        ("tests/test_forward_posterior.py::test_fixed_large_takes_beta_for_the_variance_and_its_log",),
    ),
    Mutant(
        "playback: no cap at the newest recorded frame",
        "core/runs/playback.py",
        "target = min(self.position + step, available - 1)",
        "target = self.position + step",
        ("tests/test_playback.py",),
    ),
    Mutant(
        "playback: carry not reset after waiting",
        "core/runs/playback.py",
        "self._carry = 0.0 if target == available - 1 else self._carry - step",
        "self._carry = self._carry - step",
        ("tests/test_playback.py",),
    ),
    Mutant(
        "playback: FPS clamp removed",
        "core/runs/playback.py",
        "return min(max(total_frames / RUN_SECONDS * speed, MIN_FPS), MAX_FPS)",
        "return total_frames / RUN_SECONDS * speed",
        ("tests/test_playback.py",),
    ),
    Mutant(
        "start_index: the raw index instead of matching ᾱ",
        "core/runs/spec.py",
        "return matching_index(forward, index_from_paper_t(paper_t), model)",
        "return index_from_paper_t(paper_t)",
        (
            "tests/test_run_session.py",
            "tests/test_reverse_panel.py::test_reverse_and_compare_start_at_the_forward_panels_noise_level_on_another_schedule",
        ),
    ),
    Mutant(
        "inversion: reconstruction is the last step's input",
        "core/runs/inversion.py",
        "reconstruction = _cpu(last.x_prev)",
        "reconstruction = _cpu(last.x_t)",
        (
            "tests/test_inversion_ideal.py::test_the_inversions_reconstruction_is_the_decoded_image",
            "tests/test_inversion_frames.py",
        ),
    ),
    Mutant(
        "IterativeChain: x₀ dropped from the first step",
        "core/diffusion/forward.py",
        "x = q_step(self.schedule, x, step, self.noise(step))",
        "x = q_step(self.schedule, x if step else torch.zeros_like(x), step, self.noise(step))",
        (
            "tests/test_forward_posterior.py::test_the_step_by_step_chain_starts_from_the_image",
            "tests/test_gui.py::test_step_by_step_near_the_clean_end_still_shows_the_image",
        ),
    ),
    Mutant(
        "the window reads an ideal folder on the GUI thread",
        "app/window.py",
        """        return self.files.submit(
            f"reading the pictures of {Path(str(folder)).name}…", lambda _job: load_model(f"ideal:{folder}"), done
        )""",
        """        return done(load_model(f"ideal:{folder}")) or 1""",
        ("tests/test_window_files.py::test_a_picture_folder_is_read_on_the_files_worker_and_lands_in_compare",),
    ),
    Mutant(
        "IterativeChain: x₀ dropped from its cache",
        "core/diffusion/forward.py",
        "self._cache: dict[int, torch.Tensor] = {-1: self._x0}",
        "self._cache: dict[int, torch.Tensor] = {-1: torch.zeros_like(self._x0)}",
        ("tests/test_gui.py::test_step_by_step_near_the_clean_end_still_shows_the_image",),
    ),
)


def copy_tree(target: Path) -> None:
    """The files git knows of (tracked, and untracked but not ignored), copied under ``target``."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            (target / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / os.fsdecode(name))


def run_tests(tree: Path, tests: tuple[str, ...]) -> int:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    return subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True).returncode


def check(mutant: Mutant, tree: Path) -> str:
    path = tree / mutant.path
    original = path.read_text()
    if original.count(mutant.old) != 1:
        return "does not apply"
    if run_tests(tree, mutant.tests) != 0:
        return "guard fails unmutated"
    path.write_text(original.replace(mutant.old, mutant.new))
    try:
        code = run_tests(tree, mutant.tests)
    finally:
        path.write_text(original)
    return {0: "SURVIVED", 1: "killed"}.get(code, f"error (pytest exit {code})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], help="run the mutants whose name contains this")
    parser.add_argument("--list", action="store_true", help="list the mutants and their guards")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.only or any(o.lower() in m.name.lower() for o in args.only)]
    if args.list:
        for m in chosen:
            print(f"{m.name}\n    {m.path}: {m.old.strip()!r} → {m.new.strip()!r}\n    guards: {', '.join(m.tests)}")
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        for m in chosen:
            result = check(m, tree)
            results.append((m, result))
            print(f"{result:>24}  {m.name}", flush=True)
    print("\n| mutant | file | guarding tests | result |\n| --- | --- | --- | --- |")
    for m, result in results:
        guards = ", ".join(t.split("::")[-1] if "::" in t else t for t in m.tests)
        print(f"| {m.name} | `{m.path}` | {guards} | {result} |")
    if any(r == "SURVIVED" for _, r in results):
        return 1
    return 0 if all(r == "killed" for _, r in results) else 2


if __name__ == "__main__":
    sys.exit(main())
