"""Widget tokens: one per session, renewed on 401 and before expiry, none when unsupported."""

from __future__ import annotations

import asyncio

import pytest

from core.errors import ParameterError
from tasks.loadtest.driver import StepRequest, run_open_loop
from tasks.loadtest.session_tokens import probe_token_mode, token_from

ORIGIN = "https://www.example.com"


def questions(sessions: list[str], gap: float = 0.02) -> list[StepRequest]:
    return [
        StepRequest(
            offset=index * gap,
            session_id=session,
            client_ip="198.18.0.1",
            body={"message": "Hi?", "page": {"url": f"{ORIGIN}/a", "title": "A", "text": "A."}},
        )
        for index, session in enumerate(sessions)
    ]


def test_a_service_without_tokens_is_detected_and_asked_without_authorization(serve_chat) -> None:
    served = serve_chat(latency_seconds=0.0, tokens=False)

    assert probe_token_mode(served.url, ORIGIN, 5) == "none"
    run = asyncio.run(run_open_loop(served.url, questions(["s-1", "s-1"]), 5, ORIGIN, "none"))

    assert [o.status for o in run.outcomes] == [200, 200]
    assert run.tokens_fetched == 0


def test_each_session_fetches_one_token_shared_by_its_concurrent_questions(serve_chat) -> None:
    served = serve_chat(latency_seconds=0.3, tokens=True)

    assert probe_token_mode(served.url, ORIGIN, 5) == "tokens"
    sessions = ["session-a", "session-b", "session-a", "session-a", "session-b"]
    run = asyncio.run(run_open_loop(served.url, questions(sessions), 5, ORIGIN, "tokens"))

    assert [o.status for o in run.outcomes] == [200] * 5
    assert run.tokens_fetched == 2
    assert served.stats()["session_requests"] == 1 + 2  # the probe, then one per session


def test_a_401_renews_the_token_once_and_the_question_is_answered(serve_chat) -> None:
    served = serve_chat(latency_seconds=0.0, tokens=True, revoke_first_token=True)

    run = asyncio.run(run_open_loop(served.url, questions(["session-a"]), 5, ORIGIN, "tokens"))

    (outcome,) = run.outcomes
    assert (outcome.status, outcome.token_renewed) == (200, True)
    assert run.tokens_renewed == 1
    assert len(served.stats()["issued"]) == 2


def test_a_token_about_to_expire_is_renewed_before_the_question(serve_chat) -> None:
    served = serve_chat(latency_seconds=0.0, tokens=True, token_lifetime_seconds=1)

    sessions = ["session-a", "session-a"]
    run = asyncio.run(run_open_loop(served.url, questions(sessions, gap=1.2), 5, ORIGIN, "tokens"))

    assert [o.status for o in run.outcomes] == [200, 200]
    assert not any(o.token_renewed for o in run.outcomes)  # no 401 was needed
    assert run.tokens_renewed == 1
    assert len(served.stats()["issued"]) == 2


def test_a_refused_token_request_is_recorded_against_the_question(serve_chat) -> None:
    served = serve_chat(latency_seconds=0.0, tokens=True, allowed_origin="https://other.example")

    run = asyncio.run(run_open_loop(served.url, questions(["session-a"]), 5, ORIGIN, "tokens"))

    (outcome,) = run.outcomes
    assert (outcome.status, outcome.error) == (403, "session/origin_not_allowed")
    assert served.stats()["chat_requests"] == 0


def test_probe_names_the_origin_setting_when_the_service_refuses_the_origin(serve_chat) -> None:
    served = serve_chat(tokens=True, allowed_origin="https://other.example")

    with pytest.raises(ParameterError, match="CHATBOT_CORS_ALLOW_ORIGINS or pass --origin"):
        probe_token_mode(served.url, ORIGIN, 5)


@pytest.mark.parametrize("body", [None, [], {"expires_in": 60}, {"token": 7}])
def test_a_token_answer_without_a_token_is_refused(body: object) -> None:
    from tasks.loadtest.session_tokens import SessionRefused

    with pytest.raises(SessionRefused, match="token_missing"):
        token_from(body)
