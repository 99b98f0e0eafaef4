from __future__ import annotations

import pytest

from steward.guard import checksums as cs


@pytest.mark.parametrize("value", ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005",
                                   "6011111111111117", "4012888888881881"])
def test_cards_valid(value: str) -> None:
    assert cs.credit_card_ok(value)


@pytest.mark.parametrize("value", ["4111 1111 1111 1112", "1234567812345670", "4111-1111 1111-1111",
                                   "0000000000000000", "9111111111111111"])
def test_cards_invalid(value: str) -> None:
    # Bad Luhn digit, unknown issuer prefix, mixed separators, a run of zeros.
    assert not cs.credit_card_ok(value)


@pytest.mark.parametrize("value", ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432",
                                   "FR1420041010050500013M02606", "NL91ABNA0417164300"])
def test_iban_valid(value: str) -> None:
    assert cs.iban_ok(value)


@pytest.mark.parametrize("value", ["DE89 3704 0044 0532 0130 01", "GB82WEST1234569876543",
                                   "XX89370400440532013000"])
def test_iban_invalid(value: str) -> None:
    assert not cs.iban_ok(value)


@pytest.mark.parametrize(("value", "ok"), [
    ("536-90-4399", True), ("123-45-6789", True), ("000-12-3456", False), ("666-12-3456", False),
    ("912-12-3456", False), ("123-00-4567", False), ("123-45-0000", False),
    ("078-05-1120", False), ("111-11-1111", False), ("536904399", True), ("222222222", False),
])
def test_ssn(value: str, ok: bool) -> None:
    assert cs.us_ssn_ok(value) is ok


@pytest.mark.parametrize(("value", "ok"), [
    ("AB 12 34 56 C", True), ("JG103759A", True), ("BG 12 34 56 A", False),
    ("GB123456A", False), ("DA123456A", False), ("AO123456A", False), ("AB123456E", False),
])
def test_uk_nino(value: str, ok: bool) -> None:
    assert cs.uk_nino_ok(value) is ok


@pytest.mark.parametrize(("value", "ok"), [
    ("943 476 5919", True), ("9434765919", True), ("943 476 5918", False),
    ("1111111111", False), ("401 023 2137", True),
])
def test_uk_nhs(value: str, ok: bool) -> None:
    assert cs.uk_nhs_ok(value) is ok


@pytest.mark.parametrize(("value", "ok"), [
    ("86095742719", True), ("86 095 742 719", True), ("86095742718", False),
    ("01234567899", False),  # leading zero
    ("11234567891", False),  # digit rule holds, wrong check digit (0 is right)
    ("12345678903", False),  # all ten head digits distinct
])
def test_de_tax_id(value: str, ok: bool) -> None:
    assert cs.de_tax_id_ok(value) is ok


@pytest.mark.parametrize(("value", "ok"), [
    ("12345678Z", True), ("12345678-z", True), ("12345678A", False), ("1234567Z", False),
])
def test_es_dni(value: str, ok: bool) -> None:
    assert cs.es_dni_ok(value) is ok


@pytest.mark.parametrize(("value", "ok"), [
    ("X1234567L", True), ("Y1234567X", True), ("Z1234567R", True), ("X1234567A", False),
    ("A1234567L", False),
])
def test_es_nie(value: str, ok: bool) -> None:
    assert cs.es_nie_ok(value) is ok


@pytest.mark.parametrize(("value", "ok"), [
    ("2341 2341 2346", True), ("234123412346", True), ("234123412345", False),
    ("123412341234", False),  # first digit 0 or 1 is never issued
    ("499118665246", True),
])
def test_aadhaar(value: str, ok: bool) -> None:
    assert cs.in_aadhaar_ok(value) is ok


def test_verhoeff_and_luhn_primitives() -> None:
    assert cs.verhoeff_ok("2363") and not cs.verhoeff_ok("2364")
    assert cs.luhn_ok("79927398713") and not cs.luhn_ok("79927398710")
