"""One cache folder and one SHA-256 (`qa.files`), and every module that keeps or checks files uses them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from qa import files, llm
from qa.onnx_backend import export_folder


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG_CACHE_HOME set, QA_CACHE_DIR not: where the XDG rules put the cache. HOME is moved too, so a
    module that ignored XDG would miss the files here without touching the real home folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "qa"


def test_the_cache_is_QA_CACHE_DIR_then_XDG_CACHE_HOME_then_the_home_folder(
    xdg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert files.cache_root() == xdg
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "mine"))
    assert files.cache_root() == tmp_path / "mine"
    monkeypatch.delenv("QA_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert files.cache_root() == Path.home() / ".cache" / "qa"
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # set but empty means unset, as the XDG spec says
    assert files.cache_root() == Path.home() / ".cache" / "qa"


def test_the_onnx_export_is_cached_under_XDG_CACHE_HOME(xdg: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    assert export_folder(model, "mini").parent == xdg / "onnx"


def test_the_local_model_is_looked_for_under_XDG_CACHE_HOME(
    xdg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llm, "MODEL_PARTS", ["qa_no_such_model_part"])  # never join 491 MB into a wrong place
    target = xdg / "models" / f"{llm.MODEL_NAME}.gguf"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"joined before")
    stat = target.stat()
    target.with_suffix(".verified").write_text(f"{stat.st_size}:{stat.st_mtime_ns}\n", encoding="utf-8")
    assert llm.local_model_file() == target  # found where the XDG rules say, not joined again


def test_a_file_hashes_the_same_from_its_bytes_and_from_its_path(tmp_path: Path) -> None:
    data = b"The quokka lives on Rottnest Island.\n" * 100_000  # several read blocks
    path = tmp_path / "quokkas.txt"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert files.file_sha256(data) == expected
    assert files.file_sha256(path) == expected
