"""The source's batched transmit path: RDATA for queued repairs, then ODATA (RFC 3208 §5.1.1).

Theory of operation
-------------------
Plain functions bound as :class:`~pgm.engine.source.source.Source` methods (its scheduler,
``datagrams_to_send``, calls them in priority order after NCFs and SPMs).

ODATA goes in batches: :func:`send_odata` refills the token bucket once
(:meth:`~pgm.engine.rate.TokenBucket.available`), :func:`odata_run` builds packets from the
header template (:class:`pgm.wire.DataTemplate`) straight out of the ring's slots
(:mod:`.txw`) while the window has room and the balance is not negative, and the batch is paid
with one :meth:`~pgm.engine.rate.TokenBucket.debit`.  A packet leaves exactly when one
``try_consume`` per packet would have let it (both see one balance at one ``now``), so the rate
over batches is the configured one: IP bytes per second of SPM + ODATA + RDATA within
``rate_bps``.  A full window takes its next step early between two runs.  The bookkeeping
(window edge, counters, rate meter, heartbeat schedule) is summed up once per run.

Repairs go one by one: each passes the repair budget and NAKer fairness (:mod:`.budget`) and
takes its tokens, then is built from its slot's payload and partial sum (no payload re-summed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import wire
from ...wire import SQN_MASK
from ...wire.header import DATA_FIXED
from ..api import Outgoing
from ..events import RepairSent
from .info import SourceState

if TYPE_CHECKING:
    from .source import Source

__all__ = ["odata_run", "send_odata", "send_repairs"]

_ODATA = wire.TYPE_ODATA
_RDATA = wire.TYPE_RDATA
_HDR = wire.DATA_HEADER_SIZE
_PRESENT = wire.FLAG_PRESENT
_PACK = DATA_FIXED.pack
_CLOSING = SourceState.CLOSING


def send_repairs(src: Source, now: float, out: list[Outgoing]) -> bool:
    """RDATA for the queued repairs (RFC 3208 §5.3); False when the bucket is empty."""
    queue = src._repairs.queue
    if not queue:
        return True
    st = src.stats
    w = src._txw
    trace = src.config.trace_events
    # New data waiting to go keeps its share: repairs then stay within their budget.
    limited = w.tail > w.lead + 1 and w.has_room(w.next_len())
    budget = src._budget
    while queue:
        sqn = src._repairs.next_repair()  # round-robin over NAKers (.budget)
        if not w.held(sqn):  # the trail passed it while queued
            del queue[sqn]
            continue
        if limited and not budget.repair_ok(now):
            return True  # on to ODATA (.budget)
        j = sqn & w.mask
        size = w.size_of(j)
        if not src._bucket.try_consume(size + src._overhead, now):
            return False
        budget.repair.try_consume(size + src._overhead, now)
        del queue[sqn]
        if src._late_on:
            w.set_join(sqn, src._late.join_min)
        data = w.data[j]
        assert data is not None
        pkt = src._data.encode(_RDATA, sqn, w.trail, data, w.psum[j], w.opts[j])
        out.append((pkt, src.group, None))
        w.repairs[j] += 1
        st.repair_packets_sent += 1
        st.total_bytes_sent += size
        src._spm.data_sent(now)
        if trace:
            src._events.append(RepairSent(src.tsi, sqn & SQN_MASK))
    return True


def send_odata(src: Source, now: float, out: list[Outgoing], limit: int = -1) -> int:
    """ODATA, the bulk: as much as the window and the bucket allow (at most ``limit``
    packets when given: FEC sends one transmission group at a time); returns how many
    went.  One refill of the token bucket for the whole batch, runs of packets built in
    a tight loop (:func:`odata_run`) and paid with one debit."""
    bucket = src._bucket
    tokens = start = bucket.available(now)
    total = 0
    while tokens >= 0 and total != limit:
        sent, tokens, full = src._odata_run(now, out, limit - total if limit >= 0 else -1,
                                             tokens)  # fmt: skip
        total += sent
        # Window full: its next step early (.txw), else wait for the clock.
        if not full or not src._txw.step_early(now):
            break
        src._advanced(now)
    if total:
        bucket.debit(start - tokens)
        w = src._txw
        if src._state is _CLOSING and w.tail == w.lead + 1:
            src._start_linger(now)
    return total


def odata_run(
    src: Source, now: float, out: list[Outgoing], limit: int, tokens: float
) -> tuple[int, float, bool]:
    """ODATA from the queue's head while the window has room and ``tokens`` (the
    bucket's balance) is not negative; returns (packets sent, balance left, whether the
    window was full).  The bookkeeping is summed up after the loop."""
    w = src._txw
    t = first = w.lead + 1
    stop = w.tail
    if 0 <= limit < stop - t:
        stop = t + limit
    room = w.capacity - w.nbytes
    empty = w.lead < w.trail  # an empty window takes a first packet of any size
    mask, datas, psums, optss, sent = w.mask, w.data, w.psum, w.opts, w.sent
    # The header template's shared sums: per packet only length, SQN and payload sum are added.
    tpl = src._data
    pack = _PACK
    sport, dport, gsi = tpl.source_port, tpl.destination_port, tpl.gsi
    trail = w.trail & SQN_MASK
    base = tpl.header_sum(_ODATA, 0, trail)
    base_opt = tpl.header_sum(_ODATA, _PRESENT, trail)
    cost = _HDR + src._overhead
    group = src.group
    append = out.append
    full = False
    data_bytes = opt_bytes = 0
    while t < stop:
        j = t & mask
        data = datas[j]
        assert data is not None
        n = len(data)
        if n > room and not (empty and t == first):
            full = True
            break
        if tokens < 0:
            break
        opts = optss[j]
        tokens -= cost + len(opts) + n
        room -= n
        sent[j] = now
        sqn = t & SQN_MASK
        if opts:  # as DataTemplate.encode (RFC 3208 §8: a computed 0 goes out as 0xFFFF)
            c = (base_opt + n + (sqn >> 16) + (sqn & 0xFFFF) + psums[j]) % 0xFFFF
            hdr = pack(sport, dport, _ODATA, _PRESENT, 0xFFFF - c if c else 0xFFFF, gsi, n,
                       sqn, trail)  # fmt: skip
            append((hdr + opts + data, group, None))
        else:
            c = (base + n + (sqn >> 16) + (sqn & 0xFFFF) + psums[j]) % 0xFFFF
            hdr = pack(sport, dport, _ODATA, 0, 0xFFFF - c if c else 0xFFFF, gsi, n, sqn, trail)
            append((hdr + data, group, None))
        data_bytes += n
        opt_bytes += len(opts)
        t += 1
    count = t - first
    if count:
        wire_bytes = count * _HDR + opt_bytes + data_bytes
        w.lead = t - 1
        w.added(data_bytes, now)
        src._pending_bytes -= data_bytes
        st = src.stats
        st.odata_packets_sent += count
        st.data_bytes_sent += data_bytes
        st.total_bytes_sent += wire_bytes
        src._meter.add(wire_bytes, now)
        src._spm.data_sent(now)
    return count, tokens, full
