"""What the analytics reads share: the venue's time zone and a period of local days."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from hub.models import Connection


def zone_of(connection: Connection | None) -> ZoneInfo:
    """The venue's time zone (its connection's), else the project's; a bad name is ignored."""
    for name in ((connection.time_zone,) if connection is not None else ()) + (settings.TIME_ZONE,):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def day_bounds(first: dt.date, last: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """Local days ``first``..``last`` (both included) as an aware half-open interval: the database
    compares in UTC."""
    return (dt.datetime.combine(first, dt.time.min, tzinfo=zone),
            dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=zone))
