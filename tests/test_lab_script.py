"""scripts/lab.sh: the one command that opens the course in JupyterLab, as root or not."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_lab_script_refuses_an_unknown_folder_in_one_line():
    proc = subprocess.run(
        ["bash", "scripts/lab.sh", "no_such_folder"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "[lab] no folder 'no_such_folder': use exercises, notebooks or solutions"
    )


def test_lab_script_passes_allow_root_only_as_root():
    text = (ROOT / "scripts" / "lab.sh").read_text()
    assert '[[ "$(id -u)" == 0 ]] && args+=(--allow-root)' in text
    assert "--ServerApp.root_dir=$folder" in text
