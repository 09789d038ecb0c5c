"""The traffic mix: the chat contract, sessions and addresses within limits, repeats, abusers."""

from __future__ import annotations

import ipaddress
import itertools
from collections import Counter

import pytest

from chatbot.models import ChatRequest
from tasks.loadtest.mix import MixPlan, abusive_requests, ordinary_requests, step_requests

ORIGIN = "https://www.example.com"


def plan(**changes: object) -> MixPlan:
    values: dict[str, object] = {
        "run_tag": "abc123",
        "origin": ORIGIN,
        "seed": 4,
        "repeat_share": 0.3,
        "questions_per_session": 3,
        "sessions_per_ip": 2,
        "abusive_clients": 2,
        "abusive_rate_per_minute": 60,
    }
    return MixPlan(**(values | changes))


def test_every_request_is_a_valid_chat_request_of_the_service() -> None:
    requests = step_requests(plan(), 0, 600, 30, 300)

    for request in requests:
        ChatRequest.model_validate(request.body)  # raises on any contract violation
    assert {request.body["page"]["url"].split("/")[2] for request in requests} == {
        "www.example.com"
    }


def test_step_has_the_planned_count_in_its_window_in_send_order() -> None:
    ordinary = ordinary_requests(plan(), 0, 600, 30, 300)

    offsets = [request.offset for request in ordinary]
    assert len(ordinary) == 300
    assert offsets == sorted(offsets) and offsets[0] >= 0 and offsets[-1] < 30


def test_no_session_or_address_asks_more_than_a_visitor_would() -> None:
    ordinary = ordinary_requests(plan(), 0, 2_000, 30, 1_000)

    per_session = Counter(request.session_id for request in ordinary)
    per_address = Counter(request.client_ip for request in ordinary)
    assert max(per_session.values()) == 3
    assert len(per_session) == 334  # ceil(1000 / 3)
    assert max(per_address.values()) <= 3 * 2
    assert len(per_address) == 167
    assert all(
        ipaddress.ip_address(ip) in ipaddress.ip_network("198.18.0.0/15") for ip in per_address
    )


def test_each_step_uses_fresh_sessions_and_addresses() -> None:
    first = ordinary_requests(plan(), 0, 600, 10, 100)
    second = ordinary_requests(plan(), 1, 600, 10, 100)

    assert not {r.session_id for r in first} & {r.session_id for r in second}
    assert not {r.client_ip for r in first} & {r.client_ip for r in second}


@pytest.mark.parametrize("share", [0.0, 0.3, 0.8])
def test_the_repeat_share_of_questions_repeats_a_popular_question_word_for_word(
    share: float,
) -> None:
    ordinary = ordinary_requests(plan(repeat_share=share), 0, 6_000, 30, 3_000)

    asked = Counter((r.body["message"], r.body["page"]["url"]) for r in ordinary)
    repeated = sum(count for count in asked.values() if count > 1)
    assert repeated / len(ordinary) == pytest.approx(share, abs=0.03)
    assert len([key for key, count in asked.items() if count > 1]) <= 6  # the popular pairs


def test_the_mix_spans_several_pages_and_questions() -> None:
    ordinary = ordinary_requests(plan(), 0, 600, 30, 300)

    assert len({r.body["page"]["url"] for r in ordinary}) == 6
    assert len({len(r.body["page"]["text"]) for r in ordinary}) == 6  # short to long pages
    assert len({r.body["message"] for r in ordinary}) > 150


def test_the_mix_is_reproducible_for_a_seed() -> None:
    assert ordinary_requests(plan(), 2, 600, 10, 100) == ordinary_requests(plan(), 2, 600, 10, 100)
    assert ordinary_requests(plan(), 2, 600, 10, 100) != ordinary_requests(
        plan(seed=5), 2, 600, 10, 100
    )


def test_abusive_clients_keep_one_session_and_address_at_a_constant_rate() -> None:
    abusive = abusive_requests(plan(abusive_clients=2, abusive_rate_per_minute=120), 10)

    by_session = Counter(request.session_id for request in abusive)
    assert list(by_session.values()) == [20, 20]  # 120/min for 10 s each
    assert len({request.client_ip for request in abusive}) == 2
    assert all(request.abusive for request in abusive)
    gaps = {
        round(later.offset - earlier.offset, 6)
        for earlier, later in itertools.pairwise(abusive)
        if earlier.session_id == later.session_id
    }
    assert gaps == {0.5}


def test_without_abusive_clients_the_step_is_ordinary_traffic_only() -> None:
    requests = step_requests(plan(abusive_clients=0), 0, 600, 10, 100)

    assert len(requests) == 100
    assert not any(request.abusive for request in requests)
