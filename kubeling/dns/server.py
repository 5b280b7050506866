"""The cluster DNS server: UDP and TCP on one port, answering from the informer-fed `RecordIndex`.

It behaves like CoreDNS in a kubeadm cluster (see records.py for the record semantics): responses are
authoritative, echo the query's RD/CD bits, never claim recursion; EDNS0 is honoured (the reply reuses the
request's OPT with its UDP size, DO bit and the COOKIE/NSID/EXPIRE/KEEPALIVE/PADDING options, as CoreDNS's
SizeAndDo does; EDNS version > 0 gets BADVERS); a UDP reply larger than the client's size (512 without EDNS)
keeps the records that fit and sets TC, as miekg/dns Msg.Truncate does, so clients retry over TCP (2-byte length
prefix, several queries per connection). Address records are shuffled per reply (the Corefile's `loadbalance`).
Names outside the cluster zone are forwarded to `--dns-upstream` when one is set and REFUSED otherwise; so are
reverse names the cluster has no record for (`fallthrough in-addr.arpa ip6.arpa`).

Rendered replies are cached by the query bytes after the ID and thrown away whenever the index changes, so a
repeated query costs a dict lookup; replies with several address records keep a few shuffled variants that
are re-rendered as they are served.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import random
import struct
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from dnslib import CLASS, EDNS0, QTYPE, RR, DNSBuffer, DNSError, DNSHeader, DNSQuestion, DNSRecord

from .records import FORMERR, NOERROR, NOTIMP, NXDOMAIN, REFUSED, SERVFAIL, RecordIndex, Result

log = logging.getLogger(__name__)

BADVERS = 16
MAX_TCP = 65535
# EDNS options CoreDNS copies from the request into the reply (request.supportedOptions).
ECHOED_OPTIONS = {3, 9, 10, 11, 12}  # NSID, EXPIRE, COOKIE, TCP-KEEPALIVE, PADDING
CACHE_MAX = 50_000
VARIANTS = 8          # shuffled renderings kept per multi-address reply
REFRESH_EVERY = 32    # one variant is re-shuffled every this many hits
UPSTREAM_TIMEOUT = 2.0
SMALL_ANSWER = 8  # records: below this a reply is packed whole before checking its size


def parse_hostport(s: str | None, default_port: int = 53) -> tuple[str, int] | None:
    """"1.1.1.1", "1.1.1.1:53", "[::1]:53" → (host, port)."""
    if not s:
        return None
    s = s.strip()
    if s.startswith("["):
        host, _, rest = s[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if s.count(":") == 1:
        host, port = s.split(":")
        return host, int(port)
    return s, default_port


def _opt_of(req: DNSRecord) -> RR | None:
    for rr in req.ar:
        if rr.rtype == QTYPE.OPT:
            return rr
    return None


def _reply_opt(opt: RR, ext_rcode: int = 0) -> EDNS0:
    do = bool(opt.ttl & 0x8000)
    opts = [o for o in opt.rdata or () if getattr(o, "code", None) in ECHOED_OPTIONS]
    return EDNS0(rname=".", udp_len=opt.rclass, version=0, ext_rcode=ext_rcode, flags="do" if do else "",
                 opts=opts)


class _Cached:
    """A cached reply: its bytes after the ID, or for shuffled replies a few variants and how to make more."""

    __slots__ = ("body", "variants", "render", "hits")

    def __init__(self, body: bytes | None = None, render: Callable[[], bytes] | None = None) -> None:
        self.body = body
        self.render = render
        self.variants: list[bytes] = []
        self.hits = 0

    def get(self) -> bytes:
        if self.body is not None:
            return self.body
        self.hits += 1
        assert self.render is not None
        if len(self.variants) < VARIANTS:
            b = self.render()
            self.variants.append(b)
            return b
        if self.hits % REFRESH_EVERY == 0:
            i = random.randrange(VARIANTS)
            self.variants[i] = self.render()
            return self.variants[i]
        return self.variants[random.randrange(VARIANTS)]


class DnsServer:
    def __init__(self, index: RecordIndex, host: str = "127.0.0.1", port: int = 10053,
                 upstream: tuple[str, int] | None = None) -> None:
        self.index = index
        self.host = host
        self.port = port
        self.upstream = upstream
        self.synced = False
        self._cache: dict[tuple[bool, bytes], _Cached] = {}
        self._cache_version = -1
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()
        self.queries = 0

    # ---- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on UDP and TCP; port 0 picks a port free for both."""
        loop = asyncio.get_running_loop()
        for attempt in range(20):
            self._udp, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self),
                                                               local_addr=(self.host, self.port))
            port = self._udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port, reuse_address=True)
            except OSError:
                self._udp.close()
                self._udp = None
                if self.port != 0 or attempt == 19:
                    raise
                continue
            self.port = port
            return

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            try:
                await asyncio.wait_for(self._tcp.wait_closed(), 1.0)
            except TimeoutError:
                pass
            self._tcp = None
        for t in list(self._tasks):
            t.cancel()

    # ---- request handling ----------------------------------------------------------------------------
    def handle(self, data: bytes, tcp: bool) -> bytes | Awaitable[bytes | None] | None:
        """Answer one query: bytes when the answer is local, an awaitable when the upstream is involved,
        None to drop the packet (not a query at all)."""
        self.queries += 1
        idx = self.index
        if idx.version != self._cache_version:
            self._cache.clear()
            self._cache_version = idx.version
        key = (tcp, data[2:])
        hit = self._cache.get(key)
        if hit is not None:
            return data[:2] + hit.get()
        try:
            req = DNSRecord.parse(data)
        except Exception:
            return self._formerr(data)
        h = req.header
        if h.qr:
            return None
        if h.opcode != 0:
            return self._error(req, NOTIMP)
        if len(req.questions) != 1:
            return self._error(req, FORMERR)
        opt = _opt_of(req)
        if opt is not None and (opt.ttl >> 16) & 0xFF != 0:
            r = self._reply(req, BADVERS & 0xF, aa=False)
            r.ar = [_reply_opt(opt, ext_rcode=BADVERS >> 4)]
            return r.pack()
        q = req.questions[0]
        result = idx.resolve(str(q.qname), q.qtype)
        if result.forward:
            if self.upstream is None:
                body = self._error(req, REFUSED)[2:]
                self._cache[key] = _Cached(body=body)
                return data[:2] + body
            return self._forward_raw(data, tcp, req)
        if result.rcode == NXDOMAIN and not self.synced:
            return self._error(req, SERVFAIL)
        if result.external and self.upstream is not None:
            return self._resolve_external(req, result, tcp)
        limit = self._limit(req, opt, tcp)
        if _shufflable(result):
            groups = [_split(x) for x in (result.answer, result.authority, result.additional)]
            entry = _Cached(render=lambda: self._render(req, result, opt, limit, groups)[2:])
        else:
            entry = _Cached(body=self._render(req, result, opt, limit)[2:])
        if len(self._cache) >= CACHE_MAX:
            self._cache.clear()
        self._cache[key] = entry
        return data[:2] + entry.get()

    @staticmethod
    def _limit(req: DNSRecord, opt: RR | None, tcp: bool) -> int:
        if tcp:
            return MAX_TCP
        size = opt.rclass if opt is not None else 512
        return max(512, size)

    @staticmethod
    def _reply(req: DNSRecord, rcode: int, aa: bool) -> DNSRecord:
        h = req.header
        return DNSRecord(DNSHeader(id=h.id, qr=1, opcode=h.opcode, aa=int(aa), rd=h.rd, cd=h.cd, rcode=rcode),
                         questions=req.questions[:1])

    def _error(self, req: DNSRecord, rcode: int) -> bytes:
        r = self._reply(req, rcode, aa=False)
        opt = _opt_of(req)
        if opt is not None:
            r.ar = [_reply_opt(opt)]
        return r.pack()

    @staticmethod
    def _formerr(data: bytes) -> bytes | None:
        if len(data) < 12:
            return None
        try:
            h = DNSHeader.parse(DNSBuffer(data[:12]))
        except Exception:
            return None
        if h.qr:
            return None
        return DNSRecord(DNSHeader(id=h.id, qr=1, opcode=h.opcode, rd=h.rd, rcode=FORMERR)).pack()

    def _render(self, req: DNSRecord, result: Result, opt: RR | None, limit: int,
                groups: list[Groups] | None = None) -> bytes:
        """Pack a reply; with `groups` (the sections split for loadbalance) address records are shuffled."""
        r = self._reply(req, result.rcode, aa=result.authoritative)
        ropt = _reply_opt(opt) if opt is not None else None
        sections = (result.answer, result.authority, result.additional)
        if limit >= MAX_TCP or sum(map(len, sections)) <= SMALL_ANSWER:
            # Everything will (almost certainly) fit: one pack, the fitting pass only if it did not.
            if groups is not None:
                r.rr, r.auth, r.ar = (_round_robin(g) for g in groups)
            else:
                r.rr, r.auth, r.ar = (list(x) for x in sections)
            if ropt is not None:
                r.ar.append(ropt)
            data = r.pack()
            if len(data) <= limit:
                return data
        its = [_ordered(g) for g in groups] if groups is not None else [iter(x) for x in sections]
        return _pack_fitting(r, its, ropt, limit)

    # ---- upstream ------------------------------------------------------------------------------------
    async def _forward_raw(self, data: bytes, tcp: bool, req: DNSRecord) -> bytes | None:
        """Send the query as it came to the upstream and relay its answer (SERVFAIL when it does not answer)."""
        assert self.upstream is not None
        try:
            reply = await _query_upstream(self.upstream, data, tcp)
        except (OSError, TimeoutError) as e:
            log.debug("upstream %s: %s", self.upstream, e)
            return self._error(req, SERVFAIL)
        return reply

    async def _resolve_external(self, req: DNSRecord, result: Result, tcp: bool) -> bytes:
        """ExternalName targets outside the cluster: CNAME followed by what the upstream says about it."""
        answer = list(result.answer)
        for pos, target, qtype in reversed(result.external):
            q = DNSRecord(DNSHeader(id=random.randint(0, 65535), rd=1),
                          questions=[DNSQuestion(target, qtype, CLASS.IN)])
            try:
                raw = await _query_upstream(self.upstream, q.pack(), True)
                extra = DNSRecord.parse(raw).rr
            except (OSError, TimeoutError, DNSError) as e:
                log.debug("upstream lookup of %s failed: %s", target, e)
                del answer[pos]
                continue
            answer[pos + 1:pos + 1] = extra
        if not answer:
            qname = str(req.q.qname)
            result = Result(rcode=NOERROR, authority=[self.index.soa(qname[len(qname) - len(self.index.zone):])],
                            authoritative=True)
        else:
            result = Result(answer=answer, additional=result.additional, authoritative=True)
        opt = _opt_of(req)
        groups = [_split(x) for x in (result.answer, result.authority, result.additional)]
        return self._render(req, result, opt, self._limit(req, opt, tcp), groups)

    # ---- transports ----------------------------------------------------------------------------------
    def _spawn(self, aw: Awaitable[Any], done: Callable[[Any], None]) -> None:
        async def run() -> None:
            try:
                done(await aw)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dns: query failed")

        t = asyncio.get_running_loop().create_task(run())
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    hdr = await asyncio.wait_for(reader.readexactly(2), 10.0)
                    (n,) = struct.unpack("!H", hdr)
                    data = await asyncio.wait_for(reader.readexactly(n), 10.0)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                out = self.handle(data, True)
                if out is not None and not isinstance(out, bytes | bytearray):
                    out = await out
                if out is None:
                    continue
                writer.write(struct.pack("!H", len(out)) + bytes(out))
                await writer.drain()
        except Exception:
            log.exception("dns: tcp connection failed")
        finally:
            try:
                writer.close()
            except Exception:
                pass


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            out = self.server.handle(data, False)
        except Exception:
            log.exception("dns: query failed")
            return
        if out is None:
            return
        if isinstance(out, bytes | bytearray):
            self.transport.sendto(out, addr)
            return
        tr = self.transport
        self.server._spawn(out, lambda b: b is not None and tr is not None and tr.sendto(b, addr))

    def error_received(self, exc: Exception) -> None:
        log.debug("dns: udp error %s", exc)


def _shufflable(result: Result) -> bool:
    if result.rcode != NOERROR:
        return False
    for sec in (result.answer, result.additional):
        n = 0
        for rr in sec:
            t = rr.rtype
            if t == _T_A or t == _T_AAAA:
                n += 1
                if n > 1:
                    return True
    return False


_T_CNAME, _T_A, _T_AAAA, _T_MX = int(QTYPE.CNAME), int(QTYPE.A), int(QTYPE.AAAA), int(QTYPE.MX)

Groups = tuple[list[RR], list[RR], list[RR], list[RR]]


def _split(records: list[RR]) -> Groups:
    """CNAMEs, other records, address records, MX records (the loadbalance plugin's grouping)."""
    cname: list[RR] = []
    rest: list[RR] = []
    addr: list[RR] = []
    mx: list[RR] = []
    for rr in records:
        t = rr.rtype
        if t == _T_CNAME:
            cname.append(rr)
        elif t == _T_A or t == _T_AAAA:
            addr.append(rr)
        elif t == _T_MX:
            mx.append(rr)
        else:
            rest.append(rr)
    return cname, rest, addr, mx


def _round_robin(groups: Groups) -> list[RR]:
    """The loadbalance plugin: CNAMEs first, then other records, then shuffled address (and MX) records."""
    cname, rest, addr, mx = groups
    addr, mx = list(addr), list(mx)
    random.shuffle(addr)
    random.shuffle(mx)
    return cname + rest + addr + mx


def _lazy_shuffle(items: list[RR]) -> Iterator[RR]:
    """A random permutation produced one element at a time (Fisher-Yates): taking k of n costs O(k)."""
    a = list(items)
    n = len(a)
    for i in range(n):
        j = random.randrange(i, n)
        a[i], a[j] = a[j], a[i]
        yield a[i]


def _ordered(groups: Groups) -> Iterator[RR]:
    cname, rest, addr, mx = groups
    return itertools.chain(cname, rest, _lazy_shuffle(addr), _lazy_shuffle(mx))


def _pack_fitting(r: DNSRecord, sections: list[Iterator[RR]], opt: RR | None, limit: int) -> bytes:
    """miekg/dns Msg.Truncate: keep the records that fit in `limit` bytes (the OPT record always stays) and set
    TC when some were left out. A scratch pass with dnslib's own packing finds how many fit."""
    budget = limit
    if opt is not None:
        b = DNSBuffer()
        opt.pack(b)
        budget -= len(b.data)
    scratch = DNSBuffer()
    r.header.pack(scratch)
    for q in r.questions:
        q.pack(scratch)
    kept: list[list[RR]] = [[], [], []]
    truncated = False
    for i, it in enumerate(sections):
        if truncated:
            break
        for rr in it:
            rr.pack(scratch)
            if len(scratch.data) > budget:
                truncated = True
                break
            kept[i].append(rr)
    r.rr, r.auth = kept[0], kept[1]
    r.ar = kept[2] + ([opt] if opt is not None else [])
    if truncated:
        r.header.tc = 1
    return r.pack()
async def _query_upstream(upstream: tuple[str, int] | None, data: bytes, tcp: bool) -> bytes:
    """One exchange with the upstream: UDP first, TCP when asked for or when the UDP answer is truncated."""
    assert upstream is not None
    host, port = upstream
    loop = asyncio.get_running_loop()
    if not tcp:
        fut: asyncio.Future[bytes] = loop.create_future()

        class P(asyncio.DatagramProtocol):
            def datagram_received(self, d: bytes, addr: Any) -> None:
                if not fut.done() and d[:2] == data[:2]:
                    fut.set_result(d)

            def error_received(self, exc: Exception) -> None:
                if not fut.done():
                    fut.set_exception(exc)

        tr, _ = await loop.create_datagram_endpoint(P, remote_addr=(host, port))
        try:
            tr.sendto(data)
            reply = await asyncio.wait_for(fut, UPSTREAM_TIMEOUT)
        finally:
            tr.close()
        return reply
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), UPSTREAM_TIMEOUT)
    try:
        writer.write(struct.pack("!H", len(data)) + data)
        await writer.drain()
        (n,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), UPSTREAM_TIMEOUT))
        return await asyncio.wait_for(reader.readexactly(n), UPSTREAM_TIMEOUT)
    finally:
        writer.close()


# ---- wiring to informers -------------------------------------------------------------------------------

def attach_informers(informers: Any, index: RecordIndex) -> list[Any]:
    """Feed Namespace, Service and EndpointSlice informer events into the index; returns the informers."""
    nss = informers.informer("namespaces")
    svcs = informers.informer("services")
    slices = informers.informer("endpointslices.discovery.k8s.io")
    nss.add_handlers(index.set_namespace, lambda old, new: index.set_namespace(new), index.delete_namespace)
    svcs.add_handlers(index.set_service, lambda old, new: index.set_service(new), index.delete_service)
    slices.add_handlers(index.set_slice, lambda old, new: index.set_slice(new), index.delete_slice)
    return [nss, svcs, slices]


async def serve(informers: Any, host: str, port: int, upstream: tuple[str, int] | None = None,
                ttl: int | None = None) -> DnsServer:
    """Build the index, wire it to the informers and start listening (informers are started by the caller)."""
    index = RecordIndex() if ttl is None else RecordIndex(ttl=ttl)
    infs = attach_informers(informers, index)
    server = DnsServer(index, host, port, upstream)
    await server.start()

    async def mark_synced() -> None:
        await asyncio.gather(*(i.wait_synced() for i in infs))
        server.synced = True

    server._spawn(mark_synced(), lambda _: None)
    return server


async def start(ctx: Any) -> Callable[[], Awaitable[None]]:
    """`kubeling up` entry point: cluster DNS on 127.0.0.1:<dns_port>."""
    settings = ctx.settings or {}
    host = settings.get("dns_host") or "127.0.0.1"
    port = int(settings.get("dns_port", 10053))
    upstream = parse_hostport(settings.get("dns_upstream"))
    try:
        server = await serve(ctx.informers, host, port, upstream)
    except OSError as e:
        raise RuntimeError(f"cluster DNS cannot listen on {host}:{port}: {e.strerror or e}") from e
    log.info("cluster DNS listening on %s:%d (udp+tcp)%s", host, server.port,
             f", upstream {upstream[0]}:{upstream[1]}" if upstream else "")
    return server.stop
