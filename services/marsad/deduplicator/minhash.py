r"""Word shingles, exact fingerprints and MinHash signatures of a matching text.

Everything here is a pure function of the text and a few integers, and
deterministic across processes and machines: the state built from these
values outlives the worker that computed them (it sits in changelog-backed
tables), so nothing may depend on ``PYTHONHASHSEED`` or a random generator
whose stream could change between library versions.

How a signature is made without a Python loop over words:

1. The text is viewed as an array of code points (``utf-32``) and a lookup
   table marks the word characters: letters and digits, as the regular
   expression ``[^\\W_]`` would (punctuation, spacing and the underscore of
   hashtags separate words).
2. Every word gets a 64-bit polynomial hash ``sum(c_j * P**j)`` from one
   prefix sum over the whole text: ``(S[end] - S[start]) * P**-start``,
   numpy ``uint64`` arithmetic wrapping modulo 2**64 (``P`` is odd, so it
   has an inverse).
3. Outlet spelling variants (a small lexicon) are replaced or dropped by a
   ``searchsorted`` over their hashes.
4. A shingle of ``k`` consecutive words is a sum of the ``k`` shifted word
   hashes times odd multipliers, finalised with a 64-bit mixer.
5. The ``P`` MinHash permutations are multiply-shift hash functions
   ``h_i(x) = (a_i * x + b_i) >> 32`` applied as one ``(P, S)`` broadcast,
   then a minimum along the shingle axis.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

# Runs of letters and digits; the underscore joins words in hashtags
# ("#مجلس_الأمن"), so it separates words here like a space.
_WORD = re.compile(r"[^\W_]+")
_VARIANTS_PATH = Path(__file__).with_name("data") / "matching_variants.tsv"
# Clitics glued in front of a variant keep it a variant: waw, beh, lam, feh.
_CLITICS = ("\u0648", "\u0628", "\u0644", "\u0641")
_MAX_CODE_POINT = 0x110000
# The 64-bit finaliser of SplitMix64: spreads the bits of a sum of products
# so the low and high halves are both well mixed.
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
# A hash value no word gets in practice, marking a variant to drop.
_DROP = np.uint64(0)
# The shingle count is appended to an encoded signature in this many bytes:
# not a multiple of 4, so it cannot be mistaken for one more MinHash value.
_COUNT_BYTES = 3
_COUNT_MAX = (1 << (8 * _COUNT_BYTES)) - 1
# An order sample follows the count with its length in 2 bytes, so an
# encoding with one is 1 modulo 4 long (3 + 2); a text of more than 65,535
# sampled shingles (some 500,000 words) keeps its first ones.
_ORDER_LEN_BYTES = 2
_ORDER_MAX = (1 << (8 * _ORDER_LEN_BYTES)) - 1
# Which bits of a shingle hash choose it for the order sample: bits the
# stored low 32 bits do not include, so the kept values are not all
# multiples of the rate.
_ORDER_SHIFT = np.uint64(40)

U64Array = npt.NDArray[np.uint64]
U32Array = npt.NDArray[np.uint32]


def words(matching_text: str) -> list[str]:
    """Split a matching text into words (runs of letters and digits).

    The vectorised :func:`word_hashes` finds the same words; this is the
    readable reference, used for the variant lexicon and in tests.

    Args:
        matching_text: Text already folded by the normaliser.

    Returns:
        The words in order; punctuation, underscores and whitespace are dropped.
    """
    return _WORD.findall(matching_text)


@lru_cache(maxsize=1)
def _word_char_table() -> npt.NDArray[np.bool_]:
    """For every code point: is it a letter or digit? Built once, on first use."""
    table = np.zeros(_MAX_CODE_POINT, dtype=np.bool_)
    # Only the BMP occurs in news text in practice, but the table is total so
    # any code point indexes it; str.isalnum is exactly \w without "_".
    for cp in range(_MAX_CODE_POINT):
        if chr(cp).isalnum():
            table[cp] = True
    return table


def _constants(seed: int, label: str, count: int) -> U64Array:
    """Derive ``count`` odd 64-bit constants from a seed, deterministically."""
    out = np.empty(count, dtype=np.uint64)
    for i in range(count):
        digest = hashlib.blake2b(f"{label}:{seed}:{i}".encode(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "little") | 1
    return out


class _Powers:
    """Powers of the character multiplier and of its inverse, grown on demand."""

    def __init__(self, seed: int) -> None:
        p = int(_constants(seed, "char", 1)[0])
        self.p = np.uint64(p)
        self.inv = np.uint64(pow(p, -1, 1 << 64))
        self.pow: U64Array = np.ones(1, dtype=np.uint64)
        self.inv_pow: U64Array = np.ones(1, dtype=np.uint64)

    def ensure(self, n: int) -> None:
        if n <= len(self.pow):
            return
        size = max(n, 2 * len(self.pow))
        one = np.ones(1, dtype=np.uint64)
        # cumprod wraps modulo 2**64 in uint64, which is the arithmetic
        # wanted (every operand stays uint64: a Python int would turn the
        # arrays into float64 and lose the low bits).
        self.pow = np.concatenate((one, np.cumprod(np.full(size - 1, self.p, dtype=np.uint64))))
        self.inv_pow = np.concatenate(
            (one, np.cumprod(np.full(size - 1, self.inv, dtype=np.uint64)))
        )


@lru_cache(maxsize=4)
def _powers(seed: int) -> _Powers:
    return _Powers(seed)


def _mix(x: U64Array) -> U64Array:
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX1
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX2
    return x ^ (x >> np.uint64(31))


def word_hashes(matching_text: str, seed: int = 1) -> U64Array:
    """64-bit hashes of the words of a text, in order (see the module docstring).

    Args:
        matching_text: The normaliser's matching text.
        seed: Selects the hash family.

    Returns:
        One ``uint64`` per word; equal words get equal hashes.
    """
    if not matching_text:
        return np.empty(0, dtype=np.uint64)
    cps = np.frombuffer(matching_text.encode("utf-32-le"), dtype=np.uint32)
    # Word edges from a zero-padded 0/1 copy (np.diff with prepend/append
    # costs more than the arithmetic itself at this size).
    padded = np.zeros(len(cps) + 2, dtype=np.int8)
    padded[1:-1] = _word_char_table()[cps]
    edges = padded[1:] - padded[:-1]
    starts = np.flatnonzero(edges == 1)
    if starts.size == 0:
        return np.empty(0, dtype=np.uint64)
    ends = np.flatnonzero(edges == -1)
    pw = _powers(seed)
    pw.ensure(len(cps) + 1)
    prefix = np.empty(len(cps) + 1, dtype=np.uint64)
    prefix[0] = 0
    np.cumsum(cps.astype(np.uint64) * pw.pow[: len(cps)], out=prefix[1:])
    raw = (prefix[ends] - prefix[starts]) * pw.inv_pow[starts]
    out = _mix(raw)
    out[out == _DROP] = np.uint64(1)  # keep the drop marker free
    return out


def hash_word(word: str, seed: int = 1) -> int:
    """The hash :func:`word_hashes` gives one word."""
    hashes = word_hashes(word, seed)
    if hashes.size != 1:
        raise ValueError(f"not a single word: {word!r}")
    return int(hashes[0])


@lru_cache(maxsize=1)
def load_variants() -> dict[str, str]:
    """The spelling-variant lexicon (``data/matching_variants.tsv``), clitic forms included.

    Returns:
        Folded word -> canonical folded word; an empty canonical form drops the word.
    """
    table: dict[str, str] = {}
    with _VARIANTS_PATH.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip() or line.startswith("#"):
                continue
            form, _, canon = line.rstrip("\n").partition("\t")
            table[form.strip()] = canon.strip()
    for form, canon in list(table.items()):
        for clitic in _CLITICS:
            table.setdefault(clitic + form, clitic + canon if canon else "")
    return table


@lru_cache(maxsize=4)
def _variant_arrays(seed: int) -> tuple[U64Array, U64Array]:
    """Sorted hashes of the variant forms and the hash each maps to (``_DROP``: remove)."""
    pairs = sorted(
        (hash_word(form, seed), hash_word(canon, seed) if canon else int(_DROP))
        for form, canon in load_variants().items()
    )
    keys = np.array([k for k, _ in pairs], dtype=np.uint64)
    values = np.array([v for _, v in pairs], dtype=np.uint64)
    return keys, values


def apply_variants(hashes: U64Array, seed: int = 1) -> U64Array:
    """Word hashes with spelling variants replaced by their canonical form, dropped ones removed."""
    keys, values = _variant_arrays(seed)
    if hashes.size == 0 or keys.size == 0:
        return hashes
    idx = np.minimum(np.searchsorted(keys, hashes), keys.size - 1)
    hit = keys[idx] == hashes
    if not hit.any():
        return hashes
    out = hashes.copy()
    out[hit] = values[idx[hit]]
    return out[out != _DROP]


def exact_key(hashes: U64Array) -> str:
    """Fingerprint of a word sequence: equal iff the words are equal (up to 64-bit collisions).

    Args:
        hashes: :func:`word_hashes` of the text as written (no variants applied).

    Returns:
        32 hex digits (128-bit BLAKE2b of the word hashes).
    """
    data = hashes.astype("<u8").tobytes()
    return hashlib.blake2b(data, digest_size=16).hexdigest()


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


def shingle_sequence(hashes: U64Array, shingle: int, seed: int = 1) -> U64Array:
    """64-bit hashes of the ``shingle``-word windows of a word-hash sequence, in text order.

    A text shorter than one shingle gives one shingle made of all its words,
    so short texts still get a signature; no words give an empty array.

    Args:
        hashes: Word hashes in text order.
        shingle: Words per shingle.
        seed: Selects the hash family (part of the configuration).

    Returns:
        One ``uint64`` per window, repeats included, in the order of the text.
    """
    if hashes.size == 0:
        return np.empty(0, dtype=np.uint64)
    mult, _, _ = _params(seed, shingle, 1)
    k = min(shingle, hashes.size)
    n = hashes.size - k + 1
    acc = hashes[:n] * mult[0]
    for j in range(1, k):
        acc = acc + hashes[j : j + n] * mult[j]
    # The length enters the hash so a short text's single shingle differs
    # from a full-length shingle of the same leading words.
    acc = acc + np.uint64(k)
    return _mix(acc)


def shingle_hashes(hashes: U64Array, shingle: int, seed: int = 1) -> U64Array:
    """Distinct 64-bit hashes of the ``shingle``-word windows of a word-hash sequence.

    Args:
        hashes: Word hashes in text order.
        shingle: Words per shingle.
        seed: Selects the hash family (part of the configuration).

    Returns:
        Sorted unique ``uint64`` shingle hashes (see :func:`shingle_sequence`).
    """
    return np.unique(shingle_sequence(hashes, shingle, seed))


def order_sample(sequence: U64Array, rate: int) -> U32Array:
    """The shingles of a text kept by content (about one in ``rate``), in text order.

    A shingle is kept when bits 40.. of its hash are 0 modulo ``rate``: the
    choice depends on the shingle alone, so two texts keep the same shingles
    of what they share and the kept ones can be matched in order
    (:func:`marsad.deduplicator.resemblance.ordered_cover`).  The low 32 bits
    are stored; a repeated value is kept at its first place only.

    Args:
        sequence: :func:`shingle_sequence` of the text.
        rate: Keep one shingle in ``rate`` on average; 0 keeps none.

    Returns:
        ``uint32`` values in the order the shingles first occur.
    """
    if rate <= 0 or sequence.size == 0:
        return np.empty(0, dtype=np.uint32)
    kept = sequence[(sequence >> _ORDER_SHIFT) % np.uint64(rate) == 0].astype(np.uint32)
    # dict keeps the first place of each value (a few dozen: cheaper than np.unique).
    return np.fromiter(dict.fromkeys(kept.tolist()), dtype=np.uint32)


@dataclass(frozen=True, slots=True)
class Signature:
    """What the deduplicator needs to know about one matching text.

    Attributes:
        values: MinHash values, ``uint32``, one per permutation.
        shingles: Number of distinct shingles (0 for a text without words).
        exact: Fingerprint of the word sequence (:func:`exact_key`).
        order: Content-sampled shingles in text order (:func:`order_sample`);
            empty when the configuration keeps none.
    """

    values: U32Array
    shingles: int
    exact: str
    order: U32Array = field(default_factory=lambda: np.empty(0, dtype=np.uint32))

    def encode(self) -> str:
        """The signature as a compact base64 string (for JSON stores).

        Layout: the MinHash values (4 bytes each), then, when the text has an
        order sample, its values (4 bytes each), then the shingle count as 3
        little-endian bytes (capped at ``2**24 - 1``), then, with a sample,
        its length as 2 bytes.  The length modulo 4 tells the layouts apart:
        0 is an older encoding without the count, 3 has the count, 1 has
        the count and a sample.  A candidate's containment is estimated from
        its Jaccard similarity and both counts, its ordered cover from both
        samples (:mod:`marsad.deduplicator.resemblance`).
        """
        count = min(self.shingles, _COUNT_MAX).to_bytes(_COUNT_BYTES, "little")
        raw = self.values.astype("<u4").tobytes()
        if self.order.size:
            kept = self.order[:_ORDER_MAX]
            raw += kept.astype("<u4").tobytes() + count + kept.size.to_bytes(
                _ORDER_LEN_BYTES, "little")
        else:
            raw += count
        return base64.b64encode(raw).decode("ascii")

    @staticmethod
    def _split(raw: bytes) -> tuple[bytes, int, bytes]:
        """The values' bytes, the shingle count and the order sample's bytes of an encoding."""
        tail = len(raw) % 4
        if tail == _COUNT_BYTES:
            return raw[:-_COUNT_BYTES], int.from_bytes(raw[-_COUNT_BYTES:], "little"), b""
        if tail == (_COUNT_BYTES + _ORDER_LEN_BYTES) % 4:
            kept = int.from_bytes(raw[-_ORDER_LEN_BYTES:], "little")
            end = len(raw) - _ORDER_LEN_BYTES - _COUNT_BYTES
            count = int.from_bytes(raw[end : end + _COUNT_BYTES], "little")
            return raw[: end - 4 * kept], count, raw[end - 4 * kept : end]
        return raw[: len(raw) - tail], 0, b""

    @staticmethod
    def decode_values(text: str) -> U32Array:
        """Inverse of :meth:`encode` for the values."""
        values, _, _ = Signature._split(base64.b64decode(text))
        return np.frombuffer(values, dtype="<u4").astype(np.uint32)

    @staticmethod
    def decode_shingles(text: str) -> int:
        """Inverse of :meth:`encode` for the shingle count (0 when the encoding has none)."""
        return Signature._split(base64.b64decode(text))[1]

    @staticmethod
    def decode_order(text: str) -> U32Array:
        """Inverse of :meth:`encode` for the order sample (empty when the encoding has none)."""
        _, _, order = Signature._split(base64.b64decode(text))
        return np.frombuffer(order, dtype="<u4").astype(np.uint32)

    @staticmethod
    def decode(text: str) -> tuple[U32Array, int]:
        """Inverse of :meth:`encode`: the values and the shingle count, decoded once."""
        values, count, _ = Signature._split(base64.b64decode(text))
        return np.frombuffer(values, dtype="<u4").astype(np.uint32), count

    @staticmethod
    def decode_all(text: str) -> tuple[U32Array, int, U32Array]:
        """Inverse of :meth:`encode`: the values, the shingle count and the order sample."""
        values, count, order = Signature._split(base64.b64decode(text))
        return (np.frombuffer(values, dtype="<u4").astype(np.uint32), count,
                np.frombuffer(order, dtype="<u4").astype(np.uint32))


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
    # the mod 2**64 it needs.  Taking the high bits is monotonic, so it
    # commutes with the minimum and is applied to the P minima only; the
    # (P, S) product is computed in place to save allocations.
    grid = np.multiply(a, hashes[np.newaxis, :])
    grid += b
    mins = grid.min(axis=1) >> np.uint64(32)
    return mins.astype(np.uint32)


def signature(
    matching_text: str,
    shingle: int,
    permutations: int,
    seed: int = 1,
    variants: bool = True,
    order_rate: int = 0,
) -> Signature:
    """Word hashes -> shingle hashes -> MinHash, plus the exact fingerprint.

    Args:
        matching_text: The normaliser's matching text.
        shingle: Words per shingle.
        permutations: MinHash length.
        seed: Selects the hash family.
        variants: Apply the spelling-variant lexicon to the shingled words
            (the exact fingerprint sees the words as written).
        order_rate: Keep about one shingle in this many, in text order, for
            the ordered cover (:func:`order_sample`); 0 keeps none.

    Returns:
        The :class:`Signature`.
    """
    hashes = word_hashes(matching_text, seed)
    shingled = apply_variants(hashes, seed) if variants else hashes
    sequence = shingle_sequence(shingled, shingle, seed)
    sh = np.unique(sequence)
    return Signature(minhash(sh, permutations, seed), int(sh.size), exact_key(hashes),
                     order_sample(sequence, order_rate))


def band_hashes(values: U32Array, bands: int, seed: int = 1) -> U64Array:
    """One 64-bit hash per LSH band (``len(values) // bands`` rows each).

    Args:
        values: MinHash values.
        bands: Number of bands.
        seed: Selects the hash family.

    Returns:
        ``bands`` ``uint64`` values.
    """
    rows = len(values) // bands
    mult = _band_mult(seed, rows)
    grid = values[: bands * rows].astype(np.uint64).reshape(bands, rows)
    acc = (grid * mult[np.newaxis, :]).sum(axis=1, dtype=np.uint64)
    return _mix(acc + np.uint64(rows))


@lru_cache(maxsize=8)
def _band_prefixes(bands: int) -> tuple[str, ...]:
    return tuple(f"{i}:" for i in range(bands))


def band_key_strings(values: U32Array, bands: int, seed: int = 1) -> list[str]:
    """``<band>:<16 hex digits>`` for every band: the LSH bucket keys of a signature."""
    hx = band_hashes(values, bands, seed).astype(">u8").tobytes().hex()
    return [pre + hx[16 * i : 16 * i + 16] for i, pre in enumerate(_band_prefixes(bands))]


def estimated_jaccard(a: U32Array, b: U32Array) -> float:
    """Fraction of equal MinHash values: an unbiased estimate of the Jaccard similarity."""
    if a.size == 0 or a.size != b.size:
        return 0.0
    return float(np.count_nonzero(a == b)) / float(a.size)
