"""What an operator sets when serving: where jobs live, the limits, the tokens, the backend."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError


@dataclass(frozen=True)
class ServeConfig:
    """`brushwork serve`'s options; the limits are checked before a job is queued."""

    data: Path = Path("brushwork-serve")  # the SQLite store and each job's files
    max_upload_mb: float = 25.0  # each uploaded file
    max_megapixels: float = 40.0  # each uploaded picture, read from its header
    max_size: int = 1024  # the largest `size` a job may ask for
    max_steps: int = 500
    max_queue: int = 100  # jobs waiting or running, all clients together
    max_per_client: int = 5  # jobs waiting or running for one client (token, or address)
    expire_hours: float = 24.0  # ended jobs and their results are removed after this
    tokens: frozenset[str] = field(default_factory=frozenset)  # SHA-256 of each accepted token
    backend: str = "local"
    workers: int | None = None  # Ray workers (default: one per CPU the cluster has)
    threads: int | None = None
    gpus_per_worker: float = 0.0
    address: str | None = None

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)

    @property
    def expire_seconds(self) -> float:
        return self.expire_hours * 3600


def read_tokens(path: str | Path) -> frozenset[str]:
    """The SHA-256 of each token in a file (one a line; blank lines and # comments skipped)."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"--token-file {p}", f"cannot be read ({getattr(e, 'strerror', e)})",
                         "give a text file with one token a line") from None
    tokens = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    if not tokens:
        raise InputError(f"--token-file {p}", "holds no token", "write one token a line")
    return frozenset(token_hash(t) for t in tokens)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
