"""Synthetic people: 身份证号 with a valid GB 11643 check character, names, skill certificates.

Everything here is invented. IDs are unique across the simulation, carry a real region prefix,
the birth date and a sequence digit that matches the sex.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from pipelines.lib.domain.codes import id_check_char
from pipelines.lib.domain.reference import retirement_ages

# 北京 districts dominate; the rest come from neighbouring provinces (migrant skilled workers).
REGIONS = (
    "110101", "110102", "110105", "110106", "110107", "110108", "110109", "110111", "110112",
    "110113", "110114", "110115", "110228", "130102", "130603", "120104", "370102", "410105",
    "140105", "230103", "210102", "340104",
)
_BEIJING_SHARE = 0.7

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
GIVEN_MALE = "伟强军磊勇杰涛斌刚明超辉鹏华建国平志新海波峰亮林东文宏立军永春雷宇浩凯"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞玲燕红梅琳雪慧颖洁婷玉兰英萍晶秀凤琴云莉"

# Retirement ages by sex: the seed ref_retirement_ages (the talent-flow mart reads the same rows).
RETIREMENT_AGE = retirement_ages()


@dataclass
class Person:
    id_number: str
    name: str
    sex: str
    birth_date: dt.date
    occupation: str
    level: str  # one of contract.SKILL_LEVELS
    cert_no: str
    cert_date: dt.date
    org_code: str
    is_frontline: bool = True
    is_chief: bool = False
    is_key_trainee: bool = False
    has_account: bool = False
    pinned: bool = False  # kept in place (planted violation): no moves, no retirement this year

    def age_at(self, day: dt.date) -> int:
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))

    def retires_by(self, day: dt.date) -> bool:
        return self.age_at(day) >= RETIREMENT_AGE[self.sex]


class PersonFactory:
    """Makes people with IDs unique across the simulation."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._ids: set[str] = set()
        self._cert_seq = 0

    def id_number(self, birth: dt.date, sex: str) -> str:
        rng = self.rng
        while True:
            region = rng.choice(REGIONS[:13]) if rng.random() < _BEIJING_SHARE else rng.choice(REGIONS[13:])
            seq = rng.randrange(0, 100) * 10 + rng.choice((1, 3, 5, 7, 9) if sex == "男" else (0, 2, 4, 6, 8))
            body = f"{region}{birth:%Y%m%d}{seq:03d}"
            number = body + id_check_char(body)
            if number not in self._ids:
                self._ids.add(number)
                return number

    def name(self, sex: str) -> str:
        given = GIVEN_MALE if sex == "男" else GIVEN_FEMALE
        n = 1 if self.rng.random() < 0.35 else 2
        return self.rng.choice(SURNAMES) + "".join(self.rng.choice(given) for _ in range(n))

    def cert_no(self, day: dt.date) -> str:
        self._cert_seq += 1
        return f"11{day:%y}{self.rng.randrange(10, 99)}{self._cert_seq:07d}"

    def person(
        self, org_code: str, level: str, occupation: str, on: dt.date, age_range: tuple[int, int],
        cert_date: dt.date,
    ) -> Person:
        rng = self.rng
        sex = "男" if rng.random() < 0.78 else "女"
        hi = min(age_range[1], RETIREMENT_AGE[sex] - 2)
        age = rng.randint(min(age_range[0], hi), hi)
        birth = on - dt.timedelta(days=int(365.25 * age) + rng.randrange(0, 360))
        # A certificate cannot predate the holder's 18th birthday.
        earliest = dt.date(birth.year + 18, 1, 1)
        if cert_date < earliest:
            cert_date = min(earliest, on)
        return Person(
            id_number=self.id_number(birth, sex), name=self.name(sex), sex=sex, birth_date=birth,
            occupation=occupation, level=level, cert_no=self.cert_no(cert_date), cert_date=cert_date,
            org_code=org_code, is_frontline=rng.random() < 0.85,
        )


def random_day(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randrange(0, (last - first).days + 1))
