"""Atomic output: every file statelink writes appears whole or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only on success.

    The temp file lives in the same folder so the final rename is atomic on POSIX.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(target: Path | str, payload: Any) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


def publish_dir(tmp: Path, out_dir: Path) -> None:
    """Make a finished temp folder world-readable and rename it onto `out_dir` atomically.

    An older `out_dir` is replaced only once the new one is in place (restored on failure).
    safetensors and mkdtemp create 0600/0700 entries, which DVC's cache would keep.
    """
    import shutil
    import uuid

    for f in tmp.rglob("*"):
        f.chmod(0o755 if f.is_dir() else 0o644)
    tmp.chmod(0o755)
    if not out_dir.exists():
        os.replace(tmp, out_dir)
        return
    old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except BaseException:
        os.replace(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def sha256_file(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def staged_dir(out_dir: Path, create: bool = True) -> Iterator[Path]:
    """Build a folder beside `out_dir`; publish it onto `out_dir` only if the block succeeds.

    On any error the half-built folder is removed and an older `out_dir` stays untouched.
    With `create=False` the block makes the folder itself (e.g. a writer that refuses an
    existing one).
    """
    import shutil
    import uuid

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{uuid.uuid4().hex[:8]}")
    if create:
        tmp.mkdir()
    try:
        yield tmp
        publish_dir(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
