"""The ONNX embedding path without the real export: pooling, normalisation, tokenisation, the cache
and its locking, and the encoder run on a tiny hand-built ONNX model (onnxruntime, no torch)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from qa import embeddings, onnx_backend
from qa.embeddings import PackagedMiniLM, resolve_backend
from qa.errors import QAError
from qa.onnx_backend import (
    OnnxEncoder,
    ensure_onnx_model,
    export_folder,
    l2_normalize,
    load_tokenizer,
    mean_pool,
    read_pipeline,
)
from qa.settings import Settings

MODEL_DIR = embeddings.model_dir()
TINY_VOCAB = 97  # the tiny model embeds token id % 97


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("QA_CACHE_DIR", str(folder))
    return folder


def tiny_model(path: Path, dim: int = 384) -> np.ndarray:
    """An ONNX model with the exported model's inputs and output: each token's vector is a row of a
    small table (id % 97), zeroed where the attention mask is 0. Returns the table."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    table = np.random.default_rng(7).normal(size=(TINY_VOCAB, dim)).astype(np.float32)
    nodes = [
        helper.make_node("Mod", ["input_ids", "vocab"], ["row"]),
        helper.make_node("Gather", ["table", "row"], ["vectors"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "last_axis"], ["mask_3d"]),
        helper.make_node("Mul", ["vectors", "mask_3d"], ["masked"]),
        helper.make_node("Cast", ["token_type_ids"], ["types_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["types_f", "last_axis"], ["types_3d"]),
        helper.make_node("Mul", ["types_3d", "zero"], ["no_types"]),
        helper.make_node("Add", ["masked", "no_types"], ["last_hidden_state"]),
    ]
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
        for name in onnx_backend.INPUT_NAMES
    ]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", dim])
    initializers = [
        numpy_helper.from_array(table, "table"),
        numpy_helper.from_array(np.array(TINY_VOCAB, dtype=np.int64), "vocab"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "last_axis"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero"),
    ]
    graph = helper.make_graph(nodes, "tiny", inputs, [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return table


def expected_embedding(text: str, table: np.ndarray) -> np.ndarray:
    """What the tiny model's pipeline should give: the mean of the text's rows, unit length."""
    ids = load_tokenizer(MODEL_DIR, 256).encode(text).ids
    mean = table[np.array(ids) % TINY_VOCAB].mean(axis=0)
    return mean / np.linalg.norm(mean)


def fake_model_dir(tmp_path: Path, weights: bytes) -> Path:
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    (folder / "model.safetensors").write_bytes(weights)
    return folder


# ---- pooling and normalisation ------------------------------------------------------------------


def test_mean_pooling_averages_only_the_tokens_the_attention_mask_keeps():
    hidden = np.array([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], [[5.0, 6.0], [0.0, 0.0], [9.0, 9.0]]])
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    pooled = mean_pool(hidden.astype(np.float32), mask)
    assert np.allclose(pooled, [[2.0, 3.0], [5.0, 6.0]])


def test_mean_pooling_of_a_fully_masked_row_is_zero_not_nan():
    pooled = mean_pool(np.ones((1, 2, 3), dtype=np.float32), np.zeros((1, 2), dtype=np.int64))
    assert np.all(np.isfinite(pooled)) and np.all(pooled == 0)


def test_l2_normalisation_gives_unit_float32_rows_and_leaves_a_zero_row_zero():
    rows = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0], [-1e-3, 0.0]]))
    assert rows.dtype == np.float32
    assert np.allclose(rows, [[0.6, 0.8], [0.0, 0.0], [-1.0, 0.0]])


# ---- the model folder's pipeline and tokenizer ------------------------------------------------


def test_the_packaged_model_asks_for_mean_pooling_normalisation_and_256_tokens():
    pipeline = read_pipeline(MODEL_DIR)
    assert pipeline.max_seq_length == 256 and pipeline.normalize


def test_a_model_folder_with_cls_pooling_is_refused_by_the_onnx_backend(tmp_path):
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    for name in ("modules.json", "sentence_bert_config.json"):
        (folder / name).write_text((MODEL_DIR / name).read_text())
    pooling = json.loads((MODEL_DIR / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    with pytest.raises(QAError, match="mean pooling only"):
        read_pipeline(folder)


def test_the_tokenizer_truncates_to_256_tokens_and_pads_nothing_by_itself():
    tokenizer = load_tokenizer(MODEL_DIR, 256)
    long = tokenizer.encode("cyber " * 1000)
    short = tokenizer.encode("Where is Beijing?")
    assert len(long.ids) == 256 and long.ids[0] == 101 and long.ids[-1] == 102  # [CLS] ... [SEP]
    assert len(short.ids) == 6 and 0 not in short.ids  # tokenizer.json alone would pad it to 128


def test_pad_batch_right_pads_with_zeros_and_masks_the_padding():
    tokenizer = load_tokenizer(MODEL_DIR, 256)
    ids, mask, types = onnx_backend.pad_batch(tokenizer.encode_batch(["a b c d", "a"]))
    assert ids.shape == mask.shape == types.shape == (2, 6)
    assert mask.tolist() == [[1] * 6, [1, 1, 1, 0, 0, 0]]
    assert ids[1, 3:].tolist() == [0, 0, 0] and not types.any()


# ---- the encoder (onnxruntime + tokenizers) on a tiny model ----------------------------------


def test_the_encoder_pools_each_text_alone_whatever_its_batch_or_length_order(tmp_path):
    table = tiny_model(tmp_path / "tiny.onnx")
    encoder = OnnxEncoder(tmp_path / "tiny.onnx", MODEL_DIR, threads=1)
    texts = ["a much longer text than the others, " * 5, "short", "", "medium length text here", "short"]
    batched = encoder.encode(texts, batch_size=2)
    assert batched.shape == (5, 384) and batched.dtype == np.float32
    for text, row in zip(texts, batched, strict=True):
        assert np.allclose(row, expected_embedding(text, table), atol=1e-5)
        assert np.allclose(row, encoder.encode([text])[0], atol=1e-6)
    assert encoder.encode([]).shape == (0, 384)


def test_the_onnx_backend_embeds_with_a_cached_model_and_never_exports_again(cache_dir, monkeypatch):
    def no_export(*args, **kwargs):
        raise AssertionError("exported although the model was cached")

    monkeypatch.setattr(onnx_backend, "export_onnx_model", no_export)
    cached = export_folder(MODEL_DIR, embeddings.MODEL_NAME) / onnx_backend.INT8_FILE
    table = tiny_model(cached)
    model = PackagedMiniLM(backend="onnx")
    assert model.backend == "onnx-int8"
    query = model.embed_query("Where did the dialogue take place?")
    documents = model.embed_documents(["one text", "another text"])
    assert np.allclose(query, expected_embedding("Where did the dialogue take place?", table), atol=1e-5)
    assert len(documents) == 2 and all(abs(np.linalg.norm(d) - 1.0) < 1e-5 for d in documents)
    assert model.embed_documents([]) == []


# ---- the cache ----------------------------------------------------------------------------------


def test_the_cache_lives_under_QA_CACHE_DIR_and_is_keyed_by_the_weights(tmp_path, cache_dir):
    first = export_folder(fake_model_dir(tmp_path, b"weights one"), "mini")
    again = export_folder(fake_model_dir(tmp_path, b"weights one"), "mini")
    other = export_folder(fake_model_dir(tmp_path, b"weights two"), "mini")
    assert first.parent == cache_dir / "onnx" and first.name.startswith("mini-")
    assert first == again and first != other


def test_a_new_export_recipe_version_gets_a_new_cache_folder(tmp_path, cache_dir, monkeypatch):
    folder = fake_model_dir(tmp_path, b"weights")
    before = export_folder(folder, "mini")
    monkeypatch.setattr(onnx_backend, "EXPORT_VERSION", onnx_backend.EXPORT_VERSION + 1)
    assert export_folder(folder, "mini") != before


def fake_export(calls: list[str], pause: float = 0.0):
    """Stands in for the torch export: writes the files the real one moves into place."""

    def export(model_dir: Path, folder: Path) -> dict:
        calls.append(folder.name)
        time.sleep(pause)
        folder.mkdir(parents=True, exist_ok=True)
        for name in (onnx_backend.FP32_FILE, onnx_backend.INT8_FILE):
            (folder / name).write_bytes(b"onnx")
        return {}

    return export


def test_a_missing_model_is_exported_once_and_then_reused(tmp_path, cache_dir, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(onnx_backend, "export_onnx_model", fake_export(calls))
    model_dir = fake_model_dir(tmp_path, b"weights")
    first = ensure_onnx_model(model_dir, "mini")
    second = ensure_onnx_model(model_dir, "mini")
    fp32 = ensure_onnx_model(model_dir, "mini", quantized=False)
    assert first == second and first.name == "model.int8.onnx" and fp32.name == "model.fp32.onnx"
    assert len(calls) == 1


def test_two_threads_asking_for_a_missing_model_export_it_once(tmp_path, cache_dir, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(onnx_backend, "export_onnx_model", fake_export(calls, pause=0.3))
    model_dir = fake_model_dir(tmp_path, b"weights")
    paths: list[Path] = []
    threads = [
        threading.Thread(target=lambda: paths.append(ensure_onnx_model(model_dir, "mini"))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(paths) == 2 and paths[0] == paths[1] and paths[0].is_file()


def test_a_half_written_export_left_by_a_crash_is_cleared_and_not_taken_for_the_model(
    tmp_path, cache_dir, monkeypatch
):
    calls: list[str] = []
    monkeypatch.setattr(onnx_backend, "export_onnx_model", fake_export(calls))
    model_dir = fake_model_dir(tmp_path, b"weights")
    folder = export_folder(model_dir, "mini")
    leftover = folder.parent / f".{folder.name}.crashed.tmp"
    leftover.mkdir(parents=True)
    (leftover / onnx_backend.INT8_FILE).write_bytes(b"half")
    ensure_onnx_model(model_dir, "mini")
    assert calls == [folder.name] and (folder / onnx_backend.INT8_FILE).read_bytes() == b"onnx"
    assert not leftover.exists()


def test_an_export_that_fails_midway_leaves_no_model_and_no_temporary_files(tmp_path, cache_dir, monkeypatch):
    def broken_fuse(source, target, config):
        target.write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(onnx_backend, "_torch_export", lambda model_dir, path: (np.zeros((1, 384)), None))
    monkeypatch.setattr(onnx_backend, "_fuse", broken_fuse)
    model_dir = fake_model_dir(tmp_path, b"weights")
    with pytest.raises(RuntimeError, match="disk full"):
        ensure_onnx_model(model_dir, "mini")
    folder = export_folder(model_dir, "mini")
    assert not (folder / onnx_backend.INT8_FILE).exists()
    assert sorted(p.name for p in folder.parent.iterdir()) == [f"{folder.name}.lock"]


def test_an_unwritable_cache_is_reported_with_the_variable_to_set(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("QA_CACHE_DIR", str(blocker))
    with pytest.raises((QAError, OSError)) as caught:
        ensure_onnx_model(fake_model_dir(tmp_path, b"weights"), "mini")
    assert isinstance(caught.value, QAError) and "QA_CACHE_DIR" in str(caught.value)


# ---- choosing a backend ------------------------------------------------------------------------


def test_backend_names_resolve_to_what_the_index_manifest_records():
    assert resolve_backend("torch") == "torch"
    assert resolve_backend("onnx") == resolve_backend("ONNX") == "onnx-int8"
    assert resolve_backend("auto") == embeddings.BACKENDS[embeddings.AUTO_BACKEND]
    assert PackagedMiniLM(backend="torch").backend == "torch"
    assert PackagedMiniLM(backend="onnx").backend == "onnx-int8"


def test_an_unknown_backend_is_refused_with_the_setting_that_chooses_it():
    with pytest.raises(QAError, match="QA_EMBEDDING_BACKEND"):
        PackagedMiniLM(backend="tensorflow")


def test_auto_falls_back_to_torch_where_onnxruntime_is_not_installed(monkeypatch):
    real_find_spec = embeddings.importlib.util.find_spec
    monkeypatch.setattr(embeddings, "AUTO_BACKEND", "onnx")
    assert resolve_backend("auto") == "onnx-int8"
    monkeypatch.setattr(
        embeddings.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a),
    )
    assert resolve_backend("auto") == "torch"


def test_the_embedding_backend_setting_comes_from_QA_EMBEDDING_BACKEND(monkeypatch):
    monkeypatch.delenv("QA_EMBEDDING_BACKEND", raising=False)
    assert Settings().embedding_backend == "auto"
    monkeypatch.setenv("QA_EMBEDDING_BACKEND", "onnx")
    assert Settings().embedding_backend == "onnx"
    monkeypatch.setenv("QA_EMBEDDING_BACKEND", "tensorflow")
    with pytest.raises(ValueError, match="embedding_backend"):
        Settings()
