"""The command line: the demo store writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

RunCli = Callable[..., CompletedProcess[str]]


def test_demo_refuses_to_overwrite_without_force(tmp_path: Path, run_cli: RunCli) -> None:
    # Given a store that already holds something
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("keep")
    # When
    refused = run_cli("demo", str(tmp_path))
    # Then
    assert refused.returncode == 2
    assert "--force" in refused.stderr
    assert not (tmp_path / "demo").exists()

    # When forced
    forced = run_cli("demo", str(tmp_path), "--force")
    # Then the demo projects are written and the rest is kept
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "demo" / "eurosat-lulc-classifier" / "mlops-project.yaml").is_file()
    assert (tmp_path / "mine" / "keep.txt").read_text() == "keep"


def test_serve_refuses_a_missing_store(tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli("serve", "--projects", str(tmp_path / "absent"))
    assert result.returncode == 2
    assert "not found" in result.stderr
