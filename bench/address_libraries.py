"""Bench: the two address libraries of DESIGN.md on the import fixtures' addresses.

Measures load time, time per address (cold and cached in the library) and correctness against
the official commune of each address (names from vietnam-provinces). Run it in a scratch
environment holding both libraries (only vietnamadminunits is a project dependency):

    python3 -m venv /tmp/addr && /tmp/addr/bin/pip install vietnamadminunits==1.0.4 \
        vietnam-address-converter==1.0.5 vietnam-provinces==2025.10.1
    /tmp/addr/bin/python bench/address_libraries.py
"""
import resource
import time
import unicodedata

# (address as found in files, official commune code today, its name); "" = outside any commune match.
CASES = [
    ("Xã Đức Liễu, Huyện Bù Đăng, Tỉnh Bình Phước", "25417", "Xã Nghĩa Trung"),
    ("xa duc lieu, huyen bu dang, tinh binh phuoc", "25417", "Xã Nghĩa Trung"),
    ("X. Đức Liễu, H. Bù Đăng, Bình Phước", "25417", "Xã Nghĩa Trung"),
    ("Tổ 3, ấp 2, xã Đức Liễu, huyện Bù Đăng, tỉnh Bình Phước", "25417", "Xã Nghĩa Trung"),
    ("Phường Tiến Thành, TP Đồng Xoài, Bình Phước", "25210", "Phường Đồng Xoài"),
    ("P. Tân Phú, TP. Đồng Xoài, Bình Phước", "25195", "Phường Bình Phước"),
    ("TT Đức Phong, Bù Đăng, Bình Phước", "25396", "Xã Bù Đăng"),
    ("Xã Tân Hưng, Huyện Đồng Phú, Tỉnh Bình Phước", "25378", "Xã Tân Lợi"),
    ("Tan Hung, Hon Quan, Binh Phuoc", "25345", "Xã Tân Hưng"),
    ("Xã Nghĩa Trung, Đồng Nai", "25417", "Xã Nghĩa Trung"),
    ("phuong dong xoai, dong nai", "25210", "Phường Đồng Xoài"),
    ("Phường 1, Quận 3, TP Hồ Chí Minh", "27160", "Phường Bàn Cờ"),
    ("Phường Bàn Cờ, TP Hồ Chí Minh", "27160", "Phường Bàn Cờ"),
]


def fold(text: str) -> str:
    text = (text or "").replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn").lower().strip()


def mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def official_names() -> dict:
    from vietnam_provinces import Ward

    return {f"{w.code.value:05d}": w.name for w in Ward.iter_all()}


def bench_vietnamadminunits(names):
    before = mb()
    t = time.perf_counter()
    import vietnamadminunits as lib
    from vietnamadminunits.converter import converter_2025

    converter_2025.get_geo_location = lambda _a: None  # as kiemdich runs it: no online geocoding
    load = time.perf_counter() - t

    def answer(address):
        for attempt in (lambda: lib.convert_address(address),
                        lambda: lib.parse_address(address, mode=lib.ParseMode.FROM_2025, level=2)):
            try:
                unit = attempt()
            except Exception:
                continue
            if unit.ward:
                return str(unit.ward_code).zfill(5), unit.ward
        return None, None

    return load, mb() - before, answer


def bench_converter(names):
    before = mb()
    t = time.perf_counter()
    from vietnam_address_converter import create_converter

    conv = create_converter()
    conv.auto_convert_address("Xã Nghĩa Trung, Đồng Nai")  # builds its indexes on first use
    load = time.perf_counter() - t

    def answer(address):
        result = conv.auto_convert_address(address)
        ward = ((result or {}).get("converted_new") or {}).get("ward") or {}
        return ward.get("code"), ward.get("name_with_type")

    return load, mb() - before, answer


def main():
    names = official_names()
    for label, make in (("vietnamadminunits 1.0.4", bench_vietnamadminunits),
                        ("vietnam-address-converter 1.0.5", bench_converter)):
        try:
            load, memory, answer = make(names)
        except ImportError as err:
            print(f"{label}: not installed ({err})")
            continue
        t = time.perf_counter()
        answers = [answer(a) for a, _c, _n in CASES]
        per = (time.perf_counter() - t) / len(CASES)
        t = time.perf_counter()
        for _ in range(20):
            for a, _c, _n in CASES:
                answer(a)
        per_warm = (time.perf_counter() - t) / (20 * len(CASES))
        same_code = sum(code == expected for (code, _w), (_a, expected, _n) in zip(answers, CASES))
        same_name = sum(bool(w) and fold(w) == fold(n) for (_c, w), (_a, _e, n) in zip(answers, CASES))
        print(f"{label}: load {load:.2f} s (+{memory:.0f} MB), {per * 1000:.2f} ms/address first time, "
              f"{per_warm * 1000:.2f} ms/address after; right commune by name {same_name}/{len(CASES)}, "
              f"official code returned {same_code}/{len(CASES)}")
        for (address, expected, name), (code, ward) in zip(CASES, answers):
            if not ward or fold(ward) != fold(name) or code != expected:
                print(f"    {address!r}: got {ward} ({code}), official {name} ({expected})")


if __name__ == "__main__":
    main()
