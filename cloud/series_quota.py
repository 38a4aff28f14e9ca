"""Each tenant's series cardinality quota (its plan's ``max_series``), enforced at ingest.

A series is a SeriesKey (site, line, asset, tag). The set of a tenant's known series lives
in Redis when the rate limits do, so every API replica counts the same series, and in this
process otherwise. A request whose new series would take the tenant past its quota is
refused whole, its new series are not counted, and series already known keep flowing.

The set starts from the series the historian already holds, read the first time a tenant
sends a series this process has not seen (not at start: a replica must start, and serve
other tenants, while the series store is away). Series are never removed from the set,
so a key once admitted stays admitted, and each replica can keep what it saw admitted in
memory and ask Redis only about series new to it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from historian import SeriesKey

_PREFIX = "mingzhou:series:"
# SADD in slices: Lua's unpack() and Redis's argument lists have practical limits.
_CHUNK = 1000

# KEYS[1]: the tenant's set; ARGV[1]: the quota; ARGV[2..]: candidate members.
# Returns {series in use, 1 if admitted else 0, the members that were new...}. Atomic in
# Redis, so two replicas admitting at once cannot both take the last places.
_ADMIT = """
local new = {}
for i = 2, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 0 then new[#new + 1] = ARGV[i] end
end
local count = redis.call('SCARD', KEYS[1])
local admitted = 1
if #new > 0 then
  if count + #new > tonumber(ARGV[1]) then
    admitted = 0
  else
    for i = 1, #new, 1000 do
      redis.call('SADD', KEYS[1], unpack(new, i, math.min(i + 999, #new)))
    end
    count = count + #new
  end
end
local result = {count, admitted}
for i = 1, #new do result[#result + 1] = new[i] end
return result
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
    """The known series of every tenant; ``memory://`` or a Redis URL (``redis://…``)."""

    def __init__(self, uri: str) -> None:
        if uri.startswith(("redis://", "rediss://")):
            self._redis: redis.Redis | None = redis.Redis.from_url(uri)
            self._admit_script = self._redis.register_script(_ADMIT)
        elif uri.startswith("memory://"):
            self._redis = None
        else:
            raise ValueError(
                f"series quota store {uri!r}: expected memory:// or redis://host:port/db"
            )
        # Series known to be admitted, per tenant set name: for memory:// the set itself,
        # for Redis the part of it this process has seen (so known series cost no trip).
        self._known: dict[str, set[SeriesKey]] = {}
        self._seeded: set[str] = set()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def all_known(self, tenant: TenantSeries, keys: Set[SeriesKey]) -> bool:
        """True when every key is admitted already: the request needs no quota check."""
        if not keys:
            return True
        known = self._known.get(tenant.name)
        return known is not None and keys <= known

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
            unseen = keys - known
            if not unseen:
                return
            if self._redis is None:
                if len(known) + len(unseen) > max_series:
                    raise SeriesQuotaExceeded(max_series, len(known), sorted(unseen))
                known |= unseen
                return
            by_member = {_member(key): key for key in unseen}
            in_use, admitted, *new = self._admit_script(
                keys=[_PREFIX + name], args=[max_series, *by_member]
            )
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
        marker = f"{_PREFIX}{name}:seeded"
        if self._redis.exists(marker):
            return
        # Two replicas may both seed a new tenant: SADD makes that harmless, and neither
        # admits anything before its own seeding is done.
        members = [_member(key) for key in existing()]
        for start in range(0, len(members), _CHUNK):
            self._redis.sadd(_PREFIX + name, *members[start : start + _CHUNK])
        self._redis.set(marker, "1")

    def _lock(self, name: str) -> threading.Lock:
        # One lock per tenant: a slow first listing of one tenant's store holds up no other.
        with self._locks_lock:
            return self._locks.setdefault(name, threading.Lock())

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
