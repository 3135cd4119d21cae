"""The optional parts of nfldeploy (pip extras): which modules each needs, whether they are installed, and the
error a command raises when its extra is missing. Finding a module does not import it."""

from __future__ import annotations

from importlib.util import find_spec

from nfldeploy.errors import ConfigError

#: extra -> (what it is for, the top-level modules it installs).
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "export": ("nfldeploy export / up", ("torch", "onnx", "onnxscript", "onnxruntime", "numpy")),
    "serve": ("nfldeploy serve (in process)", ("fastapi", "uvicorn", "onnxruntime", "numpy", "orjson")),
    "lambda": ("the Lambda handler, in process", ("mangum", "awslambdaric")),
}


def _installed(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-removed package
        return False


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    return [module for module in EXTRAS[extra][1] if not _installed(module)]


def require(extra: str, purpose: str) -> None:
    """ConfigError (exit 1) naming the extra to install when ``purpose`` cannot run without it."""
    missing = missing_modules(extra)
    if missing:
        raise ConfigError(
            f"{purpose} needs nfldeploy's '{extra}' extra (missing: {', '.join(missing)})",
            hint=f"pip install 'nfldeploy[{extra}]'",
        )
