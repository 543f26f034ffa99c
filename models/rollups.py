"""Rollups: how many captures each quarter hour holds, per device and trigger, kept true by every write.

Counting a million captures costs RediSearch 25 ms and a year's histogram 900 ms (issue #11);
reading these counts costs about 2 ms whatever the collection's size. They are written by the
same MULTI/EXEC that writes the capture (Capture.queue), so a capture and its count are never
apart. Keys, under `<prefix>:rollup:`:

- `all`                 time series: captures per quarter hour (the sample's timestamp, below);
- `s:<trigger>:<device>` time series: the same for one device and trigger (device last: any text);
- `h:all`, `h:s:...`, `d:all`, `d:s:...`: the same per hour and per day (LEVELS);
- `series`              set: the names of the `s:` series;
- `count`               string: how many captures are counted, to check against the index's count;
- `l:<band>:<trigger>:<device>` time series (and `h:l:...`, `d:l:...`): the same per lux band
                        (BANDED; `-` for a capture without lux), so a lux range the bands tile
                        is counted here too; `lux-series` and `lux-count` are their `series` and
                        `count` (a count apart: captures counted before the bands existed are not
                        in them, and readers then ask RediSearch for lux ranges);
- `lb:<band>`           time series: one lux band's captures, all devices and triggers (as `all`
                        is for every capture); there is one wherever an `l:<band>:...` series is;
- `e:...`, `eb:...`, `exposure_us-series`, `exposure_us-count`: the same for exposure bands;
- `bytes`               hash: `image` and `thumbnail`, the sizes stored at capture time, summed;
- `counted`             hash: capture id -> what it was counted as (time, sizes, trigger, device);
- `expiring`            sorted set: ids of counted captures with a TTL, scored by when their key
                        expires (ms).

A key expiring says nothing to anyone, so readers settle() first: each capture whose time is up
is taken out of the counts, exactly once (a script; Redis expires keys by the script's clock).
A write under an id already counted takes that count out first, so a retried save counts once.

Time series timestamps are unsigned milliseconds: a quarter's sample is at its start plus SHIFT,
so captures from year 1 on have one. Hashes written around the model (the capture user may HSET
anything under the prefix) are not counted: index.rollups checks `count` against the index's own
and answers from RediSearch while they differ; `pigallery index rollups` counts everything again.
"""
from __future__ import annotations

import re
from typing import Optional

import redis

from . import db, om

QUARTER = 900  # seconds: the finest bucket; zones' offsets are whole quarter hours since 1979
HOUR, DAY = 3600, 86400
# Each series is kept at three sizes of bucket, each under its own name prefix: a year is 35,040
# quarter hours, and summing them for 15 series took 11 ms at 1M captures (365 days: under 1 ms).
LEVELS = ((QUARTER, ""), (HOUR, "h:"), (DAY, "d:"))


# Band edges: band 0 is below the first edge, band k is [edges[k-1], edges[k]), the last band is
# from the last edge up, infinity included. 1-2-5 scales, so a range someone picks is mostly whole
# bands: lux from a night scene (under 1) through indoor light (100-1000) to direct sunlight
# (100,000); exposure from 10 us to 10 s. 15 pairs of device and trigger stay under 350 series a
# level a field.
LUX_EDGES = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000)
EXPOSURE_EDGES = (0, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000,
                  500000, 1000000, 2000000, 5000000, 10000000)
# The fields counted per band: (field, series name prefix, edges). A capture without the field is
# in band NO_VALUE, which no range holds.
BANDED = (("lux", "l", LUX_EDGES), ("exposure_us", "e", EXPOSURE_EDGES))
NO_VALUE = "-"


def _lua_banded() -> str:
    return ", ".join(f"{{field = '{name}', prefix = '{prefix}', edges = {{{', '.join(map(str, edges))}}}}}"
                     for name, prefix, edges in BANDED)


def _lua_levels() -> str:
    return ", ".join(f"{{{size}, '{pre}'}}" for size, pre in LEVELS)


SHIFT = 62135596800  # seconds from 0001-01-01 (the model's earliest time) to 1970-01-01
END = 253402300800  # 10000-01-01: the model's times end before it

# The Lua below counts one capture in or out. It never reads a capture's hash (the capture user,
# whose ACL a script runs under, may write captures but not read them): what each capture was
# counted as is kept in `counted`, which is also what takes it out again, exactly as it went in.
# A hand-written hash's fields may be anything: those are not counted, never an error that would
# leave the rest of the capture's MULTI applied without its count.
_LUA_COMMON = f"""
local base = ARGV[1]
local expiring, counted = base .. 'expiring', base .. 'counted'
local function int(n) return string.format('%d', n) end
-- A Redis with search but without RedisTimeSeries stores captures uncounted (readers then ask
-- RediSearch, index.rollups), rather than failing each write after its HSET.
local counting = pcall(redis.acl_check_cmd, 'TS.ADD', base .. 'all', '0', '1')
-- The band of a banded field's value as stored ('' or false: none), per BANDED. false for a value
-- that is no number (or NaN): RediSearch does not index such a hash at all (measured for 'nan',
-- '1e400', ' 5'), so that field's count differs from the index's and readers ask RediSearch.
local banded = {{{_lua_banded()}}}
local function band(value, edges)
  if not value or value == '' then return '{NO_VALUE}' end
  local v = tonumber(value)
  if not v or v ~= v then return false end
  local k = 0
  for i, e in ipairs(edges) do if v >= e then k = i end end
  return tostring(k)
end
-- `bands`: each banded field's band (false: counted in none), in BANDED's order.
local function add(t, device, trigger, bands, image, thumbnail, n)
  t = tonumber(t)
  if not counting or not t or t ~= t or t < -{SHIFT} or t >= {END} or not device or not trigger then return false end
  local series = 's:' .. trigger .. ':' .. device
  for _, level in ipairs({{{_lua_levels()}}}) do
    local size, pre = level[1], level[2]
    local stamp = int((math.floor(t / size) * size + {SHIFT}) * 1000)
    redis.call('TS.ADD', base .. pre .. 'all', stamp, n, 'ENCODING', 'UNCOMPRESSED', 'ON_DUPLICATE', 'SUM')
    redis.call('TS.ADD', base .. pre .. series, stamp, n, 'ENCODING', 'UNCOMPRESSED', 'ON_DUPLICATE', 'SUM')
    for i, f in ipairs(banded) do
      if bands[i] then
        local joint = f.prefix .. ':' .. bands[i] .. ':' .. trigger .. ':' .. device
        redis.call('TS.ADD', base .. pre .. joint, stamp, n, 'ENCODING', 'UNCOMPRESSED', 'ON_DUPLICATE', 'SUM')
        redis.call('TS.ADD', base .. pre .. f.prefix .. 'b:' .. bands[i], stamp, n, 'ENCODING', 'UNCOMPRESSED',
                   'ON_DUPLICATE', 'SUM')
      end
    end
  end
  redis.call('SADD', base .. 'series', base .. series)
  redis.call('INCRBY', base .. 'count', n)
  for i, f in ipairs(banded) do
    if bands[i] then
      local joint = f.prefix .. ':' .. bands[i] .. ':' .. trigger .. ':' .. device
      redis.call('SADD', base .. f.field .. '-series', base .. joint)
      redis.call('INCRBY', base .. f.field .. '-count', n)
    end
  end
  redis.call('HINCRBY', base .. 'bytes', 'image', int(n * (tonumber(image) or 0)))
  redis.call('HINCRBY', base .. 'bytes', 'thumbnail', int(n * (tonumber(thumbnail) or 0)))
  return true
end
-- Count capture `pk` in, and remember as what (its fields joined by the unit separator, which no
-- device name holds: models.capture refuses control characters). The bands lead, after a 'b' and
-- joined by commas ('?': none), which an entry written before the bands (taken_at first, a
-- number) never starts with. `values`: the banded fields as stored, in BANDED's order.
local function count(pk, t, device, trigger, values, image, thumbnail)
  local bands, marks = {{}}, {{}}
  for i, f in ipairs(banded) do
    bands[i] = band(values[i], f.edges)
    marks[i] = bands[i] or '?'
  end
  if add(t, device, trigger, bands, image, thumbnail, 1) then
    local mark = 'b' .. table.concat(marks, ',')
    redis.call('HSET', counted, pk, table.concat({{mark, t, image, thumbnail, trigger, device}}, '\\31'))
    return 1
  end
  return 0
end
-- Take capture `pk` out of the counts as it was counted, if it is.
local function uncount(pk)
  local info = redis.call('HGET', counted, pk)
  redis.call('ZREM', expiring, pk)
  if info then
    redis.call('HDEL', counted, pk)
    local bands = {{}}
    for i in ipairs(banded) do bands[i] = false end
    local marks, rest = string.match(info, '^b([^\\31]*)\\31(.*)$')
    if marks then
      info = rest
      local i = 0
      for mark in string.gmatch(marks, '[^,]+') do
        i = i + 1
        if mark ~= '?' then bands[i] = mark end
      end
    end
    local t, image, thumbnail, trigger, device = string.match(info, '^([^\\31]*)\\31([^\\31]*)\\31([^\\31]*)\\31([^\\31]*)\\31(.*)$')
    add(t, device, trigger, bands, image, thumbnail, -1)
  end
end
"""

# KEYS[1]: the capture's key. ARGV: base, id, taken_at, device, trigger, image_size, thumbnail_size,
# when the key expires (ms; '' for never), then the banded fields in BANDED's order ('' for none).
# Runs before the capture's own writes, in its MULTI: whatever was counted under the id before (a
# retried save, a capture expired and not yet settled) is taken out first, so a capture counts
# once however often its write is retried.
_COUNT_IN = _LUA_COMMON + """
local pk = ARGV[2]
uncount(pk)
if count(pk, ARGV[3], ARGV[4], ARGV[5], {unpack(ARGV, 9)}, ARGV[6], ARGV[7]) == 1 and ARGV[8] ~= '' then
  redis.call('ZADD', expiring, ARGV[8], pk)
end
"""

# KEYS[1]: the capture's key. ARGV: base, id. Deletes the capture; 1 if it existed.
_COUNT_OUT = _LUA_COMMON + """
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
uncount(ARGV[2])
return 1
"""

# ARGV: base, the captures' key prefix, at most how many to settle. Returns how many were due.
_SETTLE = _LUA_COMMON + """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', expiring, '-inf', '(' .. int(ms), 'LIMIT', 0, tonumber(ARGV[3]))
for _, pk in ipairs(due) do
  local at = redis.call('PEXPIRETIME', ARGV[2] .. pk)
  if at > 0 then
    redis.call('ZADD', expiring, at, pk)  -- still there: its TTL was moved
  elseif at == -1 then
    redis.call('ZREM', expiring, pk)  -- still there, made persistent: it stays counted
  else
    uncount(pk)
  end
end
return #due
"""
SETTLE_BATCH = 1000

# KEYS: capture keys. ARGV: base, the captures' key prefix. Counts each stored capture as its
# write would have (a recount, from nothing: clear() first); returns how many were counted.
_RECOUNT = _LUA_COMMON + """
local n = 0
local fields = {'taken_at', 'device', 'trigger', 'image_size', 'thumbnail_size'}
for _, f in ipairs(banded) do table.insert(fields, f.field) end
for _, key in ipairs(KEYS) do
  local f = redis.call('HMGET', key, unpack(fields))
  local pk = string.sub(key, #ARGV[2] + 1)
  if f[1] and count(pk, f[1], f[2], f[3], {unpack(f, 6)}, f[4], f[5]) == 1 then
    n = n + 1
    local at = redis.call('PEXPIRETIME', key)
    if at > 0 then redis.call('ZADD', expiring, at, pk) end
  end
end
return n
"""

# ARGV: base. Inside MULTI Redis checks only EVALSHA itself against the ACL, not what the script
# will run; this asks (redis.acl_check_cmd) for each command the count script runs, so a user
# missing one is told before a capture is stored uncounted. '' when all are allowed.
_CHECK = _LUA_COMMON + """
local series = base .. 's:manual:access-check'
local checks = {
  {'TS.ADD', base .. 'all', '0', '1'}, {'TS.ADD', series, '0', '1'}, {'SADD', base .. 'series', series},
  {'INCRBY', base .. 'count', '0'}, {'HINCRBY', base .. 'bytes', 'image', '0'},
  {'HSET', counted, 'id', 'v'}, {'HGET', counted, 'id'}, {'HDEL', counted, 'id'},
  {'ZADD', expiring, '0', 'id'}, {'ZREM', expiring, 'id'}}
for _, f in ipairs(banded) do
  local joint = base .. f.prefix .. ':-:manual:access-check'
  table.insert(checks, {'TS.ADD', joint, '0', '1'})
  table.insert(checks, {'TS.ADD', base .. f.prefix .. 'b:-', '0', '1'})
  table.insert(checks, {'SADD', base .. f.field .. '-series', joint})
  table.insert(checks, {'INCRBY', base .. f.field .. '-count', '0'})
end
for _, c in ipairs(checks) do
  local known, allowed = pcall(redis.acl_check_cmd, unpack(c))
  if known and not allowed then return c[1] .. ' on ' .. c[2] end  -- unknown: no TimeSeries, no counting
end
return ''
"""

_scripts: dict[str, object] = {}


def _script(text: str):
    """The redis-py Script for `text` on the raw client (EVALSHA, loaded by pipelines before MULTI)."""
    script = _scripts.get(text)
    if script is None or script.registered_client is not db.raw():
        script = _scripts[text] = db.raw().register_script(text)
    return script


def base() -> str:
    """`<prefix>:rollup:` for the prefix the models are bound under."""
    from .capture import Capture  # capture imports this module

    return f"{om.key_prefix(Capture)}:rollup:"


def series_name(device: str, trigger: str) -> str:
    return f"{base()}s:{trigger}:{device}"


def at_level(name: str, prefix: str) -> str:
    """The name of series `name` (a quarter-hour series, `all` or from `series`) at another level (LEVELS)."""
    return base() + prefix + name[len(base()):]


def parse_series(name: str) -> tuple[str, str]:
    """(device, trigger) of a series name from series_name()."""
    trigger, _, device = name[len(base()) + 2:].partition(":")
    return device, trigger


def _prefix(field: str) -> str:
    return next(prefix for name, prefix, _ in BANDED if name == field)


def banded_name(field: str, device: str, trigger: str, band: str) -> str:
    """The series of one device and trigger in one band of a BANDED field (an index of its edges, or NO_VALUE)."""
    return f"{base()}{_prefix(field)}:{band}:{trigger}:{device}"


def band_name(field: str, band: str) -> str:
    """The series of one band of a BANDED field, all devices and triggers."""
    return f"{base()}{_prefix(field)}b:{band}"


def parse_banded(field: str, name: str) -> tuple[str, str, str]:
    """(device, trigger, band) of a name from `<field>-series`."""
    band, trigger, device = name[len(base()) + len(_prefix(field)) + 1:].split(":", 2)
    return device, trigger, band


def stamp(t: float, size: int = QUARTER) -> int:
    """The sample timestamp (ms) of the bucket of `size` seconds (LEVELS) holding instant `t`."""
    return int((t // size * size + SHIFT) * 1000)


def instant(sample: int) -> float:
    """The instant a sample's quarter hour starts."""
    return sample / 1000 - SHIFT


def count_in(pipe, key: str, pk: str, taken_at: float, device: str, trigger: str, image_size: int,
             thumbnail_size: int, expires_at: Optional[int], banded: tuple) -> None:
    """Queue the counting of a capture about to be written under `key` (expiry: epoch seconds, as EXPIREAT).

    `banded`: the BANDED fields' values (None: none), written as the model writes them (str()), so
    each band is that of the value RediSearch indexes.
    """
    expires_ms = "" if expires_at is None else str(expires_at * 1000)
    values = ["" if value is None else str(value) for value in banded]
    _script(_COUNT_IN)(keys=[key], args=[base(), pk, repr(float(taken_at)), device, trigger, image_size,
                                         thumbnail_size, expires_ms, *values], client=pipe)


def check_access() -> None:
    """Raise NoPermissionError naming the first command of the count script this Redis user may not run."""
    refused = _script(_CHECK)(args=[base()])
    if refused:
        refused = refused.decode() if isinstance(refused, bytes) else refused
        raise redis.exceptions.NoPermissionError(
            f"this Redis user may not run {refused}, which counting a capture needs (see deploy/users.acl)")


def delete(key: str, pk: str) -> bool:
    """Delete the capture under `key` and take it out of the counts; whether it existed."""
    return bool(_script(_COUNT_OUT)(keys=[key], args=[base(), pk]))


def settle(capture_prefix: str) -> int:
    """Take every capture whose TTL has passed out of the counts; return how many."""
    settled = 0
    while True:
        done = int(_script(_SETTLE)(args=[base(), capture_prefix, SETTLE_BATCH]))
        settled += done
        if done < SETTLE_BATCH:
            return settled


def _glob(prefix: str) -> str:
    """A SCAN pattern for keys starting with `prefix` exactly (its glob characters escaped)."""
    return re.sub(r"([*?\\[\]\\\\])", r"\\\1", prefix) + "*"


def names() -> list[str]:
    """Every rollup key that exists now."""
    return [name.decode() for name in db.raw().scan_iter(match=_glob(base()), count=1000)]


def clear() -> None:
    """Delete every rollup key: nothing is counted afterwards (recount() counts again)."""
    conn = db.raw()
    keys = names()
    for start in range(0, len(keys), 1000):
        conn.delete(*keys[start:start + 1000])


def recount(keys: list[str], capture_prefix: str) -> int:
    """Count the captures stored under `keys` (full key names) as their writes would have; how many were."""
    return int(_script(_RECOUNT)(keys=keys, args=[base(), capture_prefix])) if keys else 0


def recount_all(progress=None, batch: int = 500) -> int:
    """Count every stored capture again from nothing; return how many were counted.

    For rollups that are missing (captures stored before them) or out of step (hashes written
    around the model, a count lost to a restart between SCRIPT LOAD and EXEC). Captures written
    while it runs may be counted twice or not at all: index.rollups then sees the count differ
    from the index's and answers from RediSearch until it is run again. `progress(n)` is told
    of each batch of capture keys looked at.
    """
    from .capture import Capture  # capture imports this module

    prefix = Capture.make_primary_key("")
    clear()
    counted, keys = 0, []
    for name in db.raw().scan_iter(match=_glob(prefix), count=batch, _type="HASH"):
        keys.append(name.decode())
        if len(keys) == batch:
            counted += recount(keys, prefix)
            if progress:
                progress(len(keys))
            keys = []
    counted += recount(keys, prefix)
    if progress and keys:
        progress(len(keys))
    return counted


def counted(field: Optional[str] = None) -> Optional[int]:
    """How many captures the rollups count (with a BANDED `field`: in its bands); None when they are
    missing (never counted, or counted before the bands: recount_all())."""
    value = db.raw().get(base() + ("count" if field is None else f"{field}-count"))
    return None if value is None else int(value)
