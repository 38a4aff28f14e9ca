"""Each tenant's series cardinality quota (its plan's ``max_series``), enforced at ingest.

A series is a SeriesKey (site, line, asset, tag). The set of a tenant's known series lives
in Redis when the rate limits do, so every API replica counts the same series, and in this
process otherwise. A request whose new series would take the tenant past its quota is
refused whole, its new series are not counted, and series already known keep flowing.

The set starts from the series the historian already holds, read the first time a tenant
sends a series this process has not seen (not at start: a replica must start, and serve
other tenants, while the series store is away). Each replica keeps what it saw admitted
in memory and asks Redis only about series new to it.

``reconcile`` shrinks the set to the series the store still holds (those its retention
dropped stop counting), keeping every series admitted since shortly before it read the
store: a series admitted, and not yet written, or admitted while the store was being
read, is never dropped. Admissions are stamped with Redis's own clock (one clock for
every replica) in a sorted set beside the set; the swap is one Lua script. A reconcile
bumps the tenant's generation; replicas check it at most every ``GENERATION_CHECK_S``
seconds (and on every slow path) and forget what they had cached when it moved, so a
removed series that comes back is counted again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from historian import SeriesKey

log = logging.getLogger(__name__)

_PREFIX = "mingzhou:series:"
# A set's companions for reconciling (admissions, generation, lock…), under a prefix of
# their own so that ``mingzhou:series:<tenant>:*`` still names only the set and its marker.
_STATE = "mingzhou:series-state:"
# SADD in slices: Lua's unpack() and Redis's argument lists have practical limits.
_CHUNK = 1000
# How stale a replica's cached series may be after another replica reconciled: a removed
# series that comes back within it flows uncounted until the next check.
GENERATION_CHECK_S = 5.0
# A reconcile keeps what was admitted this long before it read the store: ingestion admits
# a request's series before it writes them, and a slow write must not lose its place.
ADMIT_GRACE_S = 300.0
# A reconcile that holds its tenant's lock longer (a store listing stuck) gives it up.
RECONCILE_LOCK_S = 900

# KEYS: the tenant's set, its admissions (member -> Redis time, µs), its generation.
# ARGV[1]: the quota; ARGV[2]: how long (µs) admissions are kept; ARGV[3..]: candidates.
# Returns {series in use, 1 if admitted else 0, generation, the members that were new...}.
# Atomic in Redis, so two replicas admitting at once cannot both take the last places.
_ADMIT = """
local new = {}
for i = 3, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 0 then new[#new + 1] = ARGV[i] end
end
local count = redis.call('SCARD', KEYS[1])
local admitted = 1
if #new > 0 then
  if count + #new > tonumber(ARGV[1]) then
    admitted = 0
  else
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
    for i = 1, #new, 1000 do
      local last = math.min(i + 999, #new)
      redis.call('SADD', KEYS[1], unpack(new, i, last))
      local stamped = {}
      for j = i, last do
        stamped[#stamped + 1] = now
        stamped[#stamped + 1] = new[j]
      end
      redis.call('ZADD', KEYS[2], unpack(stamped))
    end
    -- Only admissions a running or future reconcile may keep matter: the rest go, and
    -- the whole log goes when no series was admitted for a while.
    local keep = tonumber(ARGV[2])
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - keep))
    redis.call('PEXPIRE', KEYS[2], math.floor(keep / 1000) + 60000)
    count = count + #new
  end
end
local result = {count, admitted, tonumber(redis.call('GET', KEYS[3]) or '0')}
for i = 1, #new do result[#result + 1] = new[i] end
return result
"""

# KEYS: the lock, when the set was last reconciled (µs). ARGV: a token, the lock's TTL
# (s), how recent (µs) a last reconcile makes this one needless. Returns Redis's time (µs)
# when the lock was taken, or 0 when another replica holds it or reconciled recently.
_BEGIN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[3]) > 0 and now - last < tonumber(ARGV[3]) then return 0 end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', tonumber(ARGV[2])) then return 0 end
return now
"""

# KEYS: the set, admissions, generation, lock, the store's listing (a temporary set),
# the "seeded" marker, when the set was last reconciled.
# ARGV: the token, keep admissions from this time (µs).
# Returns {series in use, generation}, or {-1, 0} when the lock was lost.
_SWAP = """
if redis.call('GET', KEYS[4]) ~= ARGV[1] then
  redis.call('DEL', KEYS[5])
  return {-1, 0}
end
local since = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. since)
local recent = redis.call('ZRANGE', KEYS[2], 0, -1)
if redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('RENAME', KEYS[5], KEYS[1])
else
  redis.call('DEL', KEYS[1])
end
for i = 1, #recent, 1000 do
  redis.call('SADD', KEYS[1], unpack(recent, i, math.min(i + 999, #recent)))
end
local generation = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[6], '1')
local t = redis.call('TIME')
redis.call('SET', KEYS[7], tonumber(t[1]) * 1000000 + tonumber(t[2]))
redis.call('DEL', KEYS[4])
return {redis.call('SCARD', KEYS[1]), generation}
"""


class SeriesQuotaUnavailable(Exception):
    """Redis, which holds the known series, cannot be reached; the request may work later."""


class SeriesQuotaExceeded(Exception):
    """New series would pass the tenant's quota; none of them were counted."""

    def __init__(self, quota: int, in_use: int, refused: list[SeriesKey]) -> None:
        super().__init__(f"series quota of {quota} reached; {len(refused)} new series refused")
        self.quota = quota
        self.in_use = in_use
        self.refused = refused


@dataclass(frozen=True, slots=True)
class TenantSeries:
    """Which tenant's set: the key alone could name a deleted tenant's leftover set in a
    long-lived Redis, so its id and creation time are part of the name."""

    key: str
    id: int
    created_at: datetime

    @property
    def name(self) -> str:
        created = self.created_at
        created = created.replace(tzinfo=UTC) if created.tzinfo is None else created
        return f"{self.key}:{self.id}:{int(created.timestamp() * 1_000_000)}"


def _member(key: SeriesKey) -> str:
    # JSON keeps the four names apart whatever characters they hold.
    return json.dumps([key.site, key.line, key.asset, key.tag], ensure_ascii=False)


class SeriesRegistry:
    """The known series of every tenant; ``memory://`` or a Redis URL (``redis://…``).

    ``admit_grace_s``: how long before a reconcile read the store an admission still
    counts though the store does not hold its series (tests set 0).
    """

    def __init__(self, uri: str, admit_grace_s: float = ADMIT_GRACE_S) -> None:
        if uri.startswith(("redis://", "rediss://")):
            self._redis: redis.Redis | None = redis.Redis.from_url(uri)
            self._admit_script = self._redis.register_script(_ADMIT)
            self._begin_script = self._redis.register_script(_BEGIN)
            self._swap_script = self._redis.register_script(_SWAP)
        elif uri.startswith("memory://"):
            self._redis = None
        else:
            raise ValueError(
                f"series quota store {uri!r}: expected memory:// or redis://host:port/db"
            )
        if admit_grace_s < 0:
            raise ValueError(f"admit_grace_s must be 0 or more, got {admit_grace_s!r}")
        self.admit_grace_s = admit_grace_s
        # Series known to be admitted, per tenant set name: for memory:// the set itself,
        # for Redis the part of it this process has seen (so known series cost no trip).
        self._known: dict[str, set[SeriesKey]] = {}
        self._seeded: set[str] = set()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        # Redis: the generation the cached series belong to, and when it was last checked.
        self._generation: dict[str, int] = {}
        self._checked_at: dict[str, float] = {}
        # memory://: when each series was admitted (monotonic), for a reconcile's grace;
        # tenants being reconciled; when each was last reconciled.
        self._admitted: dict[str, dict[SeriesKey, float]] = {}
        self._reconciling: set[str] = set()
        self._reconciled_at: dict[str, float] = {}

    @property
    def _keep_admissions_us(self) -> int:
        # A reconcile may run up to its lock's life and keeps admissions from the grace
        # before it began: younger ones must stay in the log.
        return int((self.admit_grace_s + RECONCILE_LOCK_S) * 1_000_000)

    def all_known(self, tenant: TenantSeries, keys: Set[SeriesKey]) -> bool:
        """True when every key is admitted already: the request needs no quota check.

        With Redis, one GET every ``GENERATION_CHECK_S`` per tenant at most: a reconcile
        elsewhere drops this replica's cache, so a removed series is counted again."""
        if not keys:
            return True
        name = tenant.name
        known = self._known.get(name)
        if known is None or not keys <= known:
            return False
        if self._redis is None:
            return True
        now = time.monotonic()
        if now - self._checked_at.get(name, 0.0) < GENERATION_CHECK_S:
            return True
        self._checked_at[name] = now
        try:
            generation = int(self._redis.get(_key(name, "generation")) or 0)
        except redis.RedisError:
            # Known series keep flowing while Redis is away; checked again next time.
            log.debug("cannot check the series generation of %s", name, exc_info=True)
            return True
        if generation != self._generation.get(name):
            # Replaced, not cleared: an admission in flight may hold the old set.
            self._known[name] = set()
            self._generation[name] = generation
            return False
        return True

    def admit(
        self,
        tenant: TenantSeries,
        keys: Set[SeriesKey],
        max_series: int,
        existing: Callable[[], Iterable[SeriesKey]],
    ) -> None:
        """Count the new series among ``keys``, or raise SeriesQuotaExceeded counting none.

        ``existing`` lists the series the tenant's store holds; it is called once per
        tenant to start the set. Blocking (Redis, the store): call it from a worker thread.
        Raises SeriesQuotaUnavailable while Redis is away, and what ``existing`` raises.
        """
        try:
            self._admit(tenant.name, keys, max_series, existing)
        except redis.RedisError as exc:
            raise SeriesQuotaUnavailable(f"cannot reach Redis for the series quota: {exc}") from exc

    def _admit(
        self,
        name: str,
        keys: Set[SeriesKey],
        max_series: int,
        existing: Callable[[], Iterable[SeriesKey]],
    ) -> None:
        with self._lock(name):
            known = self._known.setdefault(name, set())
            if name not in self._seeded:
                self._seed(name, known, existing)
                self._seeded.add(name)
            if self._redis is not None:
                # The slow path always checks the generation: it costs a trip among trips.
                generation = int(self._redis.get(_key(name, "generation")) or 0)
                self._checked_at[name] = time.monotonic()
                if generation != self._generation.get(name):
                    known = self._known[name] = set()
                    self._generation[name] = generation
            unseen = keys - known
            if not unseen:
                return
            if self._redis is None:
                if len(known) + len(unseen) > max_series:
                    raise SeriesQuotaExceeded(max_series, len(known), sorted(unseen))
                known |= unseen
                stamps = self._admitted.setdefault(name, {})
                now = time.monotonic()
                stamps.update((key, now) for key in unseen)
                return
            by_member = {_member(key): key for key in unseen}
            in_use, admitted, generation, *new = self._admit_script(
                keys=[_PREFIX + name, _key(name, "admitted"), _key(name, "generation")],
                args=[max_series, self._keep_admissions_us, *by_member],
            )
            if int(generation) != self._generation.get(name):
                # A reconcile ran since the check above: only what the script saw is sure.
                known = self._known[name] = set()
                self._generation[name] = int(generation)
            if not admitted:
                refused = sorted(by_member[member.decode("utf-8")] for member in new)
                raise SeriesQuotaExceeded(max_series, int(in_use), refused)
            known |= unseen

    def _seed(
        self, name: str, known: set[SeriesKey], existing: Callable[[], Iterable[SeriesKey]]
    ) -> None:
        if self._redis is None:
            known.update(existing())
            return
        marker = _seeded_key(name)
        if self._redis.exists(marker):
            return
        # Two replicas may both seed a new tenant: SADD makes that harmless, and neither
        # admits anything before its own seeding is done.
        members = [_member(key) for key in existing()]
        for start in range(0, len(members), _CHUNK):
            self._redis.sadd(_PREFIX + name, *members[start : start + _CHUNK])
        self._redis.set(marker, "1")

    def reconcile(
        self,
        tenant: TenantSeries,
        existing: Callable[[], Iterable[SeriesKey]],
        not_within_s: float = 0.0,
        after_listing: Callable[[], None] | None = None,
    ) -> int | None:
        """Make the tenant's set the series its store holds, plus those admitted since
        ``admit_grace_s`` before the store was read; returns the series in use after.

        None when there was nothing to do: the tenant's set was never started (its first
        admission starts it from the store), another replica is reconciling it, or it was
        reconciled less than ``not_within_s`` ago. ``after_listing`` runs between reading
        the store and the swap (for tests). Blocking: Redis and the store. Raises
        SeriesQuotaUnavailable while Redis is away, and what ``existing`` raises (the set
        is then left as it was).
        """
        try:
            if self._redis is None:
                return self._reconcile_memory(tenant.name, existing, not_within_s, after_listing)
            return self._reconcile_redis(
                self._redis, tenant.name, existing, not_within_s, after_listing
            )
        except redis.RedisError as exc:
            raise SeriesQuotaUnavailable(f"cannot reach Redis for the series quota: {exc}") from exc

    def _reconcile_memory(
        self,
        name: str,
        existing: Callable[[], Iterable[SeriesKey]],
        not_within_s: float,
        after_listing: Callable[[], None] | None,
    ) -> int | None:
        with self._lock(name):
            last = self._reconciled_at.get(name)
            recent = last is not None and time.monotonic() - last < not_within_s
            if name not in self._seeded or name in self._reconciling or recent:
                return None
            self._reconciling.add(name)
        try:
            began = time.monotonic()
            # The store is read without the tenant's lock: admissions go on meanwhile.
            listed = set(existing())
            if after_listing is not None:
                after_listing()
            with self._lock(name):
                since = began - self.admit_grace_s
                stamps = {
                    key: at for key, at in self._admitted.get(name, {}).items() if at >= since
                }
                self._admitted[name] = stamps
                self._known[name] = listed | stamps.keys()
                self._reconciled_at[name] = time.monotonic()
                return len(self._known[name])
        finally:
            with self._lock(name):
                self._reconciling.discard(name)

    def _reconcile_redis(
        self,
        client: redis.Redis,
        name: str,
        existing: Callable[[], Iterable[SeriesKey]],
        not_within_s: float,
        after_listing: Callable[[], None] | None,
    ) -> int | None:
        if not client.exists(_seeded_key(name)):
            return None
        token = uuid.uuid4().hex
        lock = _key(name, "reconciling")
        began = int(
            self._begin_script(
                keys=[lock, _key(name, "reconciled")],
                args=[token, RECONCILE_LOCK_S, int(not_within_s * 1_000_000)],
            )
        )
        if not began:
            return None
        listing = _key(name, f"listing:{token}")
        try:
            members = [_member(key) for key in existing()]
            with client.pipeline(transaction=False) as pipe:
                for start in range(0, len(members), _CHUNK):
                    pipe.sadd(listing, *members[start : start + _CHUNK])
                # A replica that dies before the swap leaves no listing behind for long.
                pipe.expire(listing, RECONCILE_LOCK_S)
                pipe.execute()
            if after_listing is not None:
                after_listing()
        except BaseException:
            # Give the lock back so the next pass, here or elsewhere, need not wait for it.
            client.delete(listing)
            if client.get(lock) == token.encode():
                client.delete(lock)
            raise
        in_use, generation = self._swap_script(
            keys=[
                _PREFIX + name,
                _key(name, "admitted"),
                _key(name, "generation"),
                lock,
                listing,
                _seeded_key(name),
                _key(name, "reconciled"),
            ],
            args=[token, began - int(self.admit_grace_s * 1_000_000)],
        )
        if int(in_use) < 0:
            log.warning("reconciling the series of %s took too long; left as it was", name)
            return None
        with self._lock(name):
            self._known[name] = set()
            self._generation[name] = int(generation)
            self._checked_at[name] = time.monotonic()
        return int(in_use)

    def in_use(self, tenant: TenantSeries) -> int | None:
        """The series the tenant's quota counts now; None before its set was started."""
        name = tenant.name
        if self._redis is None:
            return len(self._known[name]) if name in self._seeded else None
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.exists(_seeded_key(name))
                pipe.scard(_PREFIX + name)
                seeded, count = pipe.execute()
        except redis.RedisError as exc:
            raise SeriesQuotaUnavailable(f"cannot reach Redis for the series quota: {exc}") from exc
        return int(count) if seeded else None

    def _lock(self, name: str) -> threading.Lock:
        # One lock per tenant: a slow first listing of one tenant's store holds up no other.
        with self._locks_lock:
            return self._locks.setdefault(name, threading.Lock())

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()


def _seeded_key(name: str) -> str:
    """Set once the tenant's set was started from its store."""
    return f"{_PREFIX}{name}:seeded"


def _key(name: str, what: str) -> str:
    """The Redis key of one of a tenant set's companions (``generation``, ``admitted``…)."""
    return f"{_STATE}{name}:{what}"
