"""Who lives in the city: age, sex, household size, schooling and work, with their sources."""

from __future__ import annotations

import numpy as np

# Population by five-year age group, millions, 7th national census 2020 (第七次全国人口普查,
# 按年龄和性别分人口, rounded). Check: 0-14 = 17.9 % and 60+ = 18.6 % against the published
# 17.95 % and 18.70 %. The last band is 90-99 (90+).
AGE_BAND_MILLIONS = (
    77.88, 90.24, 84.26, 72.68, 74.94, 91.85, 124.15, 99.01, 93.30, 114.23,
    121.16, 101.40, 73.38, 74.01, 49.59, 30.33, 20.38, 10.33, 3.45,
)  # fmt: skip
MAX_AGE = 99
# Men are 51.24 % of the population (7th census 2020 communiqué No. 4). Assumed independent of
# age (a simplification: women outnumber men above ~65).
MALE_SHARE = 0.5124
# Household sizes 1..7 (7th census 2020: 1-person 25.4 %, 2-person 29.7 %, mean 2.62). Shares of
# 3, 4 and 5+ are approximate; 6+ is split 2:1 between 6 and 7 (assumption). Mean here: 2.60.
HOUSEHOLD_SIZE_SHARES = (0.254, 0.297, 0.210, 0.132, 0.062, 0.030, 0.015)
ADULT_AGE = 20  # every household has a head at least this old (assumption)

# Schooling (2020 全国教育事业发展统计公报, Ministry of Education): pre-primary gross enrolment
# 85.2 %, upper-secondary 91.2 %, higher education 54.4 %; compulsory education is universal.
KINDERGARTEN_AGES = (3, 5)
PRIMARY_AGES = (6, 11)
MIDDLE_AGES = (12, 17)  # junior (12-14) and senior/vocational (15-17) secondary
UNIVERSITY_AGES = (18, 21)
KINDERGARTEN_ENROLMENT = 0.852
UPPER_SECONDARY_ENROLMENT = 0.912
HIGHER_EDUCATION_ENROLMENT = 0.544
# Statutory retirement ages in force in 2022: men 60, women 50 (workers) or 55 (cadres);
# we use 55 for women (assumption).
RETIREMENT_AGE_M = 60
RETIREMENT_AGE_F = 55
# Employed share of working-age people not in education. Assumption near China's labour-force
# participation (~76 % of 15-64, ILO modelled estimate 2020) less the 5.2 % surveyed urban
# unemployment rate (NBS 2020); the rest are unemployed or homemakers.
EMPLOYED_WORKING_AGE = 0.74
EMPLOYED_YOUNG_NOT_IN_SCHOOL = 0.70  # 15-21 year olds out of school (assumption)
EMPLOYED_AFTER_RETIREMENT = 0.12  # still working after statutory retirement (assumption)
# Workers living in rural townships who farm (no workplace venue). Assumption: Xiamen's primary
# sector is small (< 1 % of GDP) but villages in 同安/翔安 still farm.
FARMER_SHARE_RURAL = 0.25

ROLES = ("child", "kindergarten", "primary", "middle", "university", "worker", "retired", "jobless")
CHILD, KINDERGARTEN, PRIMARY, MIDDLE, UNIVERSITY, WORKER, RETIRED, JOBLESS = range(len(ROLES))

# Where residents' ID numbers were issued. Assumption: Xiamen's 2020 census counted about a third
# of residents as migrants; 60 % local county, 15 % elsewhere in Fujian, 25 % other provinces.
ORIGIN_LOCAL = 0.60
ORIGIN_SAME_PROVINCE = 0.15
# Relative weight of source provinces for inter-provincial migrants. Assumption: neighbouring and
# populous inland provinces dominate migration to the south-east coast; others weight 1.
MIGRANT_SOURCE_WEIGHTS = {
    "36": 8.0, "51": 6.0, "52": 5.0, "50": 4.0, "43": 4.0, "34": 4.0, "41": 4.0, "42": 3.0,
    "45": 3.0, "53": 2.0, "44": 2.0, "33": 2.0,
}  # fmt: skip

# Mobile phone ownership. Assumption: under 10 none (children use a parent's phone; the brief
# allows null), 10-14 half, 75+ seventy percent, otherwise everyone.
PHONE_SHARE_10_14 = 0.5
PHONE_SHARE_75_PLUS = 0.7


def age_weights() -> np.ndarray:
    """Probability of each single year of age 0..MAX_AGE (uniform within a census band)."""
    bands = np.asarray(AGE_BAND_MILLIONS)
    per_year = np.concatenate(
        [np.repeat(bands[:-1] / 5.0, 5), np.full(MAX_AGE + 1 - 90, bands[-1] / (MAX_AGE + 1 - 90))]
    )
    return per_year / per_year.sum()


def role_probabilities(age: np.ndarray, male: np.ndarray) -> np.ndarray:
    """(n, len(ROLES)) probability of each role given single-year age and sex."""
    age = np.asarray(age)
    male = np.asarray(male, dtype=bool)
    p = np.zeros((len(age), len(ROLES)))

    def between(bounds: tuple[int, int]) -> np.ndarray:
        return (age >= bounds[0]) & (age <= bounds[1])

    kg = between(KINDERGARTEN_AGES)
    p[kg, KINDERGARTEN] = KINDERGARTEN_ENROLMENT
    p[kg, CHILD] = 1 - KINDERGARTEN_ENROLMENT
    p[age < KINDERGARTEN_AGES[0], CHILD] = 1.0
    p[between(PRIMARY_AGES), PRIMARY] = 1.0
    junior = between((MIDDLE_AGES[0], 14))
    p[junior, MIDDLE] = 1.0
    senior = between((15, MIDDLE_AGES[1]))
    p[senior, MIDDLE] = UPPER_SECONDARY_ENROLMENT
    _split_work(p, senior, 1 - UPPER_SECONDARY_ENROLMENT, EMPLOYED_YOUNG_NOT_IN_SCHOOL)
    uni = between(UNIVERSITY_AGES)
    p[uni, UNIVERSITY] = HIGHER_EDUCATION_ENROLMENT
    _split_work(p, uni, 1 - HIGHER_EDUCATION_ENROLMENT, EMPLOYED_YOUNG_NOT_IN_SCHOOL)
    retire_at = np.where(male, RETIREMENT_AGE_M, RETIREMENT_AGE_F)
    working = (age > UNIVERSITY_AGES[1]) & (age < retire_at)
    _split_work(p, working, 1.0, EMPLOYED_WORKING_AGE)
    retired = age >= retire_at
    p[retired, WORKER] = EMPLOYED_AFTER_RETIREMENT
    p[retired, RETIRED] = 1 - EMPLOYED_AFTER_RETIREMENT
    return p


def _split_work(p: np.ndarray, mask: np.ndarray, share: float, employed: float) -> None:
    p[mask, WORKER] = share * employed
    p[mask, JOBLESS] = share * (1 - employed)


def expected_role_shares() -> np.ndarray:
    """Expected share of each role in the population (used to size schools and workplaces)."""
    ages = np.arange(MAX_AGE + 1)
    w = age_weights()
    shares = MALE_SHARE * (w[:, None] * role_probabilities(ages, np.ones_like(ages, bool)))
    shares += (1 - MALE_SHARE) * (w[:, None] * role_probabilities(ages, np.zeros_like(ages, bool)))
    return shares.sum(axis=0)
