from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from epicore import idcard
from epicore.errors import ValidationError

# The worked example of GB 11643-1999 (annex): 11010519491231002X.
STANDARD_EXAMPLE = "11010519491231002X"

births = st.dates(min_value=date(1900, 1, 1), max_value=date(2024, 12, 31))
regions = st.from_regex(r"[1-6][0-9]{5}", fullmatch=True)


def test_standard_example_validates():
    parsed = idcard.parse_resident_id(STANDARD_EXAMPLE)
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sex == "F"  # sequence 002 is even
    assert parsed.region == "110105"


@given(regions, births, st.integers(0, 999))
def test_made_numbers_parse_back(region, birth, seq):
    number = idcard.make_resident_id(region, birth, seq)
    parsed = idcard.parse_resident_id(number, today=date(2025, 1, 1))
    assert (parsed.region, parsed.birth_date) == (region, birth)
    assert parsed.sex == ("M" if seq % 2 else "F")


@given(regions, births, st.integers(0, 999), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_typo_is_caught(region, birth, seq, position, delta):
    number = idcard.make_resident_id(region, birth, seq)
    digit = (int(number[position]) + delta) % 10
    typo = number[:position] + str(digit) + number[position + 1 :]
    with pytest.raises(ValidationError):
        idcard.parse_resident_id(typo, today=date(2025, 1, 1))


@pytest.mark.parametrize(
    "raw, code",
    [
        ("", "id_empty"),
        ("11010519491231002", "id_length"),
        ("110105194912310021X", "id_length"),
        ("110105491231002", "id_first_generation"),
        ("1101051949123100A2", "id_characters"),
        ("110105194912310021", "id_check_digit"),
        ("110105194902300027", "id_birth_date"),  # 30 February
        ("110105187001010011", "id_birth_range"),  # before 1880
    ],
)
def test_malformed_numbers_get_a_precise_code(raw, code):
    with pytest.raises(ValidationError) as caught:
        idcard.parse_resident_id(raw, today=date(2025, 1, 1))
    assert caught.value.code == code


def test_future_birth_date_is_impossible():
    number = idcard.make_resident_id("350203", date(2030, 1, 1), 1)
    with pytest.raises(ValidationError) as caught:
        idcard.parse_resident_id(number, today=date(2025, 1, 1))
    assert caught.value.code == "id_birth_range"


def test_full_width_digits_spaces_and_lower_x_are_normalised():
    assert idcard.parse_resident_id("１１０１０５ 1949 1231 002x").number == STANDARD_EXAMPLE


def test_old_region_codes_stay_valid():
    # 350204 was 开元区, merged into 思明区 in 2003: people still carry it.
    number = idcard.make_resident_id("350204", date(1970, 5, 5), 13)
    assert idcard.parse_resident_id(number).region == "350204"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("+852 9123 4567", "+85291234567"),
    ],
)
def test_phones_normalise(raw, expected):
    assert idcard.normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "12800138000", "1380013800", "138001380001", "abc", "+0123"])
def test_bad_phones_are_refused(raw):
    with pytest.raises(ValidationError):
        idcard.normalize_phone(raw)


@pytest.mark.parametrize(
    "doc_type, raw, ok",
    [
        ("passport", "E12345678", True),
        ("passport", "e1234", True),
        ("passport", "E1", False),
        ("hk_macao_permit", "H12345678", True),
        ("hk_macao_permit", "X12345678", False),
        ("taiwan_permit", "12345678", True),
        ("foreign_permanent_id", "USA350281010000", True),
        ("foreign_permanent_id", "911234199001011234", True),
        ("nonsense", "123456", False),
    ],
)
def test_other_documents(doc_type, raw, ok):
    if ok:
        assert idcard.validate_document(doc_type, raw)
    else:
        with pytest.raises(ValidationError):
            idcard.validate_document(doc_type, raw)


def test_masks():
    assert idcard.mask_document("35010219900307123X") == "3501**********123X"
    assert idcard.mask_phone("13800138000") == "138****8000"
    assert idcard.mask_name("张伟") == "张*"
    assert idcard.mask_name("欧阳娜娜") == "欧**娜"
    assert idcard.mask_document("E1234") == "E***4"


def _near_valid_numbers():
    from hypothesis import strategies as st

    digits = st.text(alphabet="0123456789", min_size=17, max_size=17)
    return st.one_of(
        digits.map(lambda d: d + idcard.id_check_char(d)),  # right check char, any date
        st.builds(lambda d, c: d + c, digits, st.sampled_from("0123456789X")),
        st.text(alphabet="0123456789X", min_size=0, max_size=20),
        st.builds(
            lambda region, born, seq: idcard.make_resident_id(region, born, seq),
            st.text(alphabet="0123456789", min_size=6, max_size=6),
            st.dates(min_value=date(1870, 1, 1), max_value=date(2030, 12, 31)),
            st.integers(0, 999),
        ),
    )


@given(st.lists(_near_valid_numbers(), min_size=1, max_size=40))
def test_the_vectorised_check_agrees_with_the_precise_one(numbers):
    today = date(2026, 11, 23)
    verdicts = idcard.valid_resident_ids(numbers, today)

    def valid(number):
        try:
            idcard.parse_resident_id(number, today)
            return True
        except ValidationError:
            return False

    assert list(verdicts) == [valid(x) for x in numbers]
