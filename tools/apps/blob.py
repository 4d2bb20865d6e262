"""Deterministic pseudo-random byte streams shared by the test servers and the integration tests.

The HTTP backend streams `/blob?bytes=N` from `blob_chunks(N)`; a test computes the expected
SHA-256 with `blob_sha256(N)` (or writes an upload body with `write_blob`) without having to
transfer anything, so a corrupted, truncated or reordered byte anywhere on the path shows up as a
hash mismatch. Chunk k is `random.Random(SEED + k).randbytes(CHUNK)`, so every consumer gets the
same bytes independent of how it reads them. Not cryptographic; only reproducible.
"""
import hashlib
import random

CHUNK_BYTES = 64 * 1024
SEED = 0x7E7E


def blob_chunks(total_bytes, seed=SEED):
    """Yields the stream in CHUNK_BYTES pieces (the last one shorter)."""
    k = 0
    left = total_bytes
    while left > 0:
        n = min(CHUNK_BYTES, left)
        yield random.Random(seed + k).randbytes(CHUNK_BYTES)[:n]
        left -= n
        k += 1


def blob_sha256(total_bytes, seed=SEED):
    h = hashlib.sha256()
    for chunk in blob_chunks(total_bytes, seed):
        h.update(chunk)
    return h.hexdigest()


def write_blob(path, total_bytes, seed=SEED):
    """Writes the stream to `path` and returns its SHA-256 hex digest."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for chunk in blob_chunks(total_bytes, seed):
            h.update(chunk)
            f.write(chunk)
    return h.hexdigest()


def file_sha256(path):
    """SHA-256 hex digest of a file's bytes, to compare with blob_sha256 or write_blob."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


if __name__ == "__main__":
    import sys
    print(blob_sha256(int(sys.argv[1])))
