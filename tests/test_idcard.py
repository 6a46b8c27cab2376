"""The clear-text card QR codes (CCCD chip card, PC-Covid): one parser in Python, its twin in scan.js,
both run on the same generated strings."""
import json
import random
import shutil
import subprocess
import unicodedata
from datetime import date
from pathlib import Path

import pytest

from kiemdich.scan.idcard import parse

TODAY = date(2026, 11, 26)
ROOT = Path(__file__).resolve().parents[1]
NAMES = ["Nguyễn Thị Ánh Tuyết", "Trần Văn Đức", "Lê Hoàng Yến Nhi", "Phạm Ngọc Ẩn", "Đỗ Thị Lưu Ly"]
ADDRESSES = ["Thôn 3, Nghĩa Trung, Tư Nghĩa, Quảng Ngãi", "Tổ 5, Phường Trần Phú, Thành phố Quảng Ngãi, Quảng Ngãi",
             "123 Lê Lợi, Phường Bến Thành, Quận 1, TP. Hồ Chí Minh"]


def card(number="051190001234", old="212345678", name="Nguyễn Thị Ánh Tuyết", born="05031990", sex="Nữ",
         address="Thôn 3, Nghĩa Trung, Tư Nghĩa, Quảng Ngãi", issued="10042021", seven=True):
    fields = [number, old, name, born, sex, address, issued] if seven else [number, name, born, sex, address, issued]
    return "|".join(fields)


def generated(seed=16, n=60):
    """Random genuine cards in both layouts and both Unicode forms, and the expected answer."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        name, address = rnd.choice(NAMES), rnd.choice(ADDRESSES)
        born = date(rnd.randint(1930, 2020), rnd.randint(1, 12), rnd.randint(1, 28))
        issued = date(rnd.randint(max(born.year, 2021), 2026), rnd.randint(1, 10), rnd.randint(1, 28))
        form = "NFD" if i % 2 else "NFC"
        seven = i % 3 != 0
        old = "" if i % 4 == 0 or not seven else f"{rnd.randint(0, 999999999):09d}"
        sex = rnd.choice(["Nam", "Nữ"])
        number = f"{rnd.randint(0, 10**12 - 1):012d}"
        text = card(number, old, unicodedata.normalize(form, name), born.strftime("%d%m%Y"),
                    unicodedata.normalize(form, sex), unicodedata.normalize(form, address),
                    issued.strftime("%d%m%Y"), seven)
        if i % 5 == 0:
            text += "\r\n"  # a handheld scanner's line end
        out.append((text, {"kind": "cccd", "id_number": number, "full_name": name, "birth_year": born.year,
                           "birth_date": born.isoformat(), "sex": "nu" if sex == "Nữ" else "nam",
                           "address": address, "old_id": old, "id_type": "cccd"}))
    return out


BAD = [
    "", "hello", "|||||", "||||||", "https://kiemdich.example/q#abc",
    card(number="05119000123"),  # 11 digits
    card(number="0511900012345"),  # 13 digits
    card(number="05119000123A"),
    card(old="2123456"),  # old number of 7 digits
    card(born="31021990"),  # 31 February
    card(born="05131990"),  # month 13
    card(born="0503199"),
    card(born="05032030"),  # born in the future
    card(issued="10042027"),  # issued in the future
    card(born="05031990", issued="01011980"),  # issued before birth
    card(sex="X"),
    card(name=""),
    card(name="Nguyễn 3"),
    card(address=""),
    card() + "|extra",
    card().replace("|", ";"),
    "051190001234|Nguyễn Thị Ánh Tuyết|05031990|Nữ|Thôn 3",  # 5 fields
    "x" * 500 + "|" * 6,
]

PC_COVID = [
    ("051190001234|NGUYEN THI ANH TUYET|1990-03-05|0|a1b2c3d4e5|2<GD4875123456789<0912345678",
     {"kind": "pccovid", "id_number": "051190001234", "full_name": "NGUYEN THI ANH TUYET", "birth_year": 1990,
      "birth_date": "1990-03-05", "sex": "", "address": "", "old_id": "", "id_type": "cccd"}),
    ("******001234|TRAN VAN DUC|1985-**-**|1|QID0001|", {"kind": "pccovid", "id_number": "",
     "full_name": "TRAN VAN DUC", "birth_year": 1985, "birth_date": None, "sex": "", "address": "",
     "old_id": "", "id_type": "cccd"}),
    ("212345678|LE VAN AN|1970-12-01|0|q|", {"kind": "pccovid", "id_number": "212345678", "full_name": "LE VAN AN",
     "birth_year": 1970, "birth_date": "1970-12-01", "sex": "", "address": "", "old_id": "", "id_type": "cmnd"}),
]
PC_COVID_BAD = ["051190001234|NGUYEN VAN A|1990-02-30|0|q|", "051190001234|NGUYEN VAN A|1990-03-05|2|q|",
                "051190001234|NGUYEN VAN A|1990-03-05|0||", "05119|NGUYEN VAN A|1990-03-05|0|q|"]


def as_dict(result):
    if result is None:
        return None
    data = dict(result.__dict__)
    data["birth_date"] = result.birth_date.isoformat() if result.birth_date else None
    return data


@pytest.mark.parametrize("text,expected", generated() + PC_COVID)
def test_genuine_cards_are_read_with_diacritics_in_nfc(text, expected):
    result = parse(text, TODAY)
    assert as_dict(result) == expected
    assert unicodedata.is_normalized("NFC", result.full_name) and unicodedata.is_normalized("NFC", result.address)


def test_both_layouts_of_the_same_card_give_the_same_person():
    seven, six = parse(card(old=""), TODAY), parse(card(seven=False), TODAY)
    assert seven == six and seven.old_id == ""
    assert parse(card(), TODAY).old_id == "212345678"


@pytest.mark.parametrize("text", BAD + PC_COVID_BAD)
def test_junk_and_broken_fields_are_not_a_card(text):
    assert parse(text, TODAY) is None


def test_the_javascript_twin_gives_the_same_answers():
    """static/js/scan.js's kdIdCard.parse, run by Node on every case above."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    cases = [t for t, _e in generated() + PC_COVID] + BAD + PC_COVID_BAD
    script = ("globalThis.document = {querySelector: () => null};"
              f"require({json.dumps(str(ROOT / 'static/js/scan.js'))});"
              "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              f"process.stdout.write(JSON.stringify(cases.map(t => globalThis.kdIdCard.parse(t, {json.dumps(TODAY.isoformat())}))));")
    run = subprocess.run([node, "-e", script], input=json.dumps(cases), capture_output=True, text=True, timeout=30,
                         check=True)
    assert json.loads(run.stdout) == [as_dict(parse(t, TODAY)) for t in cases]
