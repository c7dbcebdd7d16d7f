"""A deflate encoder whose bytes are a function of its input alone.

Why not zlib or ISA-L: their output depends on things outside the input. ISA-L picks a different
match finder per CPU (SSE, AVX2, AVX-512) and one build in 13 gave three images whose pixels were
equal and whose streams were not; zlib's bytes change with the library a Python links (zlib,
zlib-ng, a distribution's patched build). "Same input, same bytes" is promised on any machine, so
the stream is built here from integer numpy operations with every tie broken by symbol order.

The format is what ``zlib`` calls ``Z_RLE``: one dynamic-Huffman block whose only matches are runs
of a repeated byte (distance 1). On Sub-filtered spectrograms that is as small as ISA-L level 1
(runs of padding and flat bands are where the redundancy is).

Speed: every input byte is one *slot* (a literal, a match, or a zero-width field for a byte a
match covers) and so is every header field; a slot's bit field is one lookup in a per-block table,
so the work per byte is a few whole-array numpy passes, and Python loops only run over the <= 288
symbols of a code.
"""

from __future__ import annotations

import zlib

import numpy as np

# Match lengths 3..258 (RFC 1951, 3.2.5): length symbol 257 + _MSYM, extra bits' value and count.
_LBASE = np.array([3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
                   131, 163, 195, 227, 258])
_MLEN = np.arange(3, 259)
_MSYM = np.searchsorted(_LBASE, _MLEN, side="right") - 1
_MEXTRA = _MLEN - _LBASE[_MSYM]
_MEXTRA_BITS = np.array([0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0])[_MSYM]
# Slots: 0..255 a literal byte, 256 end of block, 254 + L a match of length L, _COVERED a byte
# inside a match (a zero-width field), then one per header field.
_COVERED = 257 + len(_MLEN)
_MAX_RUN = 258
_CL_ORDER = np.array([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15])
_CL_EXTRA_BITS = np.array([0] * 16 + [2, 3, 7])  # code-length symbols 16, 17, 18 repeat
_REV8 = np.packbits(np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1), axis=1, bitorder="little").ravel()
_REV15 = (_REV8[np.arange(1 << 15) & 255].astype(np.uint16) << 7) | (_REV8[np.arange(1 << 15) >> 8] >> 1)
_HEAD = 320  # slots for header fields (<= 1 + 5 + 19 + 288); unused ones stay zero-width
_ROWS = 8  # fields are packed as (_ROWS, chunks): see pack_bits


def code_lengths(freq: np.ndarray, limit: int) -> np.ndarray:
    """Huffman code lengths (<= ``limit`` bits) for symbol frequencies; ties go by symbol order.

    At least two symbols get a code, so that every code set is complete (inflaters reject
    incomplete ones). Past ``limit``, frequencies are halved (floor 1) and the tree rebuilt.
    """
    freq = np.asarray(freq, dtype=np.int64).copy()
    if np.count_nonzero(freq) < 2:
        freq[np.flatnonzero(freq == 0)[: 2 - np.count_nonzero(freq)]] = 1
    while True:
        lengths = _huffman(freq)
        if lengths.max() <= limit:
            return lengths
        freq = np.where(freq > 0, np.maximum(freq >> 1, 1), 0)


def _huffman(freq: np.ndarray) -> np.ndarray:
    """Code lengths by the two-queue method: leaves sorted by (weight, symbol), merged nodes in
    creation order (their weights never decrease); on equal weights a leaf goes first."""
    used = np.flatnonzero(freq)
    order = used[np.argsort(freq[used], kind="stable")]
    n = len(order)
    weight = freq[order].tolist() + [0] * (n - 1)  # leaves 0..n-1, merged nodes n..2n-2
    parent = [0] * (2 * n - 1)
    i, j = 0, n  # the next leaf and the next merged node to take
    for node in range(n, 2 * n - 1):
        if i < n and (j >= node or weight[i] <= weight[j]):
            a, i = i, i + 1
        else:
            a, j = j, j + 1
        if i < n and (j >= node or weight[i] <= weight[j]):
            b, i = i, i + 1
        else:
            b, j = j, j + 1
        weight[node] = weight[a] + weight[b]
        parent[a] = parent[b] = node
    depth = [0] * (2 * n - 1)
    for node in range(2 * n - 3, -1, -1):  # parents come after their children
        depth[node] = depth[parent[node]] + 1
    lengths = np.zeros(len(freq), dtype=np.int64)
    lengths[order] = depth[:n]
    return lengths


def canonical_codes(lengths: np.ndarray) -> np.ndarray:
    """Canonical codes (RFC 1951, 3.2.2), bit-reversed: deflate sends them from the top bit."""
    counts = np.bincount(lengths, minlength=16).tolist()
    first, code = [0] * 16, 0
    for bits in range(2, 16):
        code = (code + counts[bits - 1]) << 1
        first[bits] = code
    syms = np.argsort(lengths, kind="stable")[counts[0] :]  # used symbols by length, then symbol
    ls = lengths[syms]
    rank = np.arange(len(syms)) - np.searchsorted(ls, ls)  # position among codes of its length
    codes = np.zeros(len(lengths), dtype=np.int64)
    codes[syms] = _REV15[np.array(first)[ls] + rank] >> (15 - ls)
    return codes


def pack_bits(values: np.ndarray, nbits: np.ndarray) -> tuple[bytes, int]:
    """Concatenate bit fields LSB-first into bytes; also the bit count.

    ``values``, ``nbits``: int64 ``(rows, chunks)``, each column ``rows`` consecutive fields of
    <= 21 bits (the stream is the columns in order). A 1-D prefix sum is one slow sequential
    pass; here the rows are added as vectors, then one short prefix sum over the chunks.
    Fields never overlap, so OR-ing them into 32-bit words is a sum. Each field, shifted to its
    place in its word, is below 2**53, and so is every sum of them: float64 adds them exactly,
    and ``bincount`` (one scatter pass, measured faster than ``reduceat`` with its group starts)
    gives each word's sum; the bits past 32 spill into the next word.
    """
    pos = np.empty_like(nbits)
    pos[0] = 0
    for r in range(1, len(pos)):
        np.add(pos[r - 1], nbits[r - 1], out=pos[r])
    size = pos[-1] + nbits[-1]  # bits per chunk
    start = np.cumsum(size)
    total = int(start[-1])
    pos += start - size
    sums = np.bincount((pos >> 5).ravel(), weights=(values << (pos & 31)).astype(np.float64).ravel(),
                       minlength=(total >> 5) + 1).astype(np.int64)
    words = sums & 0xFFFFFFFF
    words[1:] += sums[:-1] >> 32
    return words.astype("<u4").tobytes()[: (total + 7) // 8], total


def _slots(data: np.ndarray) -> np.ndarray:
    """Slots: :data:`_HEAD` for the header, one per byte of ``data`` (uint8, ``(n,)``), end of
    block, then zero-width padding to a multiple of :data:`_ROWS`; intp.

    A run of L >= 4 equal bytes is one literal, then matches of 258 (distance 1), then one
    match of the rest if >= 3, else the rest as literals. Other bytes are literals.
    """
    n = len(data)
    slots = np.empty(_HEAD + n + 1 + (-(_HEAD + n + 1) % _ROWS), dtype=np.intp)
    slots[:_HEAD] = slots[_HEAD + n + 1 :] = _COVERED
    slots[_HEAD + n] = 256
    body = slots[_HEAD : _HEAD + n]
    body[:] = data
    same = data[1:] == data[:-1]
    long = np.zeros(max(n - 1, 2), dtype=bool)  # long[i + 1]: data[i : i + 4] are equal
    np.logical_and(same[:-2], same[1:-1], out=long[1:-1])
    long[1:-1] &= same[2:]
    edges = np.flatnonzero(long[1:] != long[:-1])
    if not len(edges):
        return slots
    start, repeat = edges[0::2], edges[1::2] - edges[0::2] + 2  # bytes after each run's first literal
    full, rest = np.divmod(repeat, _MAX_RUN)
    tail = rest >= 3
    covered = full * _MAX_RUN + np.where(tail, rest, 0)
    end = np.cumsum(covered)
    body[np.repeat(start + 1 - end + covered, covered) + np.arange(end[-1])] = _COVERED
    if not full.any():  # the usual case: one match per run
        body[start + 1] = 254 + rest
    else:
        n_match = full + tail
        run_of = np.repeat(np.arange(len(start)), n_match)
        k = np.arange(len(run_of)) - np.repeat(np.cumsum(n_match) - n_match, n_match)  # match index in its run
        body[start[run_of] + 1 + k * _MAX_RUN] = 254 + np.where(k < full[run_of], _MAX_RUN, rest[run_of])
    if 4 * end[-1] > n:  # mostly runs: drop the zero-width fields before the per-slot passes
        kept = body[body != _COVERED]
        slots = np.full(_HEAD + len(kept) + 1 + (-(_HEAD + len(kept) + 1) % _ROWS), _COVERED, dtype=np.intp)
        slots[_HEAD : _HEAD + len(kept)] = kept
        slots[_HEAD + len(kept)] = 256
    return slots


BLOCK = 1 << 20  # input bytes per deflate block: bounds a worker's memory (~50 bytes per input byte)


def deflate_rle(raw: bytes) -> bytes:
    """zlib-format (RFC 1950) stream of ``raw``; byte-identical on every machine.

    One dynamic-Huffman block per :data:`BLOCK` input bytes (a spectrogram PNG is one block);
    the blocks follow each other bit by bit, so the last partial byte carries over.
    """
    data = np.frombuffer(raw, dtype=np.uint8)
    out, carry = [b"\x78\x01"], (0, 0)
    for i in range(0, max(len(data), 1), BLOCK):
        last = i + BLOCK >= len(data)
        packed, total = pack_bits(*_block(data[i : i + BLOCK], last, carry))
        if last:
            out.append(packed)
        else:
            out.append(packed[: total // 8])
            carry = (packed[total // 8] if total % 8 else 0, total % 8)
    return b"".join(out) + zlib.adler32(raw).to_bytes(4, "big")


def _block(data: np.ndarray, last: bool, carry: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Bit fields ``(values, nbits)``, ``(_ROWS, chunks)``, of one dynamic-Huffman block after the
    ``carry`` bits ``(value, count)`` left by the previous block: header, slots, end of block."""
    slots = _slots(data)
    count = np.bincount(slots, minlength=_COVERED + 1)
    lit_len = code_lengths(np.concatenate((count[:257], np.add.reduceat(count[257:_COVERED], _LBASE - 3))), 15)
    lit_codes = canonical_codes(lit_len)
    hlit = max(257, int(np.flatnonzero(lit_len).max()) + 1)
    cl_sym, cl_extra = _rle_lengths(np.concatenate((lit_len[:hlit], [1, 1])))  # distance code: 2 of 1 bit
    cl_len = code_lengths(np.bincount(cl_sym, minlength=19), 7)
    cl_codes = canonical_codes(cl_len)
    hclen = max(4, int(np.flatnonzero(cl_len[_CL_ORDER]).max()) + 1)

    # a match's field: its length code, extra length bits, then the 1-bit code 0 of distance 1
    m_len = lit_len[257 + _MSYM]
    head_v = np.concatenate(([carry[0], last, 2, hlit - 257, 1, hclen - 4], cl_len[_CL_ORDER[:hclen]],
                             cl_codes[cl_sym] | (cl_extra << cl_len[cl_sym])))
    head_n = np.concatenate(([carry[1], 1, 2, 5, 5, 4], [3] * hclen, cl_len[cl_sym] + _CL_EXTRA_BITS[cl_sym]))
    field_v = np.concatenate((lit_codes[:257], lit_codes[257 + _MSYM] | (_MEXTRA << m_len), [0], head_v))
    field_n = np.concatenate((lit_len[:257], m_len + _MEXTRA_BITS + 1, [0], head_n))
    slots[: len(head_v)] = np.arange(_COVERED + 1, _COVERED + 1 + len(head_v))
    # one gather of (value, nbits) pairs beats two (the slots are read across, with a stride)
    fields = np.take(np.stack((field_v, field_n), axis=1), slots.reshape(-1, _ROWS).T, axis=0)
    return fields[..., 0], fields[..., 1]


def deflate_stored(raw: bytes) -> bytes:
    """zlib-format stream of ``raw`` in stored (uncompressed) blocks of at most 65,535 bytes."""
    parts = [b"\x78\x01"]
    for i in range(0, max(len(raw), 1), 0xFFFF):
        chunk = raw[i : i + 0xFFFF]
        last = i + 0xFFFF >= len(raw)
        parts += [bytes([last]), len(chunk).to_bytes(2, "little"), (len(chunk) ^ 0xFFFF).to_bytes(2, "little"), chunk]
    return b"".join(parts) + zlib.adler32(raw).to_bytes(4, "big")



def _rle_runs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How a run of r equal code lengths is sent, for row ``r + 289 * (length != 0)``, r <= 288:
    4 kinds of code-length symbol (the length once (nonzero only), full repeats, one repeat of
    the rest, the rest as is), each as (symbol, extra value, count); symbol -1 is the length."""
    nz = np.repeat([0, 1], 289)
    rest = np.maximum(np.tile(np.arange(289), 2) - nz, 0)  # after a nonzero length's first copy
    big, t = np.divmod(rest, 138 - 132 * nz)  # 18: 138 zeros, 16: 6 repeats
    tail = t >= 3
    sym = np.stack((-nz, 18 - 2 * nz, np.where(nz, 16, np.where(t >= 11, 18, 17)), -nz), axis=1)
    extra = np.stack((0 * nz, 127 - 124 * nz, t - np.where(nz | (t < 11), 3, 11), 0 * nz), axis=1)
    return sym, extra, np.stack((nz, big, tail, np.where(tail, 0, t)), axis=1)


_RLE_SYM, _RLE_EXTRA, _RLE_COUNT = _rle_runs()


def _rle_lengths(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Code lengths (``(m,)``, m <= 288) as code-length symbols (16: repeat the previous 3-6 times,
    17/18: 3-10/11-138 zeros) and each symbol's extra-bit value; two int64 arrays."""
    starts = np.flatnonzero(np.diff(lengths, prepend=-1))
    v = lengths[starts]
    row = np.diff(starts, append=len(lengths)) + 289 * (v != 0)
    sym = _RLE_SYM[row]
    sym[:, [0, 3]] = v[:, None]
    count = _RLE_COUNT[row].ravel()
    return np.repeat(sym.ravel(), count), np.repeat(_RLE_EXTRA[row].ravel(), count)
