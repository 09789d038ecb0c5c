"""The validation catalogue, through the live service: every bad request gets a precise 4xx."""

from __future__ import annotations

import json

import pytest

from chatbot.models import MAX_MESSAGE_CHARS, MAX_PAGE_TEXT_CHARS, MAX_TITLE_CHARS, MAX_URL_CHARS


def post_raw(client, content: bytes, content_type: str | None = "application/json"):
    headers = {} if content_type is None else {"Content-Type": content_type}
    return client.post("/api/chat", content=content, headers=headers)


def with_field(api, path: str, value):
    body = api.chat_body()
    target = body
    *parents, leaf = path.split(".")
    for parent in parents:
        target = target[parent]
    target[leaf] = value
    return body


SEMANTIC_ERRORS = [
    ("message", ""),
    ("message", "   \n\t "),
    ("message", "x" * (MAX_MESSAGE_CHARS + 1)),
    ("message", 42),
    ("message", None),
    ("message", ["a list"]),
    ("message", "NUL \u0000 inside"),
    ("message", "escape \u001b[31m codes"),
    ("message", "C1 control \u0085"),
    ("page", "https://www.example.com"),
    ("page.url", "javascript:alert(1)"),
    ("page.url", "ftp://files.example.com/a"),
    ("page.url", "data:text/html,hi"),
    ("page.url", "https://"),
    ("page.url", "https://exa mple.com"),
    ("page.url", "https://example.com/" + "a" * MAX_URL_CHARS),
    ("page.title", "t" * (MAX_TITLE_CHARS + 1)),
    ("page.title", "two\nlines"),
    ("page.text", "x" * (MAX_PAGE_TEXT_CHARS + 1)),
    ("page.text", "form feed \u000c"),
    ("page.extra", "field"),
    ("session_id", "short"),
    ("session_id", "has spaces in it"),
    ("session_id", "../../etc/passwd"),
    ("session_id", 12345678),
    ("unexpected", "field"),
]


@pytest.mark.parametrize(("path", "value"), SEMANTIC_ERRORS)
def test_semantic_errors_are_422_naming_the_field_without_calling_the_model(
    fake, client, api, path, value
):
    response = client.post("/api/chat", json=with_field(api, path, value))
    body = api.assert_error_shape(response, 422, "invalid_request")
    assert body["message"].split(":")[0] in {path, path.rsplit(".", 1)[0]}
    if isinstance(value, str) and len(value) > 3:
        assert value not in body["message"]  # the value itself is never echoed
    assert fake.stats.total_calls == 0


@pytest.mark.parametrize("missing", ["message", "page", "session_id"])
def test_missing_fields_are_422(fake, client, api, missing):
    body = api.chat_body()
    del body[missing]
    api.assert_error_shape(client.post("/api/chat", json=body), 422, "invalid_request")


@pytest.mark.parametrize("payload", [b"[]", b'"a string"', b"42", b"null"])
def test_json_that_is_not_an_object_is_422(fake, client, api, payload):
    api.assert_error_shape(post_raw(client, payload), 422, "invalid_request")


@pytest.mark.parametrize(
    "payload",
    [b'{"message": ', b"{'message': 'single quotes'}", b"\xff\xfe\x00garbage", b"{,}"],
)
def test_invalid_json_is_400(fake, client, api, payload):
    api.assert_error_shape(post_raw(client, payload), 400, "invalid_json")


def test_empty_body_is_400(fake, client, api):
    api.assert_error_shape(post_raw(client, b""), 400, "invalid_json")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_wrong_content_type_is_415_before_parsing(fake, client, api, content_type):
    payload = json.dumps(api.chat_body()).encode()
    api.assert_error_shape(post_raw(client, payload, content_type), 415, "unsupported_media_type")


def test_json_content_type_with_charset_is_accepted(fake, client, api):
    payload = json.dumps(api.chat_body()).encode()
    assert post_raw(client, payload, "application/json; charset=utf-8").status_code == 200


def test_body_over_the_limit_is_413_by_declared_length(fake, start, api):
    import httpx

    service = start(max_body_bytes=4096)
    payload = json.dumps(api.chat_body(text="x" * 5000)).encode()
    response = httpx.post(
        f"{service.base_url}/api/chat",
        content=payload,
        headers={"Content-Type": "application/json"},
    )
    api.assert_error_shape(response, 413, "payload_too_large")


def test_body_over_the_limit_is_413_when_streamed_without_length(fake, start, api):
    import httpx

    service = start(max_body_bytes=4096)

    def chunks():
        yield b'{"message": "hi", "page": {"url": "https://a.example", "title": "", "text": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}, "session_id": "session-0001"}'

    response = httpx.post(
        f"{service.base_url}/api/chat",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    api.assert_error_shape(response, 413, "payload_too_large")
    assert fake.stats.total_calls == 0


UNICODE_QUESTIONS = [
    "Which card has cashback? 💳🤔",
    "ما هي رسوم البطاقة السنوية؟",  # Arabic, right to left
    "מה העמלה השנתית?",  # Hebrew, right to left
    "Cafe\u0301 cre\u0300me: combining marks?",
    "Family: 👨\u200d👩\u200d👧 zero-width joiners",
    "Mixed \u202eRTL override\u202c text",
    "Line one\nline two\ttabbed",
]


@pytest.mark.parametrize("question", UNICODE_QUESTIONS)
def test_unicode_edge_cases_reach_the_model_intact(fake, client, api, question):
    body = api.chat_body(question, text="Prix: 90 €\nالسعر\n价格 💶")  # noqa: RUF001
    response = client.post("/api/chat", json=body)
    assert response.status_code == 200, response.text
    page = body["page"]
    assert response.json()["answer"] == api.fake_answer(question, page["title"], page["url"])


def test_escaped_surrogate_pair_is_a_valid_emoji(fake, client, api):
    payload = json.dumps(api.chat_body("card \U0001f4b3?"), ensure_ascii=True).encode()
    assert b"\\ud83d\\udcb3" in payload
    response = post_raw(client, payload)
    assert response.status_code == 200
    assert "card \U0001f4b3?" in response.json()["answer"]


@pytest.mark.parametrize("escape", [b"\\ud83d", b"\\udcb3", b"\\udcb3\\ud83d"])
def test_lone_surrogates_in_json_escapes_are_422(fake, client, api, escape):
    template = json.dumps(api.chat_body("MARK")).encode()
    api.assert_error_shape(
        post_raw(client, template.replace(b"MARK", escape)), 422, "invalid_request"
    )
    assert fake.stats.total_calls == 0


def test_nul_in_page_text_is_422(fake, client, api):
    body = api.chat_body(text="before\u0000after")
    api.assert_error_shape(client.post("/api/chat", json=body), 422, "invalid_request")


def test_character_rules_are_exactly_the_unicode_control_and_surrogate_categories():
    import unicodedata

    from chatbot.models import _UNSAFE_IN_LINE, _UNSAFE_IN_TEXT, _reject_unsafe_characters

    # Every Cc and Cs code point lies in the Basic Multilingual Plane; a few astral ones too.
    for code_point in [*range(0x10000), 0x1F4B3, 0xE0001, 0x10FFFF]:
        character = chr(code_point)
        category = unicodedata.category(character)
        refused_in_text = category == "Cs" or (category == "Cc" and character not in "\n\r\t")
        refused_in_line = category in {"Cs", "Cc"}
        for pattern, refused in (
            (_UNSAFE_IN_TEXT, refused_in_text),
            (_UNSAFE_IN_LINE, refused_in_line),
        ):
            try:
                _reject_unsafe_characters(character, pattern)
                accepted = True
            except ValueError:
                accepted = False
            assert accepted is not refused, hex(code_point)
