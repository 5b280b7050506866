"""Cron schedules as upstream reads them: robfig/cron v3's standard parser (`cron.ParseStandard`:
five fields, the @yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly descriptors and
`@every <duration>`, an optional `TZ=`/`CRON_TZ=` prefix) and its `Next`, with Go's time-zone
arithmetic (time.Date's offset choice in DST gaps and overlaps, AddDate normalisation).

Pure and in the api layer because both CronJob validation (the parse error text) and the CronJob
controller (next and missed schedule times) need exactly the same parser. Times are Unix seconds;
schedule times are whole seconds as with Go's second-granular cron."""
from __future__ import annotations

import math
import os
import re
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Go's zero time.Time (0001-01-01T00:00:00Z): what Next returns when no time matches in five years.
ZERO = -62135596800
_EPOCH = datetime(1970, 1, 1)
_STAR = 1 << 63


class CronError(ValueError):
    """A schedule robfig/cron rejects; str() is its error text."""


# ---- time zones ------------------------------------------------------------------------------------------

def load_location(name: str) -> tzinfo:
    """Go's time.LoadLocation: "" and "UTC" are UTC, "Local" the process zone, else the tz database;
    raises CronError with Go's message."""
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return local_zone()
    if ".." in name or name.startswith("/") or "\\" in name or "\x00" in name:
        raise CronError("time: invalid location name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(f"unknown time zone {name}") from None


_LOCAL: tzinfo | None = None


def local_zone() -> tzinfo:
    """The process's zone as Go's time.Local finds it: $TZ ("" is UTC), else /etc/localtime, else UTC.
    Schedules without a time zone run in it, as in kube-controller-manager."""
    global _LOCAL
    if _LOCAL is None:
        tz = os.environ.get("TZ")
        zone: tzinfo = UTC
        if tz is not None:
            tz = tz.lstrip(":")
            if tz and tz != "UTC":
                try:
                    zone = ZoneInfo(tz)
                except (ZoneInfoNotFoundError, ValueError, OSError):
                    zone = UTC
        else:
            try:
                with open("/etc/localtime", "rb") as f:
                    zone = ZoneInfo.from_file(f, key="Local")
            except (OSError, ValueError):
                zone = UTC
        _LOCAL = zone
    return _LOCAL


def _wall(ts: int, loc: tzinfo) -> datetime:
    return datetime.fromtimestamp(ts, loc)


def _offset(ts: int, loc: tzinfo) -> int:
    off = datetime.fromtimestamp(ts, loc).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def go_date(year: int, month: int, day: int, hour: int, minute: int, second: int, loc: tzinfo) -> int:
    """Go's time.Date: normalises out-of-range fields, and for a wall time that does not exist or
    exists twice picks the offset as Go does (offset at the wall time read as UTC, corrected once)."""
    y, m0 = divmod(month - 1, 12)
    naive = datetime(year + y, m0 + 1, 1) + timedelta(days=day - 1, hours=hour, minutes=minute, seconds=second)
    unix = int((naive - _EPOCH).total_seconds())
    if loc is UTC:
        return unix
    return unix - _offset(unix - _offset(unix, loc), loc)


def rfc3339_in(ts: float, loc: tzinfo) -> str:
    """Go's t.In(loc).Format(time.RFC3339): second precision, "Z" for a zero offset."""
    dt = datetime.fromtimestamp(math.floor(ts), loc)
    s = dt.strftime("%Y-%m-%dT%H:%M:%S")
    off = dt.utcoffset()
    secs = int(off.total_seconds()) if off is not None else 0
    if secs == 0:
        return s + "Z"
    sign = "+" if secs > 0 else "-"
    h, rem = divmod(abs(secs), 3600)
    return f"{s}{sign}{h:02d}:{rem // 60:02d}"


# ---- schedules -------------------------------------------------------------------------------------------

_UNITS_ORDER = ("month", "day", "hour", "minute", "second")
_SECONDS_OF = {"hour": 3600, "minute": 60, "second": 1}
_ROLLOVER = {"month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0}  # where a field wraps


class SpecSchedule:
    """A field schedule (bit sets per field, bit 63 marking a '*'); location None = the process zone."""

    __slots__ = ("second", "minute", "hour", "dom", "month", "dow", "location")

    def __init__(self, second: int, minute: int, hour: int, dom: int, month: int, dow: int,
                 location: tzinfo | None = None) -> None:
        self.second, self.minute, self.hour = second, minute, hour
        self.dom, self.month, self.dow = dom, month, dow
        self.location = location

    def _day_matches(self, d: datetime) -> bool:
        dom_match = bool(1 << d.day & self.dom)
        dow_match = bool(1 << ((d.weekday() + 1) % 7) & self.dow)
        if self.dom & _STAR or self.dow & _STAR:
            return dom_match and dow_match
        return dom_match or dow_match

    def next(self, t: float) -> int:
        """The first activation strictly after t (robfig SpecSchedule.Next), or ZERO if none within
        five years (an impossible date such as February 31st)."""
        if t <= ZERO + 86400 * 366:
            return ZERO
        loc = self.location or local_zone()
        ts = math.floor(t) + 1
        added = False
        year_limit = _wall(ts, loc).year + 5
        while True:  # WRAP: a field rolled over, search again from the month
            w = _wall(ts, loc)
            if w.year > year_limit:
                return ZERO
            for unit in _UNITS_ORDER:
                ts, w, added, wrapped = self._advance(ts, w, loc, added, unit)
                if wrapped:
                    break
            else:
                return ts

    def _matches(self, w: datetime, unit: str) -> bool:
        if unit == "day":
            return self._day_matches(w)
        return bool(1 << getattr(w, unit) & getattr(self, unit))

    def _advance(self, ts: int, w: datetime, loc: tzinfo, added: bool, unit: str
                 ) -> tuple[int, datetime, bool, bool]:
        """Step one field's unit at a time until the field matches (the first step from the unit's
        start, later fields reset); wrapped when the field rolled over and the search starts again."""
        if unit == "second" and self.second == 1 and w.second:
            # Standard specs fire at second 0: stepping second by second ends at the next minute.
            ts += 60 - w.second
            return ts, _wall(ts, loc), True, True
        while not self._matches(w, unit):
            if not added:
                added = True
                if unit == "month":
                    ts = go_date(w.year, w.month, 1, 0, 0, 0, loc)
                elif unit in ("day", "hour"):
                    ts = go_date(w.year, w.month, w.day, w.hour if unit == "hour" else 0, 0, 0, loc)
                else:
                    ts -= (ts - ZERO) % _SECONDS_OF[unit]
                w = _wall(ts, loc)
            if unit == "month":
                ts = go_date(w.year, w.month + 1, w.day, w.hour, w.minute, w.second, loc)
            elif unit == "day":
                ts = go_date(w.year, w.month, w.day + 1, w.hour, w.minute, w.second, loc)
            else:
                ts += _SECONDS_OF[unit]
            w = _wall(ts, loc)
            if unit == "day" and w.hour != 0:  # midnight moved by a DST change: back to the day's start
                ts += (24 - w.hour) * 3600 if w.hour > 12 else -w.hour * 3600
                w = _wall(ts, loc)
            if getattr(w, unit) == _ROLLOVER[unit]:
                return ts, w, added, True
        return ts, w, added, False


class ConstantDelaySchedule:
    """`@every <duration>`: the duration rounded down to whole seconds, at least one second."""

    __slots__ = ("delay",)

    def __init__(self, delay: int) -> None:
        self.delay = delay

    def next(self, t: float) -> int:
        return math.floor(t) + self.delay


Schedule = SpecSchedule | ConstantDelaySchedule


class _Bounds:
    __slots__ = ("min", "max", "names")

    def __init__(self, lo: int, hi: int, names: dict[str, int] | None = None) -> None:
        self.min, self.max, self.names = lo, hi, names


_SECONDS = _Bounds(0, 59)
_MINUTES = _Bounds(0, 59)
_HOURS = _Bounds(0, 23)
_DOM = _Bounds(1, 31)
_MONTHS = _Bounds(1, 12, {n: i + 1 for i, n in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))})
_DOW = _Bounds(0, 6, {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))})

_INT_RE = re.compile(r"[+-]?[0-9]+\Z")


def _atoi(expr: str) -> int:
    if not _INT_RE.match(expr):
        raise CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing {_go_quote(expr)}: invalid syntax')
    n = int(expr)
    if not -(2 ** 63) <= n < 2 ** 63:
        raise CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing {_go_quote(expr)}: '
                        'value out of range')
    if n < 0:
        raise CronError(f"negative number ({n}) not allowed: {expr}")
    return n


def _int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names is not None:
        v = names.get(expr.lower())
        if v is not None:
            return v
    return _atoi(expr)


def _bits(lo: int, hi: int, step: int) -> int:
    if step == 1:
        return ((1 << (hi + 1)) - 1) & ~((1 << lo) - 1)
    b = 0
    for i in range(lo, hi + 1, step):
        b |= 1 << i
    return b


def _range(expr: str, r: _Bounds) -> int:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    single = len(low_high) == 1
    extra = 0
    if low_high[0] in ("*", "?"):
        start, end, extra = r.min, r.max, _STAR
    else:
        start = _int_or_name(low_high[0], r.names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], r.names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(range_and_step[1])
        if single:
            end = r.max
        if step > 1:
            extra = 0
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < r.min:
        raise CronError(f"beginning of range ({start}) below minimum ({r.min}): {expr}")
    if end > r.max:
        raise CronError(f"end of range ({end}) above maximum ({r.max}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return _bits(start, end, step) | extra


def _field(field: str, r: _Bounds) -> int:
    bits = 0
    for expr in field.split(","):
        if expr:
            bits |= _range(expr, r)
    return bits


def _all(r: _Bounds) -> int:
    return _bits(r.min, r.max, 1) | _STAR


_DESCRIPTORS: dict[str, tuple[int, int, int, int, int, int]] = {}


def _descriptors() -> dict[str, tuple[int, int, int, int, int, int]]:
    if not _DESCRIPTORS:
        one = (1 << 0, 1 << 0, 1 << 0)
        _DESCRIPTORS.update({
            "@yearly": (*one, 1 << 1, 1 << 1, _all(_DOW)),
            "@annually": (*one, 1 << 1, 1 << 1, _all(_DOW)),
            "@monthly": (*one, 1 << 1, _all(_MONTHS), _all(_DOW)),
            "@weekly": (*one, _all(_DOM), _all(_MONTHS), 1 << 0),
            "@daily": (*one, _all(_DOM), _all(_MONTHS), _all(_DOW)),
            "@midnight": (*one, _all(_DOM), _all(_MONTHS), _all(_DOW)),
            "@hourly": (1 << 0, 1 << 0, _all(_HOURS), _all(_DOM), _all(_MONTHS), _all(_DOW)),
        })
    return _DESCRIPTORS


def parse_standard(spec: str) -> Schedule:
    """robfig/cron v3 ParseStandard; raises CronError with the library's message."""
    if not spec:
        raise CronError("empty spec string")
    loc: tzinfo | None = None
    if spec.startswith("TZ=") or spec.startswith("CRON_TZ="):
        i = spec.find(" ")
        eq = spec.find("=")
        name = spec[eq + 1:i] if i >= 0 else spec[eq + 1:]
        try:
            loc = load_location(name)
        except CronError as e:
            raise CronError(f"provided bad location {name}: {e}") from None
        spec = spec[i:].strip() if i >= 0 else ""
    if spec.startswith("@"):
        d = _descriptors().get(spec)
        if d is not None:
            return SpecSchedule(*d, location=loc)
        if spec.startswith("@every "):
            try:
                ns = parse_go_duration(spec[len("@every "):])
            except CronError as e:
                raise CronError(f"failed to parse duration {spec}: {e}") from None
            secs = max(ns, 1_000_000_000) // 1_000_000_000
            return ConstantDelaySchedule(secs)
        raise CronError(f"unrecognized descriptor: {spec}")
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    return SpecSchedule(1 << 0, _field(fields[0], _MINUTES), _field(fields[1], _HOURS), _field(fields[2], _DOM),
                        _field(fields[3], _MONTHS), _field(fields[4], _DOW), location=loc)


# ---- Go durations (time.ParseDuration) --------------------------------------------------------------------

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}


def _go_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_go_duration(s: str) -> int:
    """Go's time.ParseDuration in nanoseconds ("1h30m", "1.5s", "-2m"); CronError with Go's text."""
    orig = s
    bad = CronError(f"time: invalid duration {_go_quote(orig)}")
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise bad
    total = 0
    while s:
        m = re.match(r"([0-9]*)(\.([0-9]*))?", s)
        assert m is not None
        whole, frac = m.group(1), m.group(3) or ""
        if not whole and not frac:
            raise bad
        s = s[m.end():]
        u = re.match(r"[^0-9.]*", s)
        unit = u.group(0) if u else ""
        if not unit:
            raise CronError(f"time: missing unit in duration {_go_quote(orig)}")
        mult = _UNITS.get(unit)
        if mult is None:
            raise CronError(f"time: unknown unit {_go_quote(unit)} in duration {_go_quote(orig)}")
        s = s[len(unit):]
        v = int(whole or "0") * mult
        if frac:
            v += int(int(frac) * mult / 10 ** len(frac))
        total += v
        if total > 2 ** 63 - 1:
            raise bad
    return -total if neg else total
