"""Day-indexed calendar for the demo: local working times to UTC epoch seconds, vectorised.

Day 0 is 365 days before the as-of date; day 365 is the as-of date itself, whose
local midnight is the "now" of the demo (every generated past event is before it).
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

HISTORY_DAYS = 365
DAY = 86_400
HOUR = 3_600
MINUTE = 60


class DemoCalendar:
    """Maps (day index, local seconds since midnight) to UTC epoch seconds with NumPy.

    The UTC offset of each day is taken at local noon, so working hours are right
    on daylight-saving days too (the switch happens at night).
    """

    first_day = -6 * HISTORY_DAYS  # customers created up to ~5 years before the history
    last_day = 3 * HISTORY_DAYS  # opportunity timelines drawn past as-of are cut later

    def __init__(self, *, as_of: date, time_zone: str):
        zone = ZoneInfo(time_zone)
        self.as_of = as_of
        self.origin = as_of - timedelta(days=HISTORY_DAYS)
        days = range(self.first_day, self.last_day + 1)
        local_dates = [self.origin + timedelta(days=d) for d in days]
        midnights = []
        for day in local_dates:
            noon = datetime.combine(day, time(12), tzinfo=zone)
            midnights.append(int(noon.timestamp()) - 12 * HOUR)
        self._midnight = np.array(midnights, dtype=np.int64)
        self._weekday = np.array([day.weekday() for day in local_dates], dtype=np.int8)
        self._iso = np.array([day.isoformat() for day in local_dates])
        self.now = int(self._midnight[self._index(np.array([HISTORY_DAYS]))][0])

    def _index(self, day: np.ndarray) -> np.ndarray:
        return np.clip(day, self.first_day, self.last_day) - self.first_day

    def epoch(self, day: np.ndarray, seconds: np.ndarray | int = 0) -> np.ndarray:
        """UTC epoch seconds of local time `seconds` after midnight on day index `day`."""
        return self._midnight[self._index(day)] + seconds

    def weekday(self, day: np.ndarray) -> np.ndarray:
        return self._weekday[self._index(day)]

    def iso_date(self, day: np.ndarray) -> np.ndarray:
        """ISO dates (YYYY-MM-DD strings) of day indexes."""
        return self._iso[self._index(day)]

    def day_of(self, epoch: np.ndarray) -> np.ndarray:
        """Local day index of UTC epoch seconds."""
        return np.searchsorted(self._midnight, epoch, side="right") - 1 + self.first_day


def working_day(*, calendar: DemoCalendar, day: np.ndarray, last: int) -> np.ndarray:
    """Move weekend days to the adjacent Friday/Monday, staying within [0, last]."""
    weekday = calendar.weekday(day)
    shifted = np.where(weekday == 5, day - 1, np.where(weekday == 6, day + 1, day))
    shifted = np.where(shifted < 0, shifted + 3, shifted)
    return np.where(shifted > last, shifted - 3, shifted)
