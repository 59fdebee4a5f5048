"""What an operator sets when serving: where jobs live, the limits, the tokens, the backend."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def default_data() -> Path:
    """The per-user data folder of the platform's convention, not the current folder:
    $XDG_DATA_HOME/brushwork/serve (default ~/.local/share) on Linux and the BSDs,
    ~/Library/Application Support/brushwork/serve on macOS, %LOCALAPPDATA%\\brushwork\\serve
    on Windows."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "brushwork" / "serve"


@dataclass(frozen=True)
class ServeConfig:
    """`brushwork serve`'s options; the limits are checked before a job is queued, the counts
    and the pictures' declared sizes before any picture is decoded."""

    data: Path = field(default_factory=default_data)  # the SQLite store and each job's files
    max_upload_mb: float = 25.0  # each uploaded file
    max_megapixels: float = 40.0  # each uploaded picture, read from its header
    # All the pictures of one request together, decoded: what one request can make the server
    # hold in memory (RGB, 3 bytes a pixel, and a few working copies).
    max_request_megapixels: float = 64.0
    max_paintings: int = 16  # paintings in one job (and masks, one per painting)
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
    # Below this much free space under `data`, new jobs are refused (507) rather than left
    # half-written on a full disk.
    min_free_mb: float = 256.0
    max_streams_per_client: int = 8  # open /events streams for one client
    # Host names accepted besides the loopback ones (and the address served on), and page
    # origins allowed to send requests: a foreign page must not paint on a user's machine.
    allow_hosts: frozenset[str] = field(default_factory=frozenset)
    allow_origins: frozenset[str] = field(default_factory=frozenset)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)

    @property
    def max_request_bytes(self) -> int:
        """The whole request body: a photo and each painting and mask at their cap, and the
        form's own bytes."""
        return self.max_upload_bytes * (1 + 2 * self.max_paintings) + 2**20

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
