"""``%mlops`` in a real IPython shell, against a real mlops-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell


@pytest.fixture
def shell(remote_catalog: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("MLOPS_SHARINGHUB_URL", remote_catalog)
    monkeypatch.delenv("MLOPS_PLATFORM_FILE", raising=False)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jupyter_mlops")
    yield ip
    InteractiveShell.clear_instance()


def test_search_returns_a_table_of_items(shell: InteractiveShell) -> None:
    # When
    result = shell.run_line_magic(
        "mlops", "search --collections dataset --bbox -66.5,-15.5,-63.5,-12.5"
    )

    # Then
    assert [item.id for item in result] == ["demo/sen1floods11-bolivia"]
    table = result._repr_html_()
    assert "Sen1Floods11: Bolivia flood event" in table
    assert "<code>demo/sen1floods11-bolivia</code>" in table
    assert "<svg class='jp-mlops-footprints'" in table  # the small map: land and one box
    assert table.count("<rect ") == 1


def test_free_text_search(shell: InteractiveShell) -> None:
    # When
    result = shell.run_line_magic("mlops", "search eurosat")

    # Then
    assert {item.id for item in result} == {
        "demo/eurosat-lulc-classifier",
        "demo/eurosat-rgb-samples",
    }


def test_download_picks_the_model_asset(
    shell: InteractiveShell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When
    shell.run_line_magic("mlops", f"download demo/eurosat-lulc-classifier --to {tmp_path}")

    # Then
    files = list(tmp_path.iterdir())
    assert [f.name for f in files] == ["eurosat-mlp.onnx"]
    assert str(files[0]) in capsys.readouterr().out


def test_help_and_bad_input_print_clear_messages(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    # When
    shell.run_line_magic("mlops", "--help")
    shown = capsys.readouterr().out
    shell.run_line_magic("mlops", "search --bbox 1,2")
    bad_bbox = capsys.readouterr().err
    shell.run_line_magic("mlops", "show demo/does-not-exist")
    missing = capsys.readouterr().err

    # Then
    assert "search" in shown
    assert "download" in shown
    assert "minx,miny,maxx,maxy" in bad_bbox
    assert "Traceback" not in bad_bbox
    assert missing.startswith("%mlops:")


def test_whoami_names_the_token_source_not_the_token(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-very-secret")

    # When
    shell.run_line_magic("mlops", "whoami")

    # Then
    out = capsys.readouterr().out
    assert "token:   environment" in out
    assert "glpat-very-secret" not in out
