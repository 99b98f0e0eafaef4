from __future__ import annotations

from collections.abc import Callable

import pytest

Found = Callable[[str], list[tuple[str, str]]]


@pytest.mark.parametrize(("text", "entity", "value"), [
    ("write to jane.doe+news@mail.example.co.uk today", "EMAIL_ADDRESS",
     "jane.doe+news@mail.example.co.uk"),
    ("Call me on +44 20 7946 0958 after 5pm.", "PHONE_NUMBER", "+44 20 7946 0958"),
    ("phone: (212) 456-7890", "PHONE_NUMBER", "(212) 456-7890"),
    ("Tel. 030 901820", "PHONE_NUMBER", "030 901820"),
    ("mobile 0049 151 23456789", "PHONE_NUMBER", "0049 151 23456789"),
    ("Card 4111 1111 1111 1111, exp 09/27", "CREDIT_CARD", "4111 1111 1111 1111"),
    ("IBAN DE89 3704 0044 0532 0130 00 is mine", "IBAN", "DE89 3704 0044 0532 0130 00"),
    ("SSN: 536-90-4399", "US_SSN", "536-90-4399"),
    ("my social security number is 536904399", "US_SSN", "536904399"),
    ("failed login from 203.0.113.7 at noon", "IP_ADDRESS", "203.0.113.7"),
    ("host 2001:db8:85a3::8a2e:370:7334 is down", "IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334"),
    ("Date of birth: 14/02/1987", "DATE_OF_BIRTH", "14/02/1987"),
    ("She was born on March 3, 1985 in Leeds.", "DATE_OF_BIRTH", "March 3, 1985"),
    ("Geburtsdatum: 03.07.1979", "DATE_OF_BIRTH", "03.07.1979"),
    ("National Insurance number: AB 12 34 56 C", "UK_NINO", "AB 12 34 56 C"),
    ("NHS number 943 476 5919", "UK_NHS", "943 476 5919"),
    ("Steuer-ID: 86095742719", "DE_TAX_ID", "86095742719"),
    ("Mi DNI es 12345678Z.", "ES_DNI", "12345678Z"),
    ("NIE: X1234567L", "ES_NIE", "X1234567L"),
    ("Aadhaar: 2341 2341 2346", "IN_AADHAAR", "2341 2341 2346"),
])
def test_detects(found: Found, text: str, entity: str, value: str) -> None:
    assert (entity, value) in found(text)


@pytest.mark.parametrize("text", [
    "Your order #4111111111111112 has shipped.",  # fails Luhn
    "Order number 4349518366097593 was refunded.",  # passes Luhn, but it is an order number
    "request_id=3f2b8c1e-9d4a-4f6b-8e2a-1c3d5e7f9a0b",
    "Upgrade to version 1.2.3 before Monday, build 10.0.19041.1",
    "firmware 10.2.0.1 and OID 1.3.6.1.4.1.2021",
    "[2024-01-15T09:30:00Z] ts=1705312200 created_at: 1705312200123",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 sha256 = e3b0c44298fc1c149afbf4c8996fb924",
    "Call 555-0100 or ext. 4821, room 301-12",
    "The meeting is on 12/03/1985. Invoice date 2023-05-01",
    "Total: $12,345.67, ISBN 978-3-161-48410-0, SKU 123456789",
    "icon@2x.png and std::vector<int> and x[1::2]",
])
def test_hard_negatives(found: Found, text: str) -> None:
    assert found(text) == []


def test_context_words_move_scores(found: Found) -> None:
    # A bare 10-digit number is a phone only when labelled as one.
    assert found("reach me on 2125550147 tonight") != []
    assert found("see 2125550147 tonight") == []
    # A card-shaped number labelled as an order is not a card.
    assert found("my card 4111 1111 1111 1111") == [("CREDIT_CARD", "4111 1111 1111 1111")]
    assert found("tracking number 4111 1111 1111 1111") == []
    # An NHS number needs its label (unlabelled, this one reads as a US phone number).
    assert ("UK_NHS", "943 476 5919") not in found("943 476 5919")


def test_phone_not_split_into_card(found: Found) -> None:
    assert found("my mobile is +49 1573 0077356") == [("PHONE_NUMBER", "+49 1573 0077356")]


def test_dob_requires_context(found: Found) -> None:
    assert found("Contract signed 14/02/1987.") == []
    assert found("DOB 14/02/1987") == [("DATE_OF_BIRTH", "14/02/1987")]
    assert found("born 31/02/1987") == []  # not a calendar date
