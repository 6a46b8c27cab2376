"""The pure follow-up rules: day X of N, due today, test days, the end rule, the red flag, local time."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest

from kiemdich import clock
from kiemdich.followup import schedule
from kiemdich.followup.operations import check_date_for

START = date(2021, 11, 20)


def arrival(status="monitoring", start=START, days=7, after=0, tests=(1,)):
    end = start + timedelta(days=days - 1)
    return SimpleNamespace(status=status, plan_start=start, plan_end=end,
                           self_monitoring_until=end + timedelta(days=after) if after else None,
                           test_days=list(tests))


def test_last_day_includes_the_self_monitoring_after_the_measure():
    assert schedule.last_day(START, date(2021, 11, 26), None) == date(2021, 11, 26)
    assert schedule.last_day(START, date(2021, 11, 26), date(2021, 12, 3)) == date(2021, 12, 3)
    assert schedule.last_day(None, None, None) is None


@pytest.mark.parametrize("today,expected", [
    (date(2021, 11, 19), (1, 7)),  # before the start: shown as day 1
    (START, (1, 7)),
    (date(2021, 11, 22), (3, 7)),
    (date(2021, 11, 26), (7, 7)),
    (date(2021, 11, 30), (7, 7)),  # after the end: stays at N
])
def test_day_x_of_n(today, expected):
    assert schedule.day_of(START, date(2021, 11, 26), today) == expected


def test_day_x_of_n_counts_the_self_monitoring_days():
    p = schedule.progress(arrival(days=7, after=7, tests=(1, 7)), date(2021, 11, 27))
    assert (p.day, p.days, p.days_left) == (8, 14, 6)
    assert p.test_dates == (date(2021, 11, 20), date(2021, 11, 26))


def test_due_today_only_inside_the_window_without_a_check():
    a = arrival()
    assert schedule.is_due(a.status, a.plan_start, a.plan_end, START, checked_today=False)
    assert not schedule.is_due(a.status, a.plan_start, a.plan_end, START, checked_today=True)
    assert not schedule.is_due(a.status, a.plan_start, a.plan_end, date(2021, 11, 27), checked_today=False)
    assert not schedule.is_due("expected", a.plan_start, a.plan_end, START, checked_today=False)
    assert not schedule.is_due("completed", a.plan_start, a.plan_end, START, checked_today=False)


def test_test_days_count_from_the_arrival_day():
    a = arrival(tests=(1, 7, 14), days=14, after=14)
    assert schedule.test_today(a.status, a.plan_start, a.test_days, START)
    assert not schedule.test_today(a.status, a.plan_start, a.test_days, date(2021, 11, 25))
    assert schedule.test_today(a.status, a.plan_start, a.test_days, date(2021, 11, 26))
    assert schedule.test_today(a.status, a.plan_start, a.test_days, date(2021, 12, 3))
    assert not schedule.test_today("expected", a.plan_start, a.test_days, START)


@pytest.mark.parametrize("today,checked,expected", [
    (date(2021, 11, 25), False, None),  # still running
    (date(2021, 11, 26), False, None),  # the last day, its check may still come
    (date(2021, 11, 26), True, "completed"),
    (date(2021, 11, 27), True, "completed"),  # the last day's check arrived late (offline replay)
    (date(2021, 11, 27), False, "ended_unchecked"),  # never extended silently
])
def test_end_rule(today, checked, expected):
    assert schedule.end_outcome("monitoring", date(2021, 11, 26), today, checked) == expected


def test_end_rule_ignores_arrivals_not_under_monitoring():
    assert schedule.end_outcome("expected", date(2021, 11, 26), date(2021, 12, 1), False) is None
    assert schedule.end_outcome("ended_unchecked", date(2021, 11, 26), date(2021, 12, 1), False) is None


@pytest.mark.parametrize("symptoms,temperature,spo2,test,red", [
    ([], None, None, "", False),
    ([], Decimal("37.4"), 96, "", False),
    ([], Decimal("37.5"), None, "", True),
    ([], 38.2, None, "", True),
    ([], None, 95, "", True),
    ([], None, 96, "", False),
    (["ho"], Decimal("36.5"), 99, "", True),
    ([], Decimal("36.5"), 99, "positive", True),
    ([], Decimal("36.5"), 99, "negative", False),
])
def test_red_flag_rule(symptoms, temperature, spo2, test, red):
    assert schedule.is_red(symptoms, temperature, spo2, test) is red


@pytest.mark.parametrize("raw,value", [("37,8", Decimal("37.8")), ("36.55", Decimal("36.6")), ("", None),
                                       (" 40 ", Decimal("40.0"))])
def test_temperature_parsing(raw, value):
    assert schedule.parse_temperature(raw) == value


@pytest.mark.parametrize("raw", ["33.9", "43.1", "abc", "37..5"])
def test_temperature_outside_a_body_range_is_refused(raw):
    with pytest.raises(ValueError):
        schedule.parse_temperature(raw)


def test_overdue_after_24_hours():
    passed = datetime(2021, 11, 20, 1, 0, tzinfo=timezone.utc)
    assert not schedule.overdue("expected", passed, passed + timedelta(hours=24))
    assert schedule.overdue("expected", passed, passed + timedelta(hours=24, minutes=1))
    assert not schedule.overdue("monitoring", passed, passed + timedelta(days=3))


# Local time: 23:30 and 00:30 in Asia/Ho_Chi_Minh (UTC+7) are different days, whatever UTC says.
AT_2330 = datetime(2021, 11, 22, 16, 30, tzinfo=timezone.utc)  # 23:30 on 22/11 in Đồng Nai
AT_0030 = datetime(2021, 11, 22, 17, 30, tzinfo=timezone.utc)  # 00:30 on 23/11 in Đồng Nai


def test_clock_at_2330_and_0030_local():
    assert clock.today(AT_2330) == date(2021, 11, 22)
    assert clock.today(AT_0030) == date(2021, 11, 23)
    a = arrival()
    before, after = schedule.progress(a, clock.today(AT_2330)), schedule.progress(a, clock.today(AT_0030))
    assert (before.day, before.days_left, before.due) == (3, 4, True)
    assert (after.day, after.days_left, after.due) == (4, 3, True)
    # checked at 23:30: nothing due any more that day, due again half an hour later
    assert not schedule.progress(a, clock.today(AT_2330), checked_today=True).due


def test_ending_today_switches_at_local_midnight():
    a = arrival(start=date(2021, 11, 16))  # last day 22/11
    assert schedule.progress(a, clock.today(AT_2330)).ending_today
    late = schedule.progress(a, clock.today(AT_0030))
    assert not late.ending_today and late.ended_unchecked


def test_an_offline_check_counts_for_the_local_day_it_was_made():
    made = AT_2330 + timedelta(minutes=20)  # 23:50 local, replayed at 00:30
    assert check_date_for(made, now=AT_0030, max_age=timedelta(days=2)) == date(2021, 11, 22)
    assert check_date_for(None, now=AT_0030, max_age=timedelta(days=2)) == date(2021, 11, 23)
    # a device clock in the future or too old is not believed
    assert check_date_for(AT_0030 + timedelta(hours=2), now=AT_0030, max_age=timedelta(days=2)) == date(2021, 11, 23)
    assert check_date_for(AT_0030 - timedelta(days=3), now=AT_0030, max_age=timedelta(days=2)) == date(2021, 11, 23)
