"""Putting the artifact where ``prepareFlashArtifactUpload`` says: a presigned HTTP PUT.

Streamed in chunks with progress (every quarter), ``Content-Type: application/gzip`` and an
explicit ``Content-Length`` (presigned URLs sign it). A lost connection, a timeout or a 5xx
answer is retried from the start (a PUT of the same object is idempotent); a 4xx is not
(an expired or wrong URL does not heal). The URL is a credential for as long as it lives:
it is never printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from .graphql import RunPodError, timeout_seconds

ATTEMPTS = 4
BACKOFF_SECONDS = 0.5
CHUNK_BYTES = 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
MAX_ARTIFACT_BYTES = 1500 * 1024 * 1024


class UploadError(RunPodError):
    """The artifact could not be uploaded."""


def check_artifact(path: Path) -> int:
    """The artifact's size, after checking it is a gzip file RunPod accepts (runpod-flash's checks)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            magic = handle.read(2)
    except OSError as error:
        raise UploadError(f"cannot read the artifact {path}: {error.strerror}") from None
    if magic != GZIP_MAGIC:
        raise UploadError(f"{path} is not a gzip file; run `flashc build` again")
    if size > MAX_ARTIFACT_BYTES:
        raise UploadError(f"{path} is {size / 2**20:.0f} MiB, more than the {MAX_ARTIFACT_BYTES // 2**20} MiB RunPod accepts")
    return size


def put_artifact(
    url: str,
    path: Path,
    *,
    progress: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    size = check_artifact(path)
    headers = {"Content-Type": "application/gzip", "Content-Length": str(size)}
    last = ""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with httpx.Client(timeout=max(timeout_seconds(), 300.0)) as client:
                response = client.put(url, content=_chunks(path, size, progress), headers=headers)
        except httpx.HTTPError as error:
            last = type(error).__name__
        else:
            if response.status_code < 300:
                return
            last = f"HTTP {response.status_code}"
            if response.status_code < 500:
                raise UploadError(f"the artifact upload was refused ({last}); the upload URL may have expired, deploy again")
        if attempt < ATTEMPTS:
            if progress:
                progress(f"artifact upload failed ({last}); retrying ({attempt}/{ATTEMPTS - 1})")
            sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
    raise UploadError(f"the artifact upload failed {ATTEMPTS} times (last: {last})")


def _chunks(path: Path, size: int, progress: Callable[[str], None] | None) -> Iterator[bytes]:
    sent = 0
    said = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            sent += len(chunk)
            yield chunk
            quarter = (4 * sent) // max(size, 1)
            if progress and quarter > said:
                said = quarter
                progress(f"uploading the artifact: {sent * 100 // max(size, 1)}% of {size / 2**20:.1f} MiB")
