"""Jinja2 for the pages: autoescaped, strict about missing values, with the message
catalogue installed (one environment per template set and language), and the filters
every page needs: instants in the call's zone (the viewer's own zone is added in the
browser, beside it), amounts of money, dates."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from shared.pages.i18n import translations

SHARED_TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Moment:
    """An instant as a page shows it: in the call's zone, with its UTC form for the
    ``<time datetime>`` attribute (from which the browser adds the viewer's time)."""

    utc: datetime
    local: str
    zone: str

    @property
    def iso(self) -> str:
        return self.utc.isoformat().replace("+00:00", "Z")


def as_instant(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: every instant is aware")
    return value.astimezone(timezone.utc)


def moment(value, zone: str, locale: str = "en") -> Moment | None:
    instant = as_instant(value)
    if instant is None:
        return None
    text = format_datetime(instant, "d MMM y, HH:mm", tzinfo=ZoneInfo(zone), locale=locale)
    return Moment(instant, text, zone)


def money(value, currency: str = "EUR", locale: str = "en") -> str:
    if value is None or value == "":
        return ""
    return f"{currency} {format_decimal(Decimal(str(value)), format='#,##0.00', locale=locale)}"


def day(value, locale: str = "en") -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return format_date(value, "d MMM y", locale=locale)


def number(value, locale: str = "en") -> str:
    """A score or points: 27.5, 30 (no trailing zeros)."""
    if value is None or value == "":
        return ""
    amount = Decimal(str(value))
    return format_decimal(amount.normalize() if amount == amount.to_integral() else amount,
                          locale=locale)


@lru_cache(maxsize=32)
def environment(template_dirs: tuple[str, ...], locale: str) -> Environment:
    """Templates of ``template_dirs`` (first wins), then the shared ones."""
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(d) for d in (*template_dirs,
                                                           str(SHARED_TEMPLATES))]),
        autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        extensions=["jinja2.ext.i18n", "jinja2.ext.do"])
    env.install_gettext_translations(translations(locale), newstyle=True)
    env.globals["locale"] = locale
    env.filters["moment"] = lambda value, zone: moment(value, zone, locale)
    env.filters["money"] = lambda value, currency="EUR": money(value, currency, locale)
    env.filters["day"] = lambda value: day(value, locale)
    env.filters["number"] = lambda value: number(value, locale)
    env.filters["label"] = lambda value: str(value).replace("_", " ")
    return env
