"""CronJob schedule parsing (robfig/cron v3 ParseStandard) and the controller's pure helpers
(pkg/controller/cronjob/utils.go, v1.32): next times, missed runs, deadlines, job from template."""
from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime

import pytest

from kubeling.api import cron
from kubeling.api.cron import CronError, load_location, parse_go_duration, parse_standard
from kubeling.api.errors import ApiError
from kubeling.controllers.cronjob import utils as u


@pytest.fixture(autouse=True)
def utc_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """Schedules without a zone run in the process zone: pin it to UTC as upstream's tests run."""
    monkeypatch.setattr(cron, "_LOCAL", UTC)


def ts(s: str) -> int:
    return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())


def iso(t: float, tz: str = "UTC") -> str:
    return cron.rfc3339_in(t, load_location(tz))


TOP = ts("2016-05-19T10:00:00Z")  # a Thursday
H, M = 3600, 60


def cj(schedule: str, created: float = TOP, last: float | None = None, **spec: object) -> dict:
    obj = {"apiVersion": "batch/v1", "kind": "CronJob",
           "metadata": {"name": "mycronjob", "namespace": "default", "uid": "1a2b3c",
                        "creationTimestamp": u.rfc3339_utc(created)},
           "spec": {"schedule": schedule, "concurrencyPolicy": "Allow", **spec}, "status": {}}
    if last is not None:
        obj["status"]["lastScheduleTime"] = u.rfc3339_utc(last)
    return obj


# ---- parser ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec,err", [
    ("", "empty spec string"),
    ("foo", "expected exactly 5 fields, found 1: [foo]"),
    ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* 24 * * *", "end of range (24) above maximum (23): 24"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("* * * 13 *", "end of range (13) above maximum (12): 13"),
    ("* * * * 7", "end of range (7) above maximum (6): 7"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("1/2/3 * * * *", "too many slashes: 1/2/3"),
    ("a * * * *", 'failed to parse int from a: strconv.Atoi: parsing "a": invalid syntax'),
    ("-1 * * * *", 'failed to parse int from : strconv.Atoi: parsing "": invalid syntax'),
    ("@foo", "unrecognized descriptor: @foo"),
    ("@every 5", 'failed to parse duration @every 5: time: missing unit in duration "5"'),
    ("@every 5x", 'failed to parse duration @every 5x: time: unknown unit "x" in duration "5x"'),
    ("TZ=Mars/Base * * * * *", "provided bad location Mars/Base: unknown time zone Mars/Base"),
])
def test_parse_errors_match_robfig(spec: str, err: str) -> None:
    with pytest.raises(CronError) as e:
        parse_standard(spec)
    assert str(e.value) == err


def test_parse_names_steps_and_descriptors() -> None:
    s = parse_standard("0 9 * JAN-mar mon-FRI")
    assert isinstance(s, cron.SpecSchedule)
    assert s.month == 0b1110 and s.dow == 0b111110
    assert parse_standard("1/20 * * * *").minute == (1 << 1) | (1 << 21) | (1 << 41)
    assert parse_standard("? * * * *").minute & cron._STAR
    assert not parse_standard("*/2 * * * *").minute & cron._STAR  # a step > 1 is no longer a star
    t = ts("2024-01-10T10:20:30Z")  # a Wednesday
    assert iso(parse_standard("@hourly").next(t)) == "2024-01-10T11:00:00Z"
    assert iso(parse_standard("@daily").next(t)) == "2024-01-11T00:00:00Z"
    assert iso(parse_standard("@midnight").next(t)) == "2024-01-11T00:00:00Z"
    assert iso(parse_standard("@weekly").next(t)) == "2024-01-14T00:00:00Z"
    assert iso(parse_standard("@monthly").next(t)) == "2024-02-01T00:00:00Z"
    assert iso(parse_standard("@yearly").next(t)) == "2025-01-01T00:00:00Z"
    assert iso(parse_standard("@annually").next(t)) == "2025-01-01T00:00:00Z"


def test_every_rounds_to_seconds() -> None:
    assert parse_standard("@every 1h30m").next(100.7) == 100 + 5400
    assert parse_standard("@every 100ms").next(100.7) == 101  # at least a second
    assert parse_standard("@every 2.5s").next(100) == 102
    assert parse_go_duration("1.5h") == 5400 * 10 ** 9
    assert parse_go_duration("-2m") == -120 * 10 ** 9
    assert parse_go_duration("0") == 0
    for bad in ("", "+", "1", ".s", "1hh"):
        with pytest.raises(CronError):
            parse_go_duration(bad)


def test_next_basic() -> None:
    every = parse_standard("* * * * *")
    assert iso(every.next(ts("2024-01-01T00:00:00Z"))) == "2024-01-01T00:01:00Z"
    assert iso(every.next(ts("2024-01-01T00:00:59Z") + 0.9)) == "2024-01-01T00:01:00Z"
    five = parse_standard("*/5 * * * *")
    assert iso(five.next(ts("2024-12-31T23:58:00Z"))) == "2025-01-01T00:00:00Z"
    # day-of-month and day-of-week both restricted: either matches (cron's OR rule)
    either = parse_standard("0 0 13 * 5")
    assert iso(either.next(ts("2024-09-01T00:00:00Z"))) == "2024-09-06T00:00:00Z"  # a Friday before the 13th
    # one of them a star: both must match (AND)
    assert iso(parse_standard("0 0 * * 1").next(ts("2024-09-01T00:00:00Z"))) == "2024-09-02T00:00:00Z"
    assert iso(parse_standard("0 0 29 2 *").next(ts("2024-03-01T00:00:00Z"))) == "2028-02-29T00:00:00Z"


def test_impossible_schedule_returns_zero_time() -> None:
    s = parse_standard("59 23 31 2 *")
    assert s.next(ts("2024-01-01T00:00:00Z")) == cron.ZERO
    assert s.next(cron.ZERO) == cron.ZERO


def test_next_across_dst_in_time_zone() -> None:
    ny = load_location("America/New_York")
    s = parse_standard("TZ=America/New_York 30 2 * * *")
    # 2024-03-10: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that day and is skipped
    t = s.next(cron.go_date(2024, 3, 9, 12, 0, 0, ny))
    assert iso(t, "America/New_York") == "2024-03-11T02:30:00-04:00"
    # 2024-11-03: 01:00-02:00 happens twice; a 01:30 schedule fires in both
    s = parse_standard("TZ=America/New_York 30 1 * * *")
    t1 = s.next(cron.go_date(2024, 11, 2, 12, 0, 0, ny))
    t2 = s.next(t1)
    t3 = s.next(t2)
    assert [iso(x, "America/New_York") for x in (t1, t2, t3)] == [
        "2024-11-03T01:30:00-04:00", "2024-11-03T01:30:00-05:00", "2024-11-04T01:30:00-05:00"]
    # Sao Paulo's DST started at midnight (2018-11-04 00:00 became 01:00): a midnight schedule has
    # no run that day, and the day search lands on 01:00 instead of the previous evening
    sp = parse_standard("CRON_TZ=America/Sao_Paulo 0 0 * * *")
    assert iso(sp.next(ts("2018-11-03T12:00:00Z")), "America/Sao_Paulo") == "2018-11-05T00:00:00-02:00"
    sp = parse_standard("CRON_TZ=America/Sao_Paulo 0 1 4 11 *")
    assert iso(sp.next(ts("2018-11-01T12:00:00Z")), "America/Sao_Paulo") == "2018-11-04T01:00:00-02:00"


def test_go_date_picks_offsets_as_go() -> None:
    ny = load_location("America/New_York")
    # a wall time in the spring gap: Go reads it with the offset before the change (01:30 EST)
    assert iso(cron.go_date(2024, 3, 10, 2, 30, 0, ny), "America/New_York") == "2024-03-10T01:30:00-05:00"
    # an ambiguous one: the first (daylight) reading
    assert iso(cron.go_date(2024, 11, 3, 1, 30, 0, ny), "America/New_York") == "2024-11-03T01:30:00-04:00"
    # normalisation of out-of-range fields
    assert iso(cron.go_date(2024, 13, 32, 0, 0, 0, UTC)) == "2025-02-01T00:00:00Z"


def test_format_schedule_and_time_zone() -> None:
    assert u.format_schedule(cj("* * * * *", timeZone="Europe/Rome")) == ("TZ=Europe/Rome * * * * *", False)
    assert u.format_schedule(cj("* * * * *", timeZone="Nowhere/Land")) == ("* * * * *", False)
    assert u.format_schedule(cj("CRON_TZ=UTC * * * *")) == ("CRON_TZ=UTC * * * *", True)
    assert u.format_schedule(cj("0 1 * * *")) == ("0 1 * * *", False)
    rome = u.parse_schedule(cj("0 1 * * *", timeZone="Europe/Rome"))
    assert iso(rome.next(ts("2024-07-01T00:00:00Z"))) == "2024-07-01T23:00:00Z"
    with pytest.raises(CronError, match="unknown time zone Nowhere/Land"):
        load_location("Nowhere/Land")


# ---- missed runs (mostRecentScheduleTime) ---------------------------------------------------------------

@pytest.mark.parametrize("name,obj,now,include,earliest,recent,missed,err", [
    ("now before next schedule", cj("0 * * * *"), TOP + 30, False, TOP, None, u.NONE_MISSED, False),
    ("now just after next schedule", cj("0 * * * *"), TOP + 61 * M, False, TOP, TOP + H, u.NONE_MISSED, False),
    ("missed 5 schedules", cj("0 * * * *", created=TOP + 10), TOP + 301 * M, False, TOP + 10, TOP + 300 * M,
     u.FEW_MISSED, False),
    ("complex schedule", cj("30 6-16/4 * * 1-5", last=TOP + 30 * M), TOP + 24 * H + 31 * M, False, TOP + 30 * M,
     TOP + 24 * H + 30 * M, u.FEW_MISSED, False),
    ("another complex schedule", cj("30 10,11,12 * * 1-5", last=TOP + 30 * M), TOP + 30 * H + 30 * M, False,
     TOP + 30 * M, None, u.FEW_MISSED, False),
    ("longer diff", cj("30 6-16/4 * * 1-5", last=TOP + 30 * M), TOP + 96 * H + 31 * M, False, TOP + 30 * M,
     TOP + 96 * H + 30 * M, u.FEW_MISSED, False),
    ("no last schedule", cj("30 6-16/4 * * 1-5"), TOP + 24 * H + 31 * M, False, TOP, TOP + 24 * H + 30 * M,
     u.FEW_MISSED, False),
    ("@every, many missed", cj("@every 1h", created=TOP - 59 * M, last=TOP + M, startingDeadlineSeconds=10),
     TOP + 7 * 24 * H, False, TOP + M, TOP + 6 * 24 * H + 23 * H + M, u.MANY_MISSED, False),
    ("rogue cronjob", cj("59 23 31 2 *", created=TOP + 10), TOP + H, False, TOP + 10, None, u.NONE_MISSED, True),
    ("last schedule is creation", cj("0 * * * *", last=TOP), TOP + 30, False, TOP, None, u.NONE_MISSED, False),
    ("last schedule", cj("*/5 * * * *", last=TOP + 30 * M), TOP + 31 * M, False, TOP + 30 * M, None,
     u.NONE_MISSED, False),
    ("within deadline", cj("*/5 * * * *", last=TOP + 30 * M, startingDeadlineSeconds=60), TOP + 31 * M, False,
     TOP + 30 * M, None, u.NONE_MISSED, False),
    ("outside deadline", cj("*/5 * * * *", last=TOP + 30 * M, startingDeadlineSeconds=60), TOP + 32 * M, True,
     TOP + 31 * M, None, u.NONE_MISSED, False),
])
def test_most_recent_schedule_time(name: str, obj: dict, now: float, include: bool, earliest: float,
                                   recent: float | None, missed: int, err: bool) -> None:
    sched = parse_standard(obj["spec"]["schedule"])
    got_earliest, got_recent, got_missed, got_err = u.most_recent_schedule_time(obj, now, sched, include)
    if err:
        assert got_err == "time difference between two schedules is less than 1 second"
        assert got_recent is None
        return
    assert got_err is None
    assert (got_earliest, got_recent, got_missed) == (earliest, recent, missed)


def test_next_schedule_time_cases() -> None:
    hourly = parse_standard("0 * * * ?")
    t1, t2 = TOP, TOP + H
    assert u.next_schedule_time(cj("0 * * * ?", created=t1 - 10 * M), t1 - 7 * M, hourly) == (None, False, None)
    assert u.next_schedule_time(cj("0 * * * ?", created=t1 - 10 * M), t1 + 2, hourly) == (t1, False, None)
    assert u.next_schedule_time(cj("0 * * * ?", created=t1 - 10 * M, last=t1), t1 + 2 * M, hourly)[0] is None
    assert u.next_schedule_time(cj("0 * * * ?", created=t1 - 10 * M, last=t1), t2 + 5 * M, hourly)[0] == t2
    assert u.next_schedule_time(cj("0 * * * ?", created=t1 - 2 * H, last=t1 - H), t2 + 5 * M, hourly)[0] == t2
    # ten days late, no deadline: the most recent time, and more than 100 missed
    got, too_many, _ = u.next_schedule_time(cj("0 * * * ?", created=t1 - 2 * H, last=t1 - H), t2 + 240 * H, hourly)
    assert got == t2 + 240 * H and too_many
    # a short deadline limits the look-back: still the most recent time, and not "too many"
    obj = cj("0 * * * ?", created=t1 - 2 * H, last=t1 - H, startingDeadlineSeconds=2 * H)
    got, too_many, _ = u.next_schedule_time(obj, t2 + 240 * H, hourly)
    assert got == t2 + 240 * H and not too_many
    got, _, err = u.next_schedule_time(cj("59 23 31 2 *", created=t1 + 10), t2, parse_standard("59 23 31 2 *"))
    assert got is None and err


@pytest.mark.parametrize("obj,now,expected", [
    (cj("30 6-16/4 * * 1-5", last=TOP + 30 * M), TOP + 24 * H + 31 * M, 3 * H + 59 * M),
    (cj("30 10,11,12 * * 1-5", last=TOP + 30 * M), TOP + 30 * H + 30 * M, 66 * H),
    (cj("0 12 * * 4", last=TOP + 2 * H), TOP + 19 * 24 * H + H + 30 * M, 48 * H + 30 * M),
    (cj("0 12 * * 5"), TOP + 6 * H, 20 * H),
])
def test_next_schedule_time_duration(obj: dict, now: float, expected: float) -> None:
    got = u.next_schedule_time_duration(obj, now, parse_standard(obj["spec"]["schedule"]))
    assert got == pytest.approx(expected + u.NEXT_SCHEDULE_DELTA)


def test_too_late_and_event_time_format() -> None:
    obj = cj("* * * * *", startingDeadlineSeconds=10)
    assert not u.too_late(obj, TOP, TOP + 10)
    assert u.too_late(obj, TOP, TOP + 11)
    assert not u.too_late(cj("* * * * *"), TOP, TOP + 10 ** 6)
    assert u.format_rfc1123z(TOP) == "Thu, 19 May 2016 10:00:00 +0000"


# ---- jobs and the active list ----------------------------------------------------------------------------

def test_job_from_template() -> None:
    obj = cj("* * * * ?")
    obj["spec"]["jobTemplate"] = {"metadata": {"labels": {"a": "b"}, "annotations": {"x": "y"}},
                                  "spec": {"activeDeadlineSeconds": 1, "template": {
                                      "metadata": {"labels": {"foo": "bar"}},
                                      "spec": {"containers": [{"name": "c", "image": "foo/bar"}]}}}}
    job = u.job_from_template(obj, TOP)
    md = job["metadata"]
    assert md["name"] == f"mycronjob-{TOP // 60}"
    assert md["labels"] == {"a": "b"}
    assert md["annotations"] == {"x": "y", u.SCHEDULED_TIMESTAMP_ANNOTATION: "2016-05-19T10:00:00Z"}
    assert md["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "mycronjob",
                                      "uid": "1a2b3c", "controller": True, "blockOwnerDeletion": True}]
    assert job["spec"] == obj["spec"]["jobTemplate"]["spec"]
    assert job["spec"] is not obj["spec"]["jobTemplate"]["spec"]
    obj["spec"]["timeZone"] = "Europe/Rome"
    assert u.job_from_template(obj, TOP)["metadata"]["annotations"][u.SCHEDULED_TIMESTAMP_ANNOTATION] == \
        "2016-05-19T12:00:00+02:00"


def test_job_name_is_minutes_since_epoch() -> None:
    assert u.job_name(cj("* * * * *"), ts("2024-01-01T00:01:00Z")) == "mycronjob-28401121"


def job(name: str, start: str | None = None, cond: str | None = None, uid: str = "") -> dict:
    j: dict = {"metadata": {"name": name, "namespace": "default", "uid": uid or name}, "status": {}}
    if start:
        j["status"]["startTime"] = start
    if cond:
        j["status"]["conditions"] = [{"type": "SuccessCriteriaMet", "status": "True"},
                                     {"type": cond, "status": "True"}]
    return j


def test_by_start_time_and_history() -> None:
    a_nil, b_nil = job("a"), job("b")
    a_set, b_set = job("a", "2018-01-01T02:03:04Z"), job("b", "2018-01-01T02:03:04Z")
    a_later = job("a", "2019-01-01T02:03:04Z")
    key = u.by_start_time_key
    assert sorted([b_nil, a_nil], key=key) == [a_nil, b_nil]
    assert sorted([a_nil, b_set], key=key) == [b_set, a_nil]
    assert sorted([a_set, b_nil], key=key) == [a_set, b_nil]
    assert sorted([b_set, a_set], key=key) == [a_set, b_set]
    assert sorted([a_later, b_set], key=key) == [b_set, a_later]
    assert u.jobs_to_delete([a_later, b_set, a_nil], 1) == [b_set, a_later]
    assert u.jobs_to_delete([a_later], 1) == []
    assert u.jobs_to_delete([a_later, b_set], 0) == [b_set, a_later]


def test_finished_conditions() -> None:
    assert u.finished_condition(job("a", cond="Complete")) == "Complete"
    assert u.finished_condition(job("a", cond="Failed")) == "Failed"
    assert u.finished_condition(job("a")) is None
    assert u.is_job_succeeded(job("a", cond="Complete"))
    assert not u.is_job_succeeded(job("a", cond="Failed"))


def test_active_list_helpers() -> None:
    obj = cj("* * * * *")
    j1 = job("x-1", uid="u1")
    j1["metadata"]["resourceVersion"] = "7"
    obj["status"]["active"] = [u.job_ref(j1)]
    assert obj["status"]["active"] == [{"kind": "Job", "namespace": "default", "name": "x-1", "uid": "u1",
                                        "apiVersion": "batch/v1", "resourceVersion": "7"}]
    assert u.in_active_list(obj, "u1") and not u.in_active_list(obj, "u2")
    assert u.in_active_list_by_name(obj, "default", "x-1")
    assert not u.in_active_list_by_name(obj, "other", "x-1")
    u.delete_from_active_list(obj, "u1")
    assert "active" not in obj["status"]  # omitempty


def test_owned_by_name() -> None:
    j = job("a")
    assert not u.owned_by_name(j, "mycronjob")
    j["metadata"]["ownerReferences"] = [{"kind": "CronJob", "name": "mycronjob", "uid": "z", "controller": True}]
    assert u.owned_by_name(j, "mycronjob") and not u.owned_by_name(j, "other")


# ---- the controller's sync against fakes (a clock the integration tests cannot set) ----------------------

class FakeInformer:
    def __init__(self) -> None:
        self.cache: dict[str, dict] = {}

    def put(self, obj: dict) -> None:
        md = obj["metadata"]
        self.cache[f"{md['namespace']}/{md['name']}"] = obj

    def get(self, key: str) -> dict | None:
        return self.cache.get(key)

    def get_by(self, ns: str | None, name: str) -> dict | None:
        return self.cache.get(f"{ns}/{name}")

    def by_index(self, index: str, value: str) -> list[dict]:
        return [o for o in self.cache.values() if o["metadata"]["namespace"] == value]

    def add_handlers(self, *handlers: object) -> None:
        pass


class FakeClient:
    def __init__(self, cronjobs: FakeInformer, jobs: FakeInformer) -> None:
        self.cronjobs, self.jobs = cronjobs, jobs
        self.created: list[dict] = []
        self.deleted: list[tuple[str, dict | None]] = []
        self.status_updates: list[dict] = []
        self.create_error: ApiError | None = None
        self.n = 0

    def _inf(self, resource: str) -> FakeInformer:
        return self.jobs if resource.startswith("jobs") else self.cronjobs

    async def get(self, resource: str, ns: str | None, name: str) -> dict:
        obj = self._inf(resource).get_by(ns, name)
        if obj is None:
            raise ApiError(404, "NotFound", f'{resource} "{name}" not found')
        return copy.deepcopy(obj)

    async def create(self, resource: str, ns: str | None, obj: dict) -> dict:
        if self.create_error is not None:
            raise self.create_error
        inf = self._inf(resource)
        if inf.get_by(ns, obj["metadata"]["name"]) is not None:
            raise ApiError(409, "AlreadyExists", f'jobs.batch "{obj["metadata"]["name"]}" already exists')
        self.n += 1
        obj = copy.deepcopy(obj)
        obj["metadata"].update(uid=f"job-uid-{self.n}", resourceVersion=str(100 + self.n))
        inf.put(obj)
        self.created.append(obj)
        return copy.deepcopy(obj)

    async def delete(self, resource: str, ns: str | None, name: str, options: dict | None = None) -> None:
        self._inf(resource).cache.pop(f"{ns}/{name}", None)
        self.deleted.append((name, options))

    async def update_status(self, resource: str, obj: dict) -> dict:
        self.status_updates.append(copy.deepcopy(obj))
        self.cronjobs.put(copy.deepcopy(obj))
        return obj


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: dict, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))

    def reasons(self) -> list[str]:
        return [r for _, r, _ in self.events]


class Harness:
    def __init__(self, obj: dict, now: float, jobs: list[dict] = ()) -> None:  # type: ignore[assignment]
        from kubeling.controllers.cronjob import CronJobController

        self.cronjobs, self.jobs = FakeInformer(), FakeInformer()
        self.client = FakeClient(self.cronjobs, self.jobs)
        self.recorder = FakeRecorder()
        informers = {"cronjobs.batch": self.cronjobs, "jobs.batch": self.jobs}
        harness = self

        class Ctx:
            client = harness.client

            class informers:  # noqa: N801
                @staticmethod
                def informer(resource: str) -> FakeInformer:
                    return informers[resource]

            @staticmethod
            def recorder(component: str) -> FakeRecorder:
                return harness.recorder

        self.cronjobs.put(obj)
        for j in jobs:
            self.jobs.put(j)
        self.now = now
        self.c = CronJobController(Ctx, now=lambda: self.now)

    def sync(self) -> tuple[float | None, bool, BaseException | None, dict]:
        """Run the cleanup and syncCronJob on a copy as sync() does; returns the copy as well."""
        obj = copy.deepcopy(self.cronjobs.get("default/mycronjob"))
        mine = [j for j in self.jobs.cache.values() if u.owned_by_name(j, "mycronjob")]

        async def go() -> tuple:
            changed = await self.c.cleanup_finished_jobs(obj, mine)
            requeue, update, err = await self.c.sync_cronjob(obj, mine)
            return requeue, update or changed, err

        requeue, update, err = asyncio.run(go())
        return requeue, update, err, obj


def owned_job(name: str, uid: str, cond: str | None = None, start: str | None = None,
              completion: str | None = None) -> dict:
    j = job(name, start, cond, uid)
    j["metadata"]["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "mycronjob",
                                         "uid": "1a2b3c", "controller": True, "blockOwnerDeletion": True}]
    if completion:
        j["status"]["completionTime"] = completion
    return j


def active_ref(name: str, uid: str) -> dict:
    return {"kind": "Job", "namespace": "default", "name": name, "uid": uid, "apiVersion": "batch/v1"}


def test_sync_creates_the_due_job_and_requeues_for_the_next() -> None:
    h = Harness(cj("* * * * *", created=TOP - 10), TOP + 5)
    requeue, update, err, obj = h.sync()
    assert err is None and update
    assert [j["metadata"]["name"] for j in h.client.created] == [f"mycronjob-{TOP // 60}"]
    assert h.recorder.events == [("Normal", "SuccessfulCreate", f"Created job mycronjob-{TOP // 60}")]
    assert obj["status"]["lastScheduleTime"] == "2016-05-19T10:00:00Z"
    assert obj["status"]["active"][0]["name"] == f"mycronjob-{TOP // 60}"
    assert requeue == pytest.approx(55.1)
    # level-triggered: the same time again creates nothing
    h.cronjobs.put(obj)
    requeue, update, err, _ = h.sync()
    assert len(h.client.created) == 1 and not update and requeue == pytest.approx(55.1)


def test_sync_nothing_due_requeues_at_next_time() -> None:
    h = Harness(cj("*/5 * * * *", created=TOP + 10), TOP + 60)
    requeue, update, err, _ = h.sync()
    assert (update, err, h.client.created) == (False, None, [])
    assert requeue == pytest.approx(4 * 60 + 0.1)


def test_suspend_and_deleting_create_nothing() -> None:
    h = Harness(cj("* * * * *", created=TOP - 10, suspend=True), TOP + 5)
    assert h.sync()[:3] == (None, False, None) and h.client.created == []
    obj = cj("* * * * *", created=TOP - 10)
    obj["metadata"]["deletionTimestamp"] = u.rfc3339_utc(TOP)
    h = Harness(obj, TOP + 5)
    assert h.sync()[:3] == (None, False, None) and h.client.created == []


def test_forbid_skips_while_a_job_runs() -> None:
    obj = cj("* * * * *", created=TOP - 120, last=TOP - 60, concurrencyPolicy="Forbid")
    obj["status"]["active"] = [active_ref("mycronjob-old", "old")]
    h = Harness(obj, TOP + 5, [owned_job("mycronjob-old", "old")])
    requeue, _, err, _ = h.sync()
    assert err is None and h.client.created == []
    assert h.recorder.events == [("Normal", "JobAlreadyActive", "Not starting job because prior execution is "
                                  "running and concurrency policy is Forbid")]
    assert requeue == pytest.approx(55.1)


def test_replace_deletes_the_running_job_first() -> None:
    obj = cj("* * * * *", created=TOP - 120, last=TOP - 60, concurrencyPolicy="Replace")
    obj["status"]["active"] = [active_ref("mycronjob-old", "old")]
    h = Harness(obj, TOP + 5, [owned_job("mycronjob-old", "old")])
    _, update, err, obj = h.sync()
    assert err is None and update
    assert h.client.deleted == [("mycronjob-old", {"propagationPolicy": "Background"})]
    assert h.recorder.reasons() == ["SuccessfulDelete", "SuccessfulCreate"]
    assert [r["name"] for r in obj["status"]["active"]] == [f"mycronjob-{TOP // 60}"]


def test_allow_runs_concurrently() -> None:
    obj = cj("* * * * *", created=TOP - 120, last=TOP - 60)
    obj["status"]["active"] = [active_ref("mycronjob-old", "old")]
    h = Harness(obj, TOP + 5, [owned_job("mycronjob-old", "old")])
    _, _, _, obj = h.sync()
    assert len(obj["status"]["active"]) == 2 and h.client.deleted == []


def test_missed_deadline_is_a_miss_schedule_event() -> None:
    h = Harness(cj("0 * * * *", created=TOP - 10, startingDeadlineSeconds=10), TOP + 20)
    requeue, update, err, _ = h.sync()
    # the deadline moves the earliest time past TOP: nothing is due at all
    assert (requeue is not None, update, err, h.client.created) == (True, False, None, [])
    # without the look-back cut (deadline longer than the lateness of the previous run)
    h = Harness(cj("0 * * * *", created=TOP - 10, startingDeadlineSeconds=30), TOP + 20)
    h.sync()
    assert h.client.created and h.recorder.reasons() == ["SuccessfulCreate"]


def test_too_many_missed_warns_and_runs_the_latest() -> None:
    h = Harness(cj("* * * * *", created=TOP - 200 * 60 - 10), TOP + 5)
    h.sync()
    assert h.recorder.reasons() == ["TooManyMissedTimes", "SuccessfulCreate"]
    assert h.recorder.events[0][2] == ("too many missed start times. Set or decrease "
                                       ".spec.startingDeadlineSeconds or check clock skew")
    assert h.client.created[0]["metadata"]["name"] == f"mycronjob-{TOP // 60}"


def test_already_exists_after_a_crash_is_adopted_into_status() -> None:
    name = f"mycronjob-{TOP // 60}"
    existing = owned_job(name, "job-before-crash")
    h = Harness(cj("* * * * *", created=TOP - 10), TOP + 5, [existing])
    requeue, update, err, obj = h.sync()
    # an unfinished job of ours missing from status: UnexpectedJob, then the create is an AlreadyExists
    assert err is None and update and h.client.created == []
    assert h.recorder.reasons() == ["UnexpectedJob"]
    assert h.recorder.events[0][2] == f"Saw a job that the controller did not create or forgot: {name}"
    assert [r["uid"] for r in obj["status"]["active"]] == ["job-before-crash"]
    assert obj["status"]["lastScheduleTime"] == "2016-05-19T10:00:00Z"
    assert requeue == pytest.approx(55.1)


def test_already_exists_of_someone_else_is_left_alone() -> None:
    name = f"mycronjob-{TOP // 60}"
    h = Harness(cj("* * * * *", created=TOP - 10), TOP + 5, [job(name, uid="foreign")])
    requeue, update, err, obj = h.sync()
    assert (requeue, update, err) == (None, False, None)
    assert "active" not in obj["status"]


def test_failed_create_and_terminating_namespace() -> None:
    h = Harness(cj("* * * * *", created=TOP - 10), TOP + 5)
    h.client.create_error = ApiError(403, "Forbidden", "nope")
    _, _, err, _ = h.sync()
    assert isinstance(err, ApiError) and h.recorder.events == [("Warning", "FailedCreate",
                                                                "Error creating job: nope")]
    h = Harness(cj("* * * * *", created=TOP - 10), TOP + 5)
    h.client.create_error = ApiError(403, "Forbidden", "terminating",
                                     causes=[{"type": "NamespaceTerminating", "message": "x"}])
    _, _, err, _ = h.sync()
    assert isinstance(err, ApiError) and h.recorder.events == []


def test_finished_and_missing_jobs_leave_the_active_list() -> None:
    obj = cj("0 0 1 1 *", created=TOP - 120, last=TOP - 60)
    obj["status"]["active"] = [active_ref("done", "u-done"), active_ref("gone", "u-gone")]
    done = owned_job("done", "u-done", "Complete", completion="2016-05-19T10:00:30Z")
    h = Harness(obj, TOP + 5, [done])
    _, update, err, obj = h.sync()
    assert err is None and update
    assert h.recorder.events == [("Normal", "SawCompletedJob", "Saw completed job: done, condition: Complete"),
                                 ("Normal", "MissingJob", "Active job went missing: gone")]
    assert "active" not in obj["status"]
    assert obj["status"]["lastSuccessfulTime"] == "2016-05-19T10:00:30Z"


def test_history_limits_delete_the_oldest_finished() -> None:
    jobs = [owned_job(f"ok{i}", f"ok{i}", "Complete", start=f"2016-05-19T0{i}:00:00Z",
                      completion=f"2016-05-19T0{i}:00:05Z") for i in range(1, 4)]
    jobs += [owned_job(f"bad{i}", f"bad{i}", "Failed", start=f"2016-05-19T0{i}:00:00Z") for i in range(1, 3)]
    jobs.append(owned_job("running", "running"))
    obj = cj("0 0 1 1 *", created=TOP - 120, successfulJobsHistoryLimit=1, failedJobsHistoryLimit=0, suspend=True)
    obj["status"]["active"] = [active_ref("running", "running")]
    h = Harness(obj, TOP + 5, jobs)
    _, update, err, obj = h.sync()
    assert err is None and update
    assert [n for n, _ in h.client.deleted] == ["ok1", "ok2", "bad1", "bad2"]
    assert all(o == {"propagationPolicy": "Background"} for _, o in h.client.deleted)
    assert h.recorder.reasons() == ["SuccessfulDelete"] * 4
    assert h.recorder.events[0][2] == "Deleted job ok1"
    assert obj["status"]["lastSuccessfulTime"] == "2016-05-19T03:00:05Z"


def test_bad_time_zone_and_tz_in_schedule_are_events() -> None:
    h = Harness(cj("* * * * *", created=TOP - 10, timeZone="Mars/Olympus"), TOP + 5)
    assert h.sync()[:3] == (None, False, None)
    assert h.recorder.events == [("Warning", "UnknownTimeZone",
                                  'invalid timeZone: "Mars/Olympus": unknown time zone Mars/Olympus')]
    h = Harness(cj("TZ=UTC * * * * *", created=TOP - 10), TOP + 5)
    h.sync()
    assert h.recorder.reasons() == ["UnsupportedSchedule", "SuccessfulCreate"]
    assert h.recorder.events[0][2] == ('CRON_TZ or TZ used in schedule "TZ=UTC * * * * *" is not officially '
                                       "supported, see https://kubernetes.io/docs/concepts/workloads/"
                                       "controllers/cron-jobs/ for more details")
    h = Harness(cj("59 23 31 2 *", created=TOP - 10), TOP + 5)
    assert h.sync()[:3] == (None, False, None)
    assert h.recorder.events == [("Warning", "InvalidSchedule", "invalid schedule: 59 23 31 2 * : time difference "
                                  "between two schedules is less than 1 second")]


def test_time_zone_schedule_and_annotation() -> None:
    # 10:00 UTC is 12:00 in Rome (CEST): "0 12 * * *" in Europe/Rome is due at TOP
    h = Harness(cj("0 12 * * *", created=TOP - 10, timeZone="Europe/Rome"), TOP + 5)
    h.sync()
    ann = h.client.created[0]["metadata"]["annotations"]
    assert ann == {u.SCHEDULED_TIMESTAMP_ANNOTATION: "2016-05-19T12:00:00+02:00"}
