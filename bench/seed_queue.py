"""Seed a PostgreSQL database with applications for the work queue benchmark.

Used by ``bench/queue.py``; it can also fill a database by hand (for trying the queue
page with a big history)::

    .venv/bin/python bench/seed_queue.py --database-url postgresql://postgres@127.0.0.1/portal \\
        --applications 1000000

The database must already have the portal's schema (``portal db upgrade``) and none of
these departments or accounts. What it writes, deterministically (a fixed random seed):

* three departments (TD, IMMD, FEHD: half, 30 % and 20 % of the applications), three
  services each (60 %, 30 %, 10 % of their department's), 30 officers and 4 supervisors
  in each, and 5,000 citizens;
* applications submitted over four years, in the order of their ids (as rows lie in a
  table that grew over the years), each with a due date 14 to 35 days after it was sent:
  about 98 % decided (approved, rejected, withdrawn or lapsed; most assigned to an
  officer) and a backlog of about 2 % open: 90 % of those sent in the last ``open_share``
  of the four years (29 days) and 1.5 % of the six months before. Of the open ones, 80 %
  received (three quarters assigned), 12 % waiting for more information (assigned), 8 %
  awaiting payment (no due date, unassigned). Due dates are mixed: some open cases are
  overdue, most are due within the coming weeks.

Applications go in with ``COPY`` (text format), a chunk at a time: a million take about
a minute on two cores, most of it PostgreSQL updating the table's indexes.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal.applications.util import REFERENCE_ALPHABET, _check_character  # noqa: E402

#: code -> (English name, Chinese name, its services, share of all applications)
DEPARTMENTS: dict[str, tuple[str, str, tuple[str, ...], float]] = {
    "TD": ("Transport Department", "運輸署",
           ("licence_renewal", "vehicle_licence", "driving_test"), 0.5),
    "IMMD": ("Immigration Department", "入境事務處",
             ("birth_record", "travel_document", "visa_extension"), 0.3),
    "FEHD": ("Food and Environmental Hygiene Department", "食物環境衞生署",
             ("food_licence", "hawker_permit", "burial_niche"), 0.2),
}
SERVICE_SHARES = (0.6, 0.3, 0.1)
OFFICERS_PER_DEPARTMENT = 30
SUPERVISORS_PER_DEPARTMENT = 4
CITIZENS = 5000
OPEN_SHARE = 0.02
#: Applications are spread over four years of submissions.
HISTORY_DAYS = 4 * 365
COLUMNS = ("reference", "user_id", "service", "department", "state", "answers", "fee_amount",
           "fee_currency", "locale", "submitted_at", "decision_due", "updated_at",
           "applicant_name", "assigned_to_id", "waiting_since", "decided_at")
_SURNAMES = (("CHAN", "陳"), ("WONG", "黃"), ("LEE", "李"), ("CHEUNG", "張"), ("LAU", "劉"),
             ("HO", "何"), ("NG", "吳"), ("LEUNG", "梁"), ("TSANG", "曾"), ("YIP", "葉"),
             ("LAM", "林"), ("TANG", "鄧"), ("FUNG", "馮"), ("KWOK", "郭"), ("O'BRIEN", ""))
_GIVEN = (("Tai Man", "大文"), ("Siu Ming", "小明"), ("Ka Yan", "嘉欣"), ("Wing Sze", "詠詩"),
          ("Chi Keung", "志強"), ("Mei Ling", "美玲"), ("Ho Yin", "浩然"), ("Hoi Ching", "凱晴"),
          ("Kwok Wai", "國偉"), ("Suk Fan", "淑芬"), ("Chun Kit", "俊傑"), ("Yuen Ting", "婉婷"))


@dataclass
class People:
    """Ids of the seeded people: officers by department, citizens."""

    officers: dict[str, list[int]]
    supervisors: dict[str, list[int]]
    citizens: list[int]


def seed_people(session: Any) -> People:
    """Departments, their staff and the citizens (through the ORM: a few thousand rows)."""
    from portal.identity.models import Department, Role, User

    officers: dict[str, list[int]] = {}
    supervisors: dict[str, list[int]] = {}
    for code, (name_en, name_zh, _services, _share) in DEPARTMENTS.items():
        department = Department(code=code, name_en=name_en, name_zh=name_zh)
        session.add(department)
        session.flush()
        staff = [User(email=f"officer{n}.{code.lower()}@example.gov.hk",
                      name_en=f"Officer {n} {code}", name_zh=f"主任{n}", role=Role.OFFICER,
                      department_id=department.id) for n in range(OFFICERS_PER_DEPARTMENT)]
        heads = [User(email=f"supervisor{n}.{code.lower()}@example.gov.hk",
                      name_en=f"Supervisor {n} {code}", name_zh=f"督導{n}",
                      role=Role.SUPERVISOR, department_id=department.id)
                 for n in range(SUPERVISORS_PER_DEPARTMENT)]
        session.add_all(staff + heads)
        session.flush()
        officers[code] = [user.id for user in staff]
        supervisors[code] = [user.id for user in heads]
    rng = random.Random(7)
    citizens = []
    for n in range(CITIZENS):
        surname, given = rng.choice(_SURNAMES), rng.choice(_GIVEN)
        citizens.append(User(email=f"citizen{n}@example.com",
                             name_en=f"{surname[0]} {given[0]}",
                             name_zh=(surname[1] + given[1]) if surname[1] else None))
    session.add_all(citizens)
    session.commit()
    return People(officers, supervisors, [user.id for user in citizens])


def reference(number: int) -> str:
    """A unique, valid reference for ``number`` (scrambled, so not in insertion order)."""
    base = len(REFERENCE_ALPHABET)
    value = (number * 7_919 + 12_345) % base ** 8  # a bijection: 7919 is prime to 31
    chars = []
    for _ in range(8):
        value, digit = divmod(value, base)
        chars.append(REFERENCE_ALPHABET[digit])
    body = "".join(chars)
    return f"{body[:4]}-{body[4:]}-{_check_character(body)}"


def _moment(value: datetime) -> str:
    return value.isoformat()


def _rows(numbers: range, batch: range, people: People, rng: random.Random,
          open_share: float) -> io.StringIO:
    """Applications ``numbers`` (part of ``batch``) as COPY text, submitted over the
    history in the order of their numbers, as rows lie in a table that has grown."""
    now = datetime.now(UTC)
    codes = list(DEPARTMENTS)
    weights = [DEPARTMENTS[code][3] for code in codes]
    # The newest ``open_share`` of the history (about 29 days of 4 years) is mostly still
    # open; of the six months before, a few cases still are (waiting, or late).
    recent = HISTORY_DAYS * open_share
    out = io.StringIO()
    null = r"\N"
    for number in numbers:
        age = HISTORY_DAYS * (1 - (number - batch.start) / len(batch))
        submitted = now - timedelta(days=age)
        code = rng.choices(codes, weights)[0]
        service = rng.choices(DEPARTMENTS[code][2], SERVICE_SHARES)[0]
        officers = people.officers[code]
        surname, given = rng.choice(_SURNAMES), rng.choice(_GIVEN)
        name = f"{surname[0]} {given[0]} {surname[1]}{given[1]}".strip()
        waiting = decided = null
        due = (submitted.date() + timedelta(days=rng.randint(14, 35))).isoformat()
        if rng.random() < (0.9 if age < recent else 0.015 if age < 180 else 0):
            kind = rng.random()
            if kind < 0.8:
                state = "received"
                assignee = str(rng.choice(officers)) if rng.random() < 0.75 else null
            elif kind < 0.92:
                state = "awaiting_information"
                assignee = str(rng.choice(officers))
                waiting = _moment(now - timedelta(days=rng.random() * min(age, 20)))
            else:
                state, due, assignee = "awaiting_payment", null, null
        else:
            kind = rng.random()
            state = ("approved" if kind < 0.8 else "rejected" if kind < 0.88
                     else "withdrawn" if kind < 0.93 else "lapsed")
            if state == "lapsed":
                due, assignee = null, null
            else:
                assignee = (str(rng.choice(officers))
                            if state != "withdrawn" or rng.random() < 0.5 else null)
            decided = _moment(submitted + timedelta(days=rng.random() * min(age, 25)))
        sent = _moment(submitted)
        out.write("\t".join((
            reference(number), str(rng.choice(people.citizens)), service, code, state, "{}",
            "0", "HKD", "en" if rng.random() < 0.6 else "zh_Hant_HK", sent, due, sent, name,
            assignee, waiting, decided)))
        out.write("\n")
    out.seek(0)
    return out


def seed_applications(engine: Any, people: People, start: int, count: int, *,
                      open_share: float = OPEN_SHARE, chunk: int = 100_000) -> None:
    """Add ``count`` applications numbered from ``start`` with COPY, then VACUUM ANALYZE."""
    rng = random.Random(start)
    batch = range(start, start + count)
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        with connection.cursor() as cursor:
            done = 0
            while done < count:
                size = min(chunk, count - done)
                numbers = range(start + done, start + done + size)
                data = _rows(numbers, batch, people, rng, open_share)
                with cursor.copy(f"COPY applications ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    while block := data.read(1 << 20):
                        copy.write(block)
                done += size
        connection.commit()
        connection.autocommit = True
        with connection.cursor() as cursor:
            # Visibility map and statistics as a live database would have them.
            cursor.execute("VACUUM (ANALYZE) applications")
        connection.autocommit = False
    finally:
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", required=True,
                        help="a PostgreSQL database with the portal's schema")
    parser.add_argument("--applications", type=int, default=10_000)
    parser.add_argument("--open-share", type=float, default=OPEN_SHARE)
    args = parser.parse_args()
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    url = args.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    with Session(engine) as session:
        people = seed_people(session)
    seed_applications(engine, people, 0, args.applications, open_share=args.open_share)
    engine.dispose()


if __name__ == "__main__":
    main()
