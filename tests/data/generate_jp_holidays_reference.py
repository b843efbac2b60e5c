#!/usr/bin/env python3
"""Generate jp_holidays_reference.csv: Japan's national holidays 1949-2099.

The file is the independent reference that tests/holiday_reference.rs compares
src/domain/holidays.rs against. It comes from the PyPI package ``holidays``
(python-holidays by the Vacanza team), version 0.109, country "JP",
language "ja" (the law's Japanese names), public holidays only (no bank
holidays). That package encodes the equinox days as a hand-written per-year
rule that reproduces the announced dates, and applies 振替休日 from 1973-04-12
and 国民の休日 from 1986.

As a second opinion the script also asks the PyPI package ``jpholiday``
(version 1.0.3, which computes the equinoxes astronomically instead of from a
table) and prints to stderr every date where the two packages disagree; it
writes nothing from jpholiday. With those versions the two agree on every
date but jpholiday's own mistakes against the law (it makes 5/4 a 国民の休日
in 1949-1985, before the 1985-12-27 amendment, and 1973-02-12 a 振替休日,
before the 1973-04-12 amendment); the names differ only for the one-off
holidays (see the comments in tests/holiday_reference.rs).

Usage (from the repository root):

    python3 -m pip install holidays==0.109 jpholiday==1.0.3
    python3 tests/data/generate_jp_holidays_reference.py > tests/data/jp_holidays_reference.csv
"""

import datetime
import sys

import holidays

FIRST_YEAR = 1949
LAST_YEAR = 2099


def reference_rows():
    """(date, name) for every national holiday FIRST_YEAR..=LAST_YEAR, in date order."""
    jp = holidays.country_holidays(
        "JP",
        years=range(FIRST_YEAR, LAST_YEAR + 1),
        language="ja",
        categories=(holidays.PUBLIC,),
    )
    return sorted(jp.items())


def compare_with_jpholiday(rows):
    """Print to stderr the dates where jpholiday disagrees with `rows`."""
    try:
        import jpholiday
    except ImportError:
        print("jpholiday is not installed: no second opinion", file=sys.stderr)
        return
    from importlib.metadata import version

    ours = {d: n for d, n in rows}
    theirs = {}
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        for day, name in jpholiday.year_holidays(year):
            # jpholiday names a substitute after its holiday ("元日 振替休日").
            theirs[day] = "振替休日" if name.endswith(" 振替休日") else name
    print(f"jpholiday {version('jpholiday')} vs holidays {version('holidays')}:",
          file=sys.stderr)
    for day in sorted(set(ours) | set(theirs)):
        if (day in ours) != (day in theirs):
            print(f"  {day} {day.strftime('%a')}: holidays={ours.get(day)!r} "
                  f"jpholiday={theirs.get(day)!r}", file=sys.stderr)
        elif ours[day] != theirs[day]:
            print(f"  {day} name only: holidays={ours[day]!r} "
                  f"jpholiday={theirs[day]!r}", file=sys.stderr)


def main():
    from importlib.metadata import version

    if version("holidays") != "0.109":
        print(f"note: holidays {version('holidays')} installed, the file was made "
              "with 0.109", file=sys.stderr)
    rows = reference_rows()
    out = sys.stdout
    out.write("date,name\n")
    for day, name in rows:
        assert isinstance(day, datetime.date) and "," not in name
        out.write(f"{day.isoformat()},{name}\n")
    compare_with_jpholiday(rows)


if __name__ == "__main__":
    main()
