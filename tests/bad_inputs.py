"""The bad-input corpus: what scrapers really send, and what marsad must do with each.

Each case is ``(name, payload bytes, expected outcomes)``; an outcome is a
dead-letter reason code or ``"ok"`` (the article came out on
``events.enriched`` or ``articles.duplicates``).  A few cases accept two
outcomes where both are right (text of digits only is both empty of words and
not Arabic).  Used by the unit test of ``marsad process`` and by the
integration test on the broker.
"""

from __future__ import annotations

import orjson

AR = "قتل ثلاثة أشخاص في قصف على مدينة حمص السورية يوم الجمعة بحسب المرصد السوري."
AR2 = "أعلنت وزارة الصحة في القاهرة أمس عن افتتاح مستشفى جديد في محافظة الجيزة."


def _j(obj: object) -> bytes:
    return orjson.dumps(obj)


def cases() -> list[tuple[str, bytes, frozenset[str]]]:
    """Return the corpus (at least 50 cases)."""
    ok = frozenset({"ok"})

    def one(reason: str) -> frozenset[str]:
        return frozenset({reason})

    big_text = ("مرصد " * 2_200_000)[:10_000_000]
    c: list[tuple[str, bytes, frozenset[str]]] = [
        # --- not JSON, or not the JSON we want --------------------------------
        ("truncated-json", ('{"id": "b01", "text": "' + AR[:20]).encode(), one("invalid_json")),
        ("truncated-key", b'{"te', one("invalid_json")),
        ("empty-payload", b"", one("invalid_json")),
        ("whitespace-payload", b"   \n ", one("invalid_json")),
        ("json-null", b"null", one("not_an_object")),
        ("json-true", b"true", one("not_an_object")),
        ("json-number", b"42", one("not_an_object")),
        ("json-string", _j(AR), one("not_an_object")),
        ("json-array", _j([{"text": AR}]), one("not_an_object")),
        ("trailing-garbage", _j({"text": AR}) + b" xyz", one("invalid_json")),
        ("two-objects", _j({"text": AR}) + _j({"text": AR2}), one("invalid_json")),
        ("raw-control-char", b'{"text": "\xd9\x85\x00\xd8\xb1"}', one("invalid_json")),
        ("lone-surrogate", b'{"text": "\\ud800 \xd9\x85"}', one("invalid_json")),
        ("deep-nesting", b"[" * 100_000 + b"]" * 100_000, one("invalid_json")),
        ("deep-nesting-in-field", b'{"text": "x", "x": ' + b"[" * 2000 + b"]" * 2000 + b"}",
         one("invalid_json")),
        ("huge-float", b'{"text": "' + AR.encode() + b'", "score": 1e400}', one("invalid_json")),
        ("huge-integer", b'{"text": "' + AR.encode() + b'", "n": 1' + b"0" * 500 + b"}",
         one("invalid_json")),
        # --- bytes that are not UTF-8 -------------------------------------------
        ("invalid-utf8", b'{"text": "\xff\xfe\xfd"}', one("invalid_utf8")),
        ("latin1-text", '{"text": "caf\u00e9"}'.encode("latin-1"), one("invalid_utf8")),
        ("utf16-json", _j({"text": AR}).decode().encode("utf-16"), one("invalid_utf8")),
        ("cp1256-arabic", '{"text": "\u0645\u0631\u0635\u062f"}'.encode("cp1256"),
         one("invalid_utf8")),
        ("binary-junk", bytes(range(256)) * 4, one("invalid_utf8")),
        # --- wrong types and shapes -----------------------------------------------
        ("no-text", _j({"id": "b23", "title": "خبر بلا نص"}), one("schema_violation")),
        ("empty-object", b"{}", one("schema_violation")),
        ("text-null", _j({"text": None}), one("schema_violation")),
        ("text-number", _j({"text": 3.5}), one("schema_violation")),
        ("text-array", _j({"text": [AR]}), one("schema_violation")),
        ("text-object", _j({"text": {"body": AR}}), one("schema_violation")),
        ("text-bool", _j({"text": True}), one("schema_violation")),
        ("id-number", _j({"id": 12, "text": AR}), one("schema_violation")),
        ("id-too-long", _j({"id": "x" * 300, "text": AR}), one("schema_violation")),
        ("title-number", _j({"title": 5, "text": AR}), one("schema_violation")),
        ("title-too-long", _j({"title": "ع" * 3000, "text": AR}), one("schema_violation")),
        ("url-object", _j({"url": {"href": "x"}, "text": AR}), one("schema_violation")),
        ("published-at-number", _j({"published_at": 1530000000, "text": AR}),
         one("schema_violation")),
        ("repeated-key-last-bad", b'{"text": "' + AR.encode() + b'", "text": 5}',
         one("schema_violation")),
        # --- empty, or not Arabic ---------------------------------------------------
        ("empty-text", _j({"id": "b37", "text": ""}), one("empty_text")),
        ("whitespace-text", _j({"id": "b38", "text": " \n\t \u00a0 "}), one("empty_text")),
        ("html-only-empty", _j({"id": "b39", "text": "<div><p></p><br/></div>"}),
         one("empty_text")),
        ("diacritics-and-tatweel-only", _j({"id": "b40", "text": "\u064e\u0640\u0650\u0640"}),
         frozenset({"empty_text", "not_arabic"})),
        ("english-text", _j({"id": "b41", "text": "Markets rallied on Monday after the "
                             "central bank held rates steady."}), one("not_arabic")),
        ("html-page-english", _j({"id": "b42", "text": "<html><body><h1>Not found</h1>"
                                  "<p>The page you requested does not exist.</p></body></html>"}),
         one("not_arabic")),
        ("chinese-text", _j({"id": "b43", "text": "北京时间周一，市场大幅上涨。"}),
         one("not_arabic")),
        ("hebrew-text", _j({"id": "b44", "text": "השוק עלה ביום שני לאחר ההחלטה."}),
         one("not_arabic")),
        ("digits-only", _j({"id": "b45", "text": "2018 12 31 ١٢٣"}),
         frozenset({"empty_text", "not_arabic"})),
        # --- too big --------------------------------------------------------------------
        ("ten-megabytes", _j({"id": "b46", "text": big_text}), one("too_large")),
        # --- odd but valid: must come out processed ---------------------------------------
        ("empty-id-derived", _j({"id": "", "text": AR + " مرة"}), ok),
        ("bad-date-string", _j({"id": "b48", "text": AR2, "published_at": "yesterday"}), ok),
        ("date-out-of-range", _j({"id": "b49", "text": AR2 + " ثانية",
                                  "published_at": "9999-99-99T99:99:99Z"}), ok),
        ("date-year-zero", _j({"id": "b50", "text": AR2 + " ثالثة",
                               "published_at": "0000-01-01T00:00:00Z"}), ok),
        ("rfc2822-date", _j({"id": "b51", "text": AR + " رابعة",
                             "published_at": "Fri, 06 Jul 2012 18:30:00 +0200"}), ok),
        ("repeated-key-last-good", b'{"id": "b52", "text": 5, "text": "' + AR.encode()
         + " خامسة".encode() + b'"}', ok),
        ("escaped-nul-and-controls", _j({"id": "b53", "text": "\u0000" + AR2 + "\u0001\u001f"
                                         + " سادسة"}), ok),
        ("bidi-controls", _j({"id": "b54", "text": "\u202b\u200f" + AR + "\u202c\u200e سابعة"
                              + "\u2067x\u2069"}), ok),
        ("zero-width-chars", _j({"id": "b55", "text": "\u200b\u200c\u200d\ufeff" + AR2
                                 + " ثامنة"}), ok),
        ("eastern-digits", _j({"id": "b56", "text": "قتل ٢٩ شخصا و۱۲ جريحا في دمشق تاسعة"}), ok),
        ("html-with-script", _j({"id": "b57", "text": "<script>alert('x')</script><p>" + AR2
                                 + " عاشرة</p><style>p{}</style>"}), ok),
        ("unknown-fields", _j({"id": "b58", "text": AR + " حادية عشرة", "category": "x",
                               "tags": [1, 2], "meta": {"a": None}}), ok),
        ("bom-prefixed", b"\xef\xbb\xbf" + _j({"id": "b59", "text": AR2 + " ثانية عشرة"}), ok),
        ("long-run-one-letter", _j({"id": "b60", "text": "ا" * 200_000}),
         frozenset({"ok", "timeout"})),
        ("punctuation-flood", _j({"id": "b61", "text": AR + " " + "،؛!؟.«»" * 20_000}),
         frozenset({"ok", "timeout"})),
        ("mostly-english-some-arabic", _j({"id": "b62", "text": "The quick brown fox " * 40
                                           + "مرصد"}), one("not_arabic")),
        ("nulls-for-optionals", _j({"id": "b63", "text": AR2 + " ثالثة عشرة", "title": None,
                                    "url": None, "source": None, "published_at": None}), ok),
    ]
    return c
