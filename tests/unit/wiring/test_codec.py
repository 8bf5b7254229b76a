"""The codec: every kind of bad bytes maps to one stable reason code."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marsad.codec import REASONS, Codec, DecodeError
from marsad.topics import ALL_TOPICS


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec(ALL_TOPICS, max_bytes=10_000)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"text": "\xd9\x85\xd8\xb1\xd8\xb5\xd8\xaf"', "invalid_json"),  # truncated
        (b"", "invalid_json"),
        (b"\xff\xfe\x00t", "invalid_utf8"),
        (b'{"text": "\xc3\x28"}', "invalid_utf8"),  # overlong/invalid sequence
        (b'"just a string"', "not_an_object"),
        (b"[]", "not_an_object"),
        (b"null", "not_an_object"),
        ('{"title": "عنوان"}'.encode(), "schema_violation"),  # no text
        (b'{"text": 42}', "schema_violation"),
        ('{"text": "نص", "id": 7}'.encode(), "schema_violation"),
        ('{"text": "نص", "published_at": ["2018"]}'.encode(), "schema_violation"),
        (b'{"text": "' + b"a" * 20_000 + b'"}', "too_large"),
        (b"[" * 5000 + b"]" * 5000, "invalid_json"),  # deeper than orjson allows
        (b'{"text": 1' + b"0" * 400 + b"}", "invalid_json"),  # a number no JSON parser keeps
    ],
)
def test_bad_raw_messages_get_their_reason(codec: Codec, payload: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        codec.decode("articles.raw", payload)
    assert info.value.reason == reason


def test_minimal_raw_article_is_valid(codec: Codec) -> None:
    value = codec.decode("articles.raw", '{"text": "دعا المؤتمر"}'.encode())
    assert value == {"text": "دعا المؤتمر"}


def test_unknown_fields_and_nulls_are_accepted(codec: Codec) -> None:
    value = codec.decode(
        "articles.raw", '{"text": "نص", "title": null, "category": "sport"}'.encode()
    )
    assert value["category"] == "sport"


def test_tombstone_is_rejected(codec: Codec) -> None:
    with pytest.raises(DecodeError) as info:
        codec.decode("articles.raw", None)
    assert info.value.reason == "invalid_json"


def test_unknown_reason_is_a_bug() -> None:
    with pytest.raises(ValueError, match="unknown dead-letter reason"):
        DecodeError("whatever", "x")


def test_reasons_match_the_dead_letter_schema() -> None:
    from marsad.codec import default_schema_dir

    schema = orjson.loads((default_schema_dir() / "articles.deadletter.v1.json").read_bytes())
    assert tuple(schema["properties"]["reason"]["enum"]) == REASONS


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_fail_with_a_known_reason(data: bytes) -> None:
    codec = Codec(["articles.raw"], max_bytes=200)
    try:
        value = codec.decode("articles.raw", data)
    except DecodeError as exc:
        assert exc.reason in REASONS
    else:
        assert isinstance(value["text"], str)


def test_encode_keeps_arabic_readable(codec: Codec) -> None:
    assert codec.encode({"text": "مرصد"}) == '{"text":"مرصد"}'.encode()


def test_utf8_bom_is_tolerated(codec: Codec) -> None:
    value = codec.decode("articles.raw", b"\xef\xbb\xbf" + '{"text": "نص"}'.encode())
    assert value["text"] == "نص"


def test_internal_records_are_checked_at_the_top_level_only() -> None:
    """By default a normalised record's nested parts are type-checked, not walked."""
    shallow = Codec(ALL_TOPICS)
    full = Codec(ALL_TOPICS, full_validation=True)
    record = {
        "schema_version": 1, "id": "a", "source": None, "url": None, "title": None,
        "published_at": None, "published_at_error": None, "text": "نص", "title_display": None,
        "normalisation": {"display": 5},  # wrong inside, right type on top
    }
    data = orjson.dumps(record)
    assert shallow.decode("articles.normalised", data)["id"] == "a"
    with pytest.raises(DecodeError):
        full.decode("articles.normalised", data)
    with pytest.raises(DecodeError):  # the top level is still checked
        shallow.decode("articles.normalised", orjson.dumps({**record, "normalisation": []}))
