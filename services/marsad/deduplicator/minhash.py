"""Word shingles, exact fingerprints and MinHash signatures of a matching text.

Everything here is a pure function of the text and a few integers, and
deterministic across processes and machines: the state built from these
values outlives the worker that computed them (it sits in changelog-backed
tables), so nothing may depend on ``PYTHONHASHSEED`` or a random generator
whose stream could change between library versions.

How a signature is made, and why it is fast in Python:

1. The text is split into words once (runs of word characters: punctuation
   and whitespace differences do not change the words).
2. Each word is hashed once with CRC-32 (C speed, stable everywhere).
3. A shingle of ``k`` consecutive words is hashed *vectorised*: the ``k``
   shifted word-hash arrays are combined with odd 64-bit multipliers and
   finalised with a 64-bit mixer, all in numpy ``uint64`` arithmetic (which
   wraps modulo 2**64, exactly what a hash wants).
4. The ``P`` MinHash permutations are multiply-shift hash functions
   ``h_i(x) = (a_i * x + b_i) >> 32`` applied as one ``(P, S)`` numpy
   broadcast, then a minimum along the shingle axis.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"\w+")
_MASK64 = (1 << 64) - 1
# The 64-bit finaliser of SplitMix64 / MurmurHash3: spreads the bits of a
# sum of products so the low and high halves are both well mixed.
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)

U64Array = npt.NDArray[np.uint64]
U32Array = npt.NDArray[np.uint32]


def words(matching_text: str) -> list[str]:
    """Split a matching text into words (runs of letters and digits).

    Args:
        matching_text: Text already folded by the normaliser.

    Returns:
        The words in order; punctuation and whitespace are dropped.
    """
    return _WORD.findall(matching_text)


def exact_key(tokens: list[str]) -> str:
    """Fingerprint of a word sequence: equal iff the word sequences are equal.

    Args:
        tokens: The words of a matching text.

    Returns:
        32 hex digits (128-bit BLAKE2b), so accidental collisions never happen in practice.
    """
    joined = " ".join(tokens).encode("utf-8")
    return hashlib.blake2b(joined, digest_size=16).hexdigest()


def _constants(seed: int, label: str, count: int) -> U64Array:
    """Derive ``count`` odd 64-bit constants from a seed, deterministically."""
    out = np.empty(count, dtype=np.uint64)
    for i in range(count):
        digest = hashlib.blake2b(f"{label}:{seed}:{i}".encode(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "little") | 1
    return out


@lru_cache(maxsize=16)
def _params(seed: int, shingle: int, permutations: int) -> tuple[U64Array, U64Array, U64Array]:
    """Multipliers of the shingle hash and the (a, b) of each permutation, cached."""
    mult = _constants(seed, "shingle", shingle)
    a = _constants(seed, "perm-a", permutations).reshape(-1, 1)
    b = _constants(seed, "perm-b", permutations).reshape(-1, 1)
    return mult, a, b


@lru_cache(maxsize=16)
def _band_mult(seed: int, rows: int) -> U64Array:
    return _constants(seed, "band", rows)


def _mix(x: U64Array) -> U64Array:
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX1
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX2
    return x ^ (x >> np.uint64(31))


def shingle_hashes(tokens: list[str], shingle: int, seed: int = 1) -> U64Array:
    """Distinct 64-bit hashes of the ``shingle``-word windows of a word list.

    A text shorter than one shingle gives one shingle made of all its words,
    so short texts still get a signature; an empty list gives an empty array.

    Args:
        tokens: Words of the text.
        shingle: Words per shingle.
        seed: Selects the hash family (part of the configuration).

    Returns:
        Sorted unique ``uint64`` shingle hashes.
    """
    if not tokens:
        return np.empty(0, dtype=np.uint64)
    w = np.fromiter(
        (zlib.crc32(t.encode("utf-8")) for t in tokens), dtype=np.uint64, count=len(tokens)
    )
    mult, _, _ = _params(seed, shingle, 1)
    k = min(shingle, len(tokens))
    n = len(tokens) - k + 1
    acc = w[:n] * mult[0]
    for j in range(1, k):
        acc = acc + w[j : j + n] * mult[j]
    # The length enters the hash so a short text's single shingle differs
    # from a full-length shingle of the same leading words.
    acc = acc + np.uint64(k)
    return np.unique(_mix(acc))


@dataclass(frozen=True, slots=True)
class Signature:
    """What the deduplicator needs to know about one matching text.

    Attributes:
        values: MinHash values, ``uint32``, one per permutation.
        shingles: Number of distinct shingles (0 for an empty text).
        exact: Fingerprint of the word sequence (:func:`exact_key`).
    """

    values: U32Array
    shingles: int
    exact: str

    def encode(self) -> str:
        """The MinHash values as a compact base64 string (for JSON stores)."""
        return base64.b64encode(self.values.astype("<u4").tobytes()).decode("ascii")

    @staticmethod
    def decode_values(text: str) -> U32Array:
        """Inverse of :meth:`encode` for the values."""
        return np.frombuffer(base64.b64decode(text), dtype="<u4").astype(np.uint32)


def minhash(hashes: U64Array, permutations: int, seed: int = 1) -> U32Array:
    """MinHash values of a set of 64-bit shingle hashes.

    Args:
        hashes: Shingle hashes (duplicates allowed: a minimum ignores them).
        permutations: Number of hash functions.
        seed: Selects the hash family.

    Returns:
        ``permutations`` ``uint32`` values; all ``2**32 - 1`` for an empty set.
    """
    if hashes.size == 0:
        return np.full(permutations, np.iinfo(np.uint32).max, dtype=np.uint32)
    _, a, b = _params(seed, 1, permutations)
    # Multiply-shift: the high 32 bits of a*x+b (mod 2**64) are a
    # 2-universal family, and numpy's wrapping uint64 arithmetic is exactly
    # the mod 2**64 it needs.
    mins = ((a * hashes[np.newaxis, :] + b) >> np.uint64(32)).min(axis=1)
    return mins.astype(np.uint32)


def signature(matching_text: str, shingle: int, permutations: int, seed: int = 1) -> Signature:
    """Words -> shingle hashes -> MinHash, plus the exact fingerprint.

    Args:
        matching_text: The normaliser's matching text.
        shingle: Words per shingle.
        permutations: MinHash length.
        seed: Selects the hash family.

    Returns:
        The :class:`Signature`.
    """
    tokens = words(matching_text)
    hashes = shingle_hashes(tokens, shingle, seed)
    return Signature(minhash(hashes, permutations, seed), int(hashes.size), exact_key(tokens))


def band_hashes(values: U32Array, bands: int, seed: int = 1) -> list[int]:
    """One 64-bit hash per LSH band (``len(values) // bands`` rows each).

    Args:
        values: MinHash values.
        bands: Number of bands.
        seed: Selects the hash family.

    Returns:
        ``bands`` integers below ``2**64``.
    """
    rows = len(values) // bands
    mult = _band_mult(seed, rows)
    grid = values[: bands * rows].astype(np.uint64).reshape(bands, rows)
    acc = (grid * mult[np.newaxis, :]).sum(axis=1, dtype=np.uint64)
    return [int(v) for v in _mix(acc + np.uint64(rows))]


def estimated_jaccard(a: U32Array, b: U32Array) -> float:
    """Fraction of equal MinHash values: an unbiased estimate of the Jaccard similarity."""
    if a.size == 0 or a.size != b.size:
        return 0.0
    return float(np.count_nonzero(a == b)) / float(a.size)
