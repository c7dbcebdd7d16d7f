"""A deflate encoder whose bytes are a function of its input alone.

Why not zlib or ISA-L: their output depends on things outside the input. ISA-L picks a different
match finder per CPU (SSE, AVX2, AVX-512) and one build in 13 gave three images whose pixels were
equal and whose streams were not; zlib's bytes change with the library a Python links (zlib,
zlib-ng, a distribution's patched build). "Same input, same bytes" is promised on any machine, so
the stream is built here from integer numpy operations with every tie broken by symbol order.

The format is what ``zlib`` calls ``Z_RLE``: one dynamic-Huffman block whose only matches are runs
of a repeated byte (distance 1). On Sub-filtered spectrograms that is as small as ISA-L level 1
(runs of padding and flat bands are where the redundancy is) at a few times its CPU time.
"""

from __future__ import annotations

import heapq
import zlib

import numpy as np

# Length symbols 257..285: base lengths and extra bits (RFC 1951, 3.2.5).
_LBASE = np.array([3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
                   131, 163, 195, 227, 258])
_LEXTRA = np.array([0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0])
_LEN_SYMBOL = np.searchsorted(_LBASE, np.arange(259), side="right") - 1  # match length → index into _LBASE
_CL_ORDER = (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15)
_MAX_RUN = 258


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


_REV15 = np.array([int(f"{c:015b}"[::-1], 2) for c in range(1 << 15)], dtype=np.int64)


def canonical_codes(lengths: np.ndarray) -> np.ndarray:
    """Canonical codes (RFC 1951, 3.2.2), bit-reversed: deflate sends them from the top bit."""
    counts = np.bincount(lengths, minlength=16)
    counts[0] = 0
    first = np.zeros(16, dtype=np.int64)
    code = 0
    for bits in range(1, 16):
        code = (code + int(counts[bits - 1])) << 1
        first[bits] = code
    syms = np.flatnonzero(lengths)
    syms = syms[np.argsort(lengths[syms], kind="stable")]  # by length, then symbol
    ls = lengths[syms]
    rank = np.arange(len(syms)) - np.searchsorted(ls, ls)  # position among codes of its length
    codes = np.zeros(len(lengths), dtype=np.int64)
    codes[syms] = _REV15[first[ls] + rank] >> (15 - ls)
    return codes


def pack_bits(values: np.ndarray, nbits: np.ndarray) -> tuple[bytes, int]:
    """Concatenate ``values[i]`` (``nbits[i]`` <= 31 bits) LSB-first into bytes; also the bit count.

    Fields never overlap, so OR-ing them into 32-bit words is a sum, and as no field is longer
    than a word, every word holds the start of one: sums per word are one ``add.reduceat`` over
    the (sorted) word index of each field, plus the bits that spill into the next word.
    """
    pos = np.cumsum(nbits) - nbits
    total = int(pos[-1] + nbits[-1])
    shifted = values << (pos & 31)
    word = pos >> 5
    first = np.flatnonzero(np.diff(word, prepend=-1))
    low = np.add.reduceat(shifted & 0xFFFFFFFF, first)
    spill = np.add.reduceat(shifted >> 32, first)
    words = np.append(low, 0)
    words[1:] += spill
    return words.astype("<u4").tobytes()[: (total + 7) // 8], total


def _tokens(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run-length parse: ``(symbol, match_length)`` per token; match_length 0 for a literal.

    A run of L >= 4 equal bytes is one literal, then matches of 258 (distance 1), then one
    match of the rest if >= 3, else the rest as literals. Other bytes are literals.
    """
    n = len(data)
    starts = np.flatnonzero(np.concatenate(([True], data[1:] != data[:-1])))
    runs = np.diff(np.append(starts, n))
    long = runs >= 4
    if not long.any():
        return data.astype(np.int64), np.zeros(n, dtype=np.int64)
    start, repeat = starts[long], runs[long] - 1  # bytes after each long run's first literal
    full, rest = np.divmod(repeat, _MAX_RUN)
    tail = rest >= 3
    covered = full * _MAX_RUN + np.where(tail, rest, 0)
    edges = np.zeros(n + 1, dtype=np.int32)
    edges[start + 1] += 1
    edges[start + 1 + covered] -= 1
    literal = np.cumsum(edges[:n]) == 0
    n_match = full + tail
    run_of = np.repeat(np.arange(len(start)), n_match)
    k = np.arange(len(run_of)) - np.repeat(np.cumsum(n_match) - n_match, n_match)  # match index in its run
    match_len = np.where(k < full[run_of], _MAX_RUN, rest[run_of])
    match_pos = start[run_of] + 1 + k * _MAX_RUN
    lit_pos = np.flatnonzero(literal)
    slot = np.zeros(len(lit_pos) + len(match_pos), dtype=bool)
    slot[np.searchsorted(lit_pos, match_pos) + np.arange(len(match_pos))] = True
    symbol = np.empty(len(slot), dtype=np.int64)
    length = np.zeros(len(slot), dtype=np.int64)
    symbol[~slot] = data[lit_pos]
    symbol[slot] = 257 + _LEN_SYMBOL[match_len]
    length[slot] = match_len
    return symbol, length


BLOCK = 1 << 20  # input bytes per deflate block: bounds a worker's memory (~40 bytes per input byte)


def deflate_rle(raw: bytes) -> bytes:
    """zlib-format (RFC 1950) stream of ``raw``; byte-identical on every machine.

    One dynamic-Huffman block per :data:`BLOCK` input bytes (a spectrogram PNG is one block);
    the blocks follow each other bit by bit, so the last partial byte carries over.
    """
    data = np.frombuffer(raw, dtype=np.uint8)
    out, carry_v, carry_n = [b"\x78\x01"], 0, 0
    for i in range(0, max(len(data), 1), BLOCK):
        last = i + BLOCK >= len(data)
        values, nbits = _block(data[i : i + BLOCK], last)
        packed, total = pack_bits(np.concatenate(([carry_v], values)), np.concatenate(([carry_n], nbits)))
        if last:
            out.append(packed)
        else:
            out.append(packed[: total // 8])
            carry_n = total % 8
            carry_v = packed[total // 8] if carry_n else 0
    return b"".join(out) + zlib.adler32(raw).to_bytes(4, "big")


def _block(data: np.ndarray, last: bool) -> tuple[np.ndarray, np.ndarray]:
    """Bit fields ``(values, nbits)`` of one dynamic-Huffman block: header, tokens, end of block."""
    symbol, length = (np.zeros(0, np.int64),) * 2 if not len(data) else _tokens(data)
    lit_len = code_lengths(np.bincount(symbol, minlength=286) + (np.arange(286) == 256), 15)
    lit_codes = canonical_codes(lit_len)
    dist_len = np.array([1, 1])  # one distance (1) is used; a two-code set keeps it complete
    hlit = max(257, int(np.flatnonzero(lit_len).max()) + 1)
    cl_sym, cl_extra, cl_bits = _rle_lengths(np.concatenate((lit_len[:hlit], dist_len)))
    cl_len = code_lengths(np.bincount(cl_sym, minlength=19), 7)
    cl_codes = canonical_codes(cl_len)
    hclen = max(4, max(i for i, s in enumerate(_CL_ORDER) if cl_len[s]) + 1)

    head_v = [int(last), 2, hlit - 257, len(dist_len) - 1, hclen - 4] + [int(cl_len[s]) for s in _CL_ORDER[:hclen]]
    head_n = [1, 2, 5, 5, 4] + [3] * hclen
    for s, e, b in zip(cl_sym, cl_extra, cl_bits):
        head_v.append(int(cl_codes[s]) | (e << int(cl_len[s])))
        head_n.append(int(cl_len[s]) + b)
    # one field per token: its code, then a match's extra length bits and its 1-bit distance code 0
    values, nbits = lit_codes[symbol], lit_len[symbol]
    m = np.flatnonzero(length)
    if len(m):
        li = _LEN_SYMBOL[length[m]]
        values[m] |= (length[m] - _LBASE[li]) << nbits[m]
        nbits[m] += _LEXTRA[li] + 1
    values = np.concatenate((np.array(head_v, np.int64), values, [lit_codes[256]]))
    nbits = np.concatenate((np.array(head_n, np.int64), nbits, [lit_len[256]]))
    return values, nbits


def deflate_stored(raw: bytes) -> bytes:
    """zlib-format stream of ``raw`` in stored (uncompressed) blocks of at most 65,535 bytes."""
    parts = [b"\x78\x01"]
    for i in range(0, max(len(raw), 1), 0xFFFF):
        chunk = raw[i : i + 0xFFFF]
        last = i + 0xFFFF >= len(raw)
        parts += [bytes([last]), len(chunk).to_bytes(2, "little"), (len(chunk) ^ 0xFFFF).to_bytes(2, "little"), chunk]
    return b"".join(parts) + zlib.adler32(raw).to_bytes(4, "big")


def _rle_lengths(lengths: np.ndarray) -> tuple[list[int], list[int], list[int]]:
    """Code lengths as code-length symbols (16: repeat previous 3-6, 17/18: zeros 3-10/11-138)."""
    out: list[tuple[int, int, int]] = []  # (symbol, extra value, extra bits)
    values = [int(v) for v in lengths]
    i, n = 0, len(values)
    while i < n:
        v, j = values[i], i
        while j < n and values[j] == v:
            j += 1
        run = j - i
        if v == 0:
            while run >= 11:
                r = min(run, 138)
                out.append((18, r - 11, 7))
                run -= r
            if run >= 3:
                out.append((17, run - 3, 3))
                run = 0
        else:
            out.append((v, 0, 0))
            run -= 1
            while run >= 3:
                r = min(run, 6)
                out.append((16, r - 3, 2))
                run -= r
        out += [(v, 0, 0)] * run
        i = j
    return [o[0] for o in out], [o[1] for o in out], [o[2] for o in out]
