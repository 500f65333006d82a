"""Compiled loops (numba) for the venue hops: each check-in is read about once per pass.

The rules are those of epicore.tracing.reference (docs/tracing.md, "Definitions"); the driver
is epicore.tracing.sweep. Every parallel loop splits the rows into `parts` contiguous ranges,
one per thread, and each part writes only its own slot of the outputs, so no two threads
write one place and the merged answer does not depend on the split.

People and venues are addressed by dense indexes (id - smallest id): the driver checks that
the ranges are small enough for per-person and per-venue arrays before it comes here.
Times are int64 seconds inside the loops whatever the width of the input arrays.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

NONE = np.iinfo(np.int64).max  # "no exposure yet" in a best-start slot
MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True, inline="always")
def part_range(n, parts, c):
    return n * c // parts, n * (c + 1) // parts


# --- Loading: checks and repairs in one pass ------------------------------------------------

# Columns of the statistics absorb() accumulates, one row per part.
ST_KEY_NULL, ST_REVERSED, ST_TO_FILL, ST_OVERFLOW = 0, 1, 2, 3
ST_PMIN, ST_PMAX, ST_VMIN, ST_VMAX, ST_VALID = 4, 5, 6, 7, 8
STATS = 9


def new_stats(parts: int) -> np.ndarray:
    stats = np.zeros((parts, STATS), np.int64)
    stats[:, ST_PMIN] = stats[:, ST_VMIN] = NONE
    stats[:, ST_PMAX] = stats[:, ST_VMAX] = -NONE
    return stats


@njit(cache=True, inline="always")
def given(bitmap, offset, i):
    """Arrow validity: is value i present (no bitmap: every value is)?"""
    if bitmap.size == 0:
        return True
    k = offset + i
    return (bitmap[k >> 3] >> (k & 7)) & 1 == 1


MICROS = 1_000_000
MILLIS = 1_000


@njit(cache=True, inline="always")
def seconds(value, unit, shift):
    """Whole seconds since the epoch from a count of 1/unit seconds, floored (a time a
    microsecond before a whole second stays in the second before), minus `shift` (naive
    local times). Microseconds, the usual unit, divide by a constant: the compiler turns that
    into a multiplication, where a division by a run-time value costs ~25 ns a row."""
    if unit == MICROS:
        return value // MICROS - shift
    if unit == MILLIS:
        return value // MILLIS - shift
    if unit == 1:
        return value - shift
    return value // unit - shift


@njit(parallel=True, cache=True)
def absorb(
    p, p_ok, v, v_ok, a, a_ok, b, b_ok, bit_offsets, a_unit, a_shift, b_unit, b_shift,
    dwell_venues, dwell_s, default, min_length, wanted, person, venue, t_in, t_out, at,
    stats, hash_bits, slabs, hashes, filled,
):  # fmt: skip
    """Check one batch of converted rows and append the rows to keep at `at` to the
    check-in arrays; returns how many were appended.

    Missing t_out are filled from the venue's assumed dwell (dwell_venues sorted; `default`
    for others). Dropped rows (an empty person, venue or t_in; t_out before t_in) are not
    kept. Counts follow epicore.tracing.inputs.checkin_counts exactly: a reversed stay is
    counted whatever its person or venue, a missing t_out whenever t_in is given.
    ST_OVERFLOW counts ids and times beyond the arrays' 32 bits (the caller then loads
    64-bit arrays). Each part c of the batch updates its own row of `stats`; with hash_bits
    > 0 it also places every kept row's hash for the duplicate check (see place()), so that
    check needs no pass over the rows of its own.

    Of the kept rows only those lasting at least `min_length` seconds are appended (a
    shorter stay can never overlap another by the rule's minimum), and with `wanted`
    (sorted hashes) only those whose hash is in it. Each part writes its rows from where its
    part of the batch would start, then the parts are moved together, so the arrays'
    memory is touched only about as far as the rows they keep."""
    n = p.size
    parts = stats.shape[0]
    narrow = t_in.itemsize == 4
    stored = np.zeros(parts, np.int64)
    for c in prange(parts):
        lo, hi = part_range(n, parts, c)
        j = at + lo
        key_nulls = 0
        reversed_ = 0
        to_fill = 0
        overflow = 0
        pmin = stats[c, ST_PMIN]
        pmax = stats[c, ST_PMAX]
        vmin = stats[c, ST_VMIN]
        vmax = stats[c, ST_VMAX]
        valid = 0
        for i in range(lo, hi):
            has_in = given(a_ok, bit_offsets[2], i)
            has_out = given(b_ok, bit_offsets[3], i)
            key_ok = has_in and given(p_ok, bit_offsets[0], i) and given(v_ok, bit_offsets[1], i)
            s = seconds(np.int64(a[i]), a_unit, a_shift) if has_in else np.int64(0)
            e = seconds(np.int64(b[i]), b_unit, b_shift) if has_out else np.int64(0)
            keep = True
            if not has_out:
                if has_in:
                    to_fill += 1
            elif has_in and e < s:
                reversed_ += 1
                keep = False
            if not key_ok:
                key_nulls += 1
                keep = False
            elif not has_out:
                k = np.searchsorted(dwell_venues, np.int64(v[i]))
                e = s + (
                    dwell_s[k] if k < dwell_venues.size and dwell_venues[k] == v[i] else default
                )
            if not keep:
                continue
            q = np.int64(p[i])
            w = np.int64(v[i])
            if narrow and not (
                -2147483648 <= min(s, q, w) and max(e, q, w) <= 2147483647
            ):  # caught by DuckDB's cast for ids it converts, here for ids read directly
                overflow += 1
                s = e = q = w = 0
            pmin = min(pmin, q)
            pmax = max(pmax, q)
            vmin = min(vmin, w)
            vmax = max(vmax, w)
            valid += 1
            if hash_bits or wanted.size:
                h = row_hash(q, w, s, e)
                if hash_bits:
                    place(h, c, hash_bits, 64, slabs, hashes, filled)
                if wanted.size:
                    k = np.searchsorted(wanted, h)
                    if k == wanted.size or wanted[k] != h:
                        continue
            if e - s < min_length:
                continue
            person[j] = q
            venue[j] = w
            t_in[j] = s
            t_out[j] = e
            j += 1
        stored[c] = j - (at + lo)
        stats[c, ST_KEY_NULL] += key_nulls
        stats[c, ST_REVERSED] += reversed_
        stats[c, ST_TO_FILL] += to_fill
        stats[c, ST_OVERFLOW] += overflow
        stats[c, ST_PMIN] = pmin
        stats[c, ST_PMAX] = pmax
        stats[c, ST_VMIN] = vmin
        stats[c, ST_VMAX] = vmax
        stats[c, ST_VALID] += valid
    to = at + stored[0]
    for c in range(1, parts):  # each part's rows down to just after the previous part's
        start = at + part_range(n, parts, c)[0]
        for k in range(stored[c]):  # forwards: the rows only ever move down
            person[to + k] = person[start + k]
            venue[to + k] = venue[start + k]
            t_in[to + k] = t_in[start + k]
            t_out[to + k] = t_out[start + k]
        to += stored[c]
    return to - at


# Bits of a row's hash that rows_where() first looks up in a bitmap of the wanted keys'.
SIEVE_BITS = 20


@njit(parallel=True, cache=True)
def rows_where(
    person, venue, t_in, t_out, pmin, mark, wanted, key_bits, min_length, parts, room
):  # fmt: skip
    """Indexes, in row order, of the kept rows lasting at least `min_length` seconds that
    belong to a marked person (mark[person - pmin] != 0; an empty mark: anyone) and whose
    key (the top `key_bits` bits of its hash) is in `wanted` (sorted; empty: any key). One
    pass when no part finds more than `room` rows (they are written as they are counted),
    else a second to fill arrays of the counted sizes."""
    n = person.size
    key_shift = np.uint64(64 - key_bits)
    # a row's top 20 bits of hash first meet a bitmap of the wanted keys' (128 KB, cached):
    # nearly every row stops there instead of searching `wanted`
    sieve_bits = min(SIEVE_BITS, key_bits)
    sieve = np.zeros(((1 << sieve_bits) + 7) >> 3, np.uint8)
    sieve_shift = np.uint64(key_bits - sieve_bits)
    for k in wanted:
        f = k >> sieve_shift
        sieve[f >> np.uint64(3)] |= np.uint8(1 << (f & np.uint64(7)))
    got = np.zeros(parts, np.int64)
    first = np.arange(parts) * room  # first pass: `room` slots per part
    out = np.empty(parts * room, np.int64)
    for step in range(2):
        for c in prange(parts):
            lo, hi = part_range(n, parts, c)
            at = first[c]
            end = first[c] + room if step == 0 else out.size
            for i in range(lo, hi):
                if np.int64(t_out[i]) - np.int64(t_in[i]) < min_length:  # dropped rows: < 0
                    continue
                if mark.size and mark[np.int64(person[i]) - pmin] == 0:
                    continue
                if wanted.size:
                    h = row_hash(
                        np.int64(person[i]), np.int64(venue[i]), np.int64(t_in[i]),
                        np.int64(t_out[i]),
                    )  # fmt: skip
                    f = h >> np.uint64(64 - sieve_bits)
                    if (sieve[f >> np.uint64(3)] >> (f & np.uint64(7))) & 1 == 0:
                        continue
                    key = h >> key_shift
                    k = np.searchsorted(wanted, key)
                    if k == wanted.size or wanted[k] != key:
                        continue
                if at < end:
                    out[at] = i
                at += 1
            got[c] = at - first[c]
        if step == 0 and got.max() <= room:
            break
        if step == 0:  # some part found more: a second pass into arrays of the found sizes
            first[0] = 0
            for c in range(1, parts):
                first[c] = first[c - 1] + got[c - 1]
            out = np.empty(got.sum(), np.int64)
    if out.size == got.sum():
        return out
    kept = np.empty(got.sum(), np.int64)
    at = 0
    for c in range(parts):
        kept[at : at + got[c]] = out[first[c] : first[c] + got[c]]
        at += got[c]
    return kept


# --- Exact duplicates -----------------------------------------------------------------------


@njit(cache=True, inline="always")
def row_hash(p, v, a, b):
    """64-bit hash of a row (splitmix64 finaliser over a combination of the four values)."""
    x = np.uint64(p & 0xFFFFFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15)
    x ^= np.uint64(v & 0xFFFFFFFFFFFF) * np.uint64(0xC2B2AE3D27D4EB4F)
    x ^= np.uint64(a & 0xFFFFFFFFFFFF) * np.uint64(0x165667B19E3779F9)
    x ^= np.uint64(b & 0xFFFFFFFFFFFF) * np.uint64(0x27D4EB2F165667C5)
    x ^= np.uint64((p >> 48) ^ (v >> 32) ^ (a >> 40) ^ (b >> 24))
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


@njit(cache=True, inline="always")
def place(h, c, bits, keep_bits, slabs, out, filled):
    """Place hash h found by part c in its bucket b (its top `bits` bits): in slab
    k = b * parts + c, out[slabs[k]:slabs[k + 1]], counted in filled[c, b]. Only the top
    `keep_bits` bits are kept (64: all; fewer in tests, to make chance repeats common). A
    full slab still counts: the caller then places every hash again in slabs of the
    counted sizes."""
    parts = filled.shape[0]
    b = np.int64(h >> np.uint64(64 - bits))
    k = filled[c, b]
    at = slabs[b * parts + c] + k
    if at < slabs[b * parts + c + 1]:
        out[at] = h >> np.uint64(64 - keep_bits)
    filled[c, b] = k + 1


@njit(parallel=True, cache=True)
def place_hashes(person, venue, t_in, t_out, bits, keep_bits, slabs, out, filled):
    """place() every kept row's hash, a pass over the rows (when the load could not)."""
    n = person.size
    parts = filled.shape[0]
    for c in prange(parts):
        lo, hi = part_range(n, parts, c)
        filled[c, :] = 0
        for i in range(lo, hi):
            if t_out[i] < t_in[i]:
                continue
            h = row_hash(
                np.int64(person[i]), np.int64(venue[i]), np.int64(t_in[i]), np.int64(t_out[i])
            )
            place(h, c, bits, keep_bits, slabs, out, filled)


# Repeats listed per bucket in the parallel pass; a bucket with more is listed again alone.
LISTED_REPEATS = 16


@njit(cache=True)
def _repeats_in(out, slabs, filled, b, table, found):
    """Hashes in bucket b's slabs seen before in it (an open-addressing set in `table`,
    cleared here); the first found.size are written to `found`. Their number."""
    parts = filled.shape[0]
    rows = 0
    for c in range(parts):
        rows += filled[c, b]
    size = 16
    bits = 4
    while size < 2 * rows:
        size *= 2
        bits += 1
    table[:size] = 0
    mask = np.uint64(size - 1)
    shift = np.uint64(64 - bits)
    zero_seen = False  # 0 marks an empty slot, so the hash 0 is tracked apart
    repeats = 0
    for c in range(parts):
        at = slabs[b * parts + c]
        for i in range(at, at + filled[c, b]):
            key = out[i]
            seen = False
            if key == 0:
                seen = zero_seen
                zero_seen = True
            else:
                slot = (key * np.uint64(0x9E3779B97F4A7C15)) >> shift
                while True:
                    got = table[slot]
                    if got == 0:
                        table[slot] = key
                        break
                    if got == key:
                        seen = True
                        break
                    slot = (slot + np.uint64(1)) & mask
            if seen:
                if repeats < found.size:
                    found[repeats] = key
                repeats += 1
    return repeats


@njit(parallel=True, cache=True)
def repeated_hashes(out, slabs, filled):
    """The placed hashes that occur more than once in their bucket, once per repeat."""
    parts, buckets = filled.shape
    largest = 0
    for b in range(buckets):
        rows = 0
        for c in range(parts):
            rows += filled[c, b]
        largest = max(largest, rows)
    size = 16
    while size < 2 * largest:
        size *= 2
    per_bucket = np.zeros(buckets, np.int64)
    listed = np.zeros((buckets, LISTED_REPEATS), np.uint64)
    for c in prange(parts):
        table = np.empty(size, np.uint64)
        for b in range(c, buckets, parts):
            per_bucket[b] = _repeats_in(out, slabs, filled, b, table, listed[b])
    repeated = np.empty(per_bucket.sum(), np.uint64)
    at = 0
    table = np.empty(size, np.uint64)
    for b in range(buckets):
        got = per_bucket[b]
        if got > LISTED_REPEATS:
            found = np.empty(got, np.uint64)
            _repeats_in(out, slabs, filled, b, table, found)
        else:
            found = listed[b, :got]
        repeated[at : at + got] = found
        at += got
    return repeated


# --- The hops --------------------------------------------------------------------------------

# Per person, the best exposure found so far, in the order of reference.best: earliest start,
# then longest (smallest negated length), then the source's own start, then via, then venue.
# Slots [parts, people, FIELDS] (a person's six values in one cache line): start, -seconds,
# source start, via, venue, end.
B_START, B_NEG, B_SRC, B_VIA, B_VENUE, B_END = 0, 1, 2, 3, 4, 5
FIELDS = 6


@njit(cache=True, inline="always")
def offer(best, c, q, start, neg, src, via, place, end):
    """Keep (start, neg, src, via, place) for person q in part c if it beats what is there."""
    s0 = best[c, q, B_START]
    if start > s0:
        return
    if start == s0:
        n0 = best[c, q, B_NEG]
        if neg > n0:
            return
        if neg == n0:
            r0 = best[c, q, B_SRC]
            if src > r0:
                return
            if src == r0:
                v0 = best[c, q, B_VIA]
                if via > v0:
                    return
                if via == v0 and place >= best[c, q, B_VENUE]:
                    return
    best[c, q, B_START] = start
    best[c, q, B_NEG] = neg
    best[c, q, B_SRC] = src
    best[c, q, B_VIA] = via
    best[c, q, B_VENUE] = place
    best[c, q, B_END] = end


@njit(parallel=True, cache=True)
def merge_best(best):
    """The best exposure per person over all parts' slots [parts, people, FIELDS]: arrays
    [FIELDS, people]."""
    parts = best.shape[0]
    people = best.shape[1]
    out = np.empty((FIELDS, people), np.int64)
    for q in prange(people):
        pick = 0
        for c in range(1, parts):
            if best[c, q, B_START] == NONE:
                continue
            for f in range(B_VENUE + 1):
                a = best[c, q, f]
                b = best[pick, q, f]
                if a != b:
                    if a < b:
                        pick = c
                    break
        for f in range(FIELDS):
            out[f, q] = best[pick, q, f]
    return out


@njit(parallel=True, cache=True)
def count_sides(person, t_in, t_out, pmin, exposed_at, isolated_at, excluded, parts):
    """Rows a hop would index on each side, per part of the rows: [part, 0] source stays,
    [part, 1] candidate stays (gather_stays then fills without counting again).

    A source stay is a stay of an exposed person (exposed_at != NONE) clipped to
    [exposed_at, isolated_at), non-empty; a candidate stay a non-empty stay of someone not
    excluded."""
    n = person.size
    out = np.zeros((parts, 2), np.int64)
    for c in prange(parts):
        lo, hi = part_range(n, parts, c)
        sources = 0
        candidates = 0
        for i in range(lo, hi):
            a = np.int64(t_in[i])
            b = np.int64(t_out[i])
            if b <= a:
                continue
            q = np.int64(person[i]) - pmin
            x = exposed_at[q]
            if x != NONE:
                if min(b, isolated_at[q]) > max(a, x):
                    sources += 1
            elif excluded[q] == 0:
                candidates += 1
        out[c, 0] = sources
        out[c, 1] = candidates
    return out


@njit(parallel=True, cache=True)
def gather_stays(person, venue, t_in, t_out, pmin, exposed_at, isolated_at, excluded, sources, got):
    """The stays of one side as arrays (who, venue, start, end): with `sources`, exposed people's
    stays clipped to [exposed_at, isolated_at); else candidates' stays (who = person index).
    got[c]: that side's stays in part c of the rows (count_sides)."""
    n = person.size
    parts = got.size
    total = got.sum()
    who = np.empty(total, np.int64)
    place = np.empty(total, np.int64)
    start = np.empty(total, np.int64)
    end = np.empty(total, np.int64)
    first = np.zeros(parts, np.int64)
    for c in range(1, parts):
        first[c] = first[c - 1] + got[c - 1]
    for c in prange(parts):
        lo, hi = part_range(n, parts, c)
        at = first[c]
        for i in range(lo, hi):
            a = np.int64(t_in[i])
            b = np.int64(t_out[i])
            if b <= a:
                continue
            q = np.int64(person[i]) - pmin
            x = exposed_at[q]
            if sources:
                if x == NONE:
                    continue
                s = max(a, x)
                e = min(b, isolated_at[q])
                if e <= s:
                    continue
            else:
                if x != NONE or excluded[q]:
                    continue
                s = a
                e = b
            who[at] = q
            place[at] = np.int64(venue[i])
            start[at] = s
            end[at] = e
            at += 1
    return who, place, start, end


@njit(cache=True)
def venue_index(place, vmin, venues):
    """Offsets of each venue's rows in arrays sorted by venue: rows of venue v are
    [off[v - vmin], off[v - vmin + 1])."""
    off = np.zeros(venues + 1, np.int64)
    for i in range(place.size):
        off[place[i] - vmin + 1] += 1
    for v in range(venues):
        off[v + 1] += off[v]
    return off


@njit(cache=True)
def next_lasting(off, start, end, min_s):
    """For stays sorted by (venue, start, ...): per row, the first row at or after it in its
    venue lasting at least min_s (the venue's end when none)."""
    out = np.empty(start.size, np.int64)
    for v in range(off.size - 1):
        lo, hi = off[v], off[v + 1]
        nxt = hi
        for i in range(hi - 1, lo - 1, -1):
            if end[i] - start[i] >= min_s:
                nxt = i
            out[i] = nxt
    return out


@njit(cache=True)
def _first_above(values, lo, hi, x):
    """First index in [lo, hi) with values[i] > x (values non-decreasing there)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True)
def _first_at_least(values, lo, hi, x):
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] >= x:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(parallel=True, cache=True)
def candidates_meet_sources(
    person, venue, t_in, t_out, pmin, vmin, skip, off, s_start, s_end, s_via, reach,
    next_long, min_s, best,
):  # fmt: skip
    """Stream every candidate stay past the indexed sources of its venue; offer its best
    exposure. No pair is formed: per stay at most three binary searches and a short scan.

    For a candidate stay [cs, ce): among sources starting at or before cs the exposure starts
    at cs and is longest with the latest end M reached by then (`reach`); the first source in
    (start, via) order reaching min(M, ce) is the one the rule names. Only if that is too
    short can a later source do: the first starting after cs that lasts at least min_s
    (`next_long`), if it starts early enough; among the sources starting at that same second
    the longest, then the smallest via."""
    n = person.size
    parts = best.shape[0]
    venues = off.size - 1
    for c in prange(parts):
        lo, hi = part_range(n, parts, c)
        for i in range(lo, hi):
            cs = np.int64(t_in[i])
            ce = np.int64(t_out[i])
            if ce <= cs:
                continue
            q = np.int64(person[i]) - pmin
            if skip[q] or ce - cs < min_s:  # too short to ever overlap by min_s
                continue
            if best[c, q, B_START] < cs:
                # Every exposure of this stay starts at cs or later, so an earlier one found
                # already wins: in data stored in time order (as most exports are) each
                # person is looked up only until the day of the first exposure.
                continue
            v = np.int64(venue[i]) - vmin
            if v < 0 or v >= venues:
                continue
            a = off[v]
            z = off[v + 1]
            if a == z:
                continue
            k = _first_above(s_start, a, z, cs)  # sources [a, k) start at or before cs
            if k > a:
                m = min(reach[k - 1], ce)
                if m - cs >= min_s:
                    j = _first_at_least(reach, a, k, m)
                    offer(best, c, q, cs, cs - m, s_start[j], s_via[j], v + vmin, m)
                    continue
            if k == z:
                continue
            j = next_long[k]
            if j == z or s_start[j] > ce - min_s:
                continue
            s = s_start[j]
            top = -1
            via = 0
            while j < z and s_start[j] == s:
                if s_end[j] - s >= min_s:
                    e = min(s_end[j], ce)
                    if e > top:
                        top = e
                        via = s_via[j]
                j += 1
            offer(best, c, q, s, s - top, s, via, v + vmin, top)


@njit(parallel=True, cache=True)
def sources_meet_candidates(
    person, venue, t_in, t_out, pmin, vmin, exposed_at, isolated_at, off, c_start, c_end,
    c_who, c_reach, present, first_hour, block, min_s, best,
):  # fmt: skip
    """Stream every source stay (an exposed person's stay clipped to [exposed_at,
    isolated_at)) past the indexed candidate stays of its venue, offering each overlapping
    pair: used when the candidates are the few (the second hop of a dense outbreak).

    `present` [venue, hour - first_hour] (see presence()) says where some candidate stay
    is: a source sharing no hour with one at its venue is passed over without a search.
    `settled` [venue], recomputed every `block` rows, is the latest best exposure start
    among the venue's candidates in this part's slots: an exposure never starts before its
    source does, so a source starting after it improves nobody there (best starts only
    fall, so a stale value only passes over less). With data in time order most sources
    after the first days of an outbreak are passed over so."""
    n = person.size
    parts = best.shape[0]
    venues = off.size - 1
    for c in prange(parts):
        lo, hi = part_range(n, parts, c)
        settled = np.empty(venues, np.int64)
        for i in range(lo, hi):
            if (i - lo) % block == 0:
                for w in range(venues):
                    latest = -NONE
                    for j in range(off[w], off[w + 1]):
                        latest = max(latest, best[c, c_who[j], B_START])
                    settled[w] = latest
            a = np.int64(t_in[i])
            b = np.int64(t_out[i])
            if b <= a:
                continue
            p = np.int64(person[i])
            x = exposed_at[p - pmin]
            if x == NONE:
                continue
            ss = max(a, x)
            se = min(b, isolated_at[p - pmin])
            if se - ss < min_s:  # empty, or too short to overlap anyone by min_s
                continue
            v = np.int64(venue[i]) - vmin
            if v < 0 or v >= venues or off[v] == off[v + 1] or ss > settled[v]:
                continue
            if present.size and not _present(present, v, ss, se, first_hour):
                continue
            z = off[v + 1]
            # Candidates ending by ss + min_s cannot qualify: skip the leading ones whose
            # running latest end (c_reach, in start order) is still short of it.
            j = _first_at_least(c_reach, off[v], z, ss + min_s)
            last_start = se - min_s
            while j < z and c_start[j] <= last_start:
                xs = max(ss, c_start[j])
                xe = min(se, c_end[j])
                if xe - xs >= min_s:
                    offer(best, c, c_who[j], xs, xs - xe, ss, p, v + vmin, xe)
                j += 1


HOUR = 3600


@njit(cache=True)
def presence(off, start, end, first_hour, hours):
    """[venue, hour]: 1 where some indexed stay at the venue covers part of that hour (hours
    counted from first_hour). Two stays that overlap share an hour, so a stay sharing none
    with any stay at its venue meets none there."""
    out = np.zeros((off.size - 1, hours), np.uint8)
    for v in range(off.size - 1):
        for i in range(off[v], off[v + 1]):
            for h in range(start[i] // HOUR - first_hour, (end[i] - 1) // HOUR - first_hour + 1):
                out[v, h] = 1
    return out


@njit(cache=True, inline="always")
def _present(present, v, s, e, first_hour):
    lo = max(s // HOUR - first_hour, 0)
    hi = min((e - 1) // HOUR - first_hour, present.shape[1] - 1)
    for h in range(lo, hi + 1):
        if present[v, h]:
            return True
    return False


@njit(cache=True)
def running_end(off, end):
    """Per row of stays sorted by (venue, start): the latest end among its venue's stays up
    to it (non-decreasing within a venue)."""
    out = np.empty(end.size, np.int64)
    for v in range(off.size - 1):
        latest = -NONE
        for i in range(off[v], off[v + 1]):
            latest = max(latest, end[i])
            out[i] = latest
    return out
