"""The traffic of one step: who asks what about which page, when, and from which address.

Ordinary visitors arrive as a Poisson process; each session asks a few questions from one client
address, several sessions share an address (a household, an office), and every step uses fresh
sessions and addresses, so per-client limits meet what they meet in production rather than one
client asking everything. A share of the questions repeats a popular question about the same
page word for word (the response cache's hits); the rest are unique. Abusive clients keep one
session and one address for the whole test and ask at a constant rate above their limit.
"""

from __future__ import annotations

import ipaddress
import math
import random
import secrets
from dataclasses import dataclass

from tasks.loadtest.driver import StepRequest, arrival_offsets

# RFC 2544's range for benchmark traffic: never a real visitor's address.
_ORDINARY_NETWORK = ipaddress.ip_network("198.18.0.0/16")
_ABUSIVE_NETWORK = ipaddress.ip_network("198.19.255.0/24")
ADDRESSES_PER_STEP = 4_096

_SENTENCES = (
    "The annual fee is charged on the card's anniversary and shown on the next statement.",
    "Cash advances carry a fee of 3 percent and interest from the day they are taken.",
    "A balance transfer usually completes within five working days of approval.",
    "You can ask for a higher credit limit once every six months in the app.",
    "Contactless payments are limited to 100 EUR each unless the PIN is entered.",
    "Paying the full statement balance by the due date avoids purchase interest.",
    "Lost or stolen cards are blocked at once from the app or by phone, day and night.",
    "Foreign currency purchases are converted at the network rate plus a 1.5 percent fee.",
)
# (path, title, characters of page text): pages as short as a notice and as long as terms.
_PAGES = (
    ("/cards/fees", "Card fees and charges", 1_200),
    ("/help/credit-limit", "Changing your credit limit", 2_500),
    ("/cards/balance-transfer", "Balance transfers", 4_000),
    ("/help/lost-card", "Lost or stolen cards", 6_000),
    ("/cards/travel", "Using your card abroad", 9_000),
    ("/legal/terms", "Card terms and conditions", 14_000),
)
_POPULAR_QUESTIONS = (
    "What does this page say about fees?",
    "How do I raise my credit limit?",
    "Summarise this page in one sentence.",
    "Is there an annual fee on this card?",
    "How long does a balance transfer take?",
    "What should I do if I lose my card?",
)
# The popular questions, each about the page it belongs with: the repeats the cache can answer.
_POPULAR = tuple(
    (question, index % len(_PAGES)) for index, question in enumerate(_POPULAR_QUESTIONS)
)
_UNIQUE_QUESTIONS = (
    "Would a purchase of {amount} EUR abroad cost me a fee?",
    "If I transfer {amount} EUR, when will it arrive?",
    "Can my limit go up by {amount} EUR this year?",
    "What interest would a cash advance of {amount} EUR cost?",
    "Is a contactless payment of {amount} EUR possible?",
)


@dataclass(frozen=True)
class MixPlan:
    """How to build one step's traffic; a plain value, so a step can be planned anywhere."""

    run_tag: str  # makes session ids unique per run against a long-lived service
    origin: str  # the site the pages are on
    seed: int
    repeat_share: float
    questions_per_session: int
    sessions_per_ip: int
    abusive_clients: int
    abusive_rate_per_minute: float


def new_run_tag() -> str:
    """A short random tag: a second run against the same service uses new sessions."""
    return secrets.token_hex(3)


def page_text(index: int) -> str:
    """The text of page `index`: its sentences repeated up to the page's length."""
    length = _PAGES[index][2]
    sentences = _SENTENCES[index:] + _SENTENCES[:index]
    text = " ".join(sentences)
    return (text + " ") * (length // (len(text) + 1)) + text[: length % (len(text) + 1)]


def page_body(index: int, origin: str) -> dict[str, str]:
    """The chat contract's `page` object for page `index` on the origin's site."""
    path, title, _ = _PAGES[index]
    return {"url": f"{origin}{path}", "title": title, "text": page_text(index)}


PAGE_COUNT = len(_PAGES)


def _ordinary_address(step_index: int, number: int) -> str:
    block = (step_index * ADDRESSES_PER_STEP + number) % _ORDINARY_NETWORK.num_addresses
    return str(_ORDINARY_NETWORK.network_address + block)


def _body(message: str, page: dict[str, str], session_id: str) -> dict[str, object]:
    return {"message": message, "page": page, "session_id": session_id}


def ordinary_requests(
    plan: MixPlan, step_index: int, rate_per_minute: float, window_seconds: float, count: int
) -> list[StepRequest]:
    """`count` Poisson arrivals in the window, spread over sessions, addresses and questions."""
    rng = random.Random(f"{plan.seed}-{step_index}")
    offsets = arrival_offsets(
        rate_per_minute,
        window_seconds,
        seed=rng.randrange(2**32),
        process="poisson_fixed_count",
        max_requests=count,
    )
    sessions = math.ceil(len(offsets) / plan.questions_per_session)
    # Each session asks exactly `questions_per_session` questions (the last maybe fewer), in a
    # random order over the window, so no session exceeds what a visitor would ask.
    owners = [s for s in range(sessions) for _ in range(plan.questions_per_session)]
    owners = owners[: len(offsets)]
    rng.shuffle(owners)
    pages = [page_body(index, plan.origin) for index in range(PAGE_COUNT)]
    requests = []
    for number, (offset, session) in enumerate(zip(offsets, owners, strict=True)):
        page_index = rng.randrange(PAGE_COUNT)
        if rng.random() < plan.repeat_share:
            message, page_index = _POPULAR[rng.randrange(len(_POPULAR))]
        else:
            template = _UNIQUE_QUESTIONS[rng.randrange(len(_UNIQUE_QUESTIONS))]
            amount = f"{rng.randrange(50, 20_000):,}"
            message = f"{template.format(amount=amount)} (ref {plan.run_tag}-{step_index}-{number})"
        session_id = f"lt-{plan.run_tag}-{step_index}-{session:05d}"
        requests.append(
            StepRequest(
                offset=offset,
                session_id=session_id,
                client_ip=_ordinary_address(step_index, session // plan.sessions_per_ip),
                body=_body(message, pages[page_index], session_id),
            )
        )
    return requests


def abusive_requests(plan: MixPlan, window_seconds: float) -> list[StepRequest]:
    """Each abusive client asks at a constant rate, phase-shifted, from its own session and IP."""
    gap = 60.0 / plan.abusive_rate_per_minute
    requests = []
    for client in range(plan.abusive_clients):
        session_id = f"lt-{plan.run_tag}-abusive-{client:02d}"
        message, page_index = _POPULAR[client % len(_POPULAR)]
        body = _body(message, page_body(page_index, plan.origin), session_id)
        offset = gap * client / plan.abusive_clients
        while offset < window_seconds:
            requests.append(
                StepRequest(
                    offset=offset,
                    session_id=session_id,
                    client_ip=str(_ABUSIVE_NETWORK.network_address + client + 1),
                    body=body,
                    abusive=True,
                )
            )
            offset += gap
    return requests


def step_requests(
    plan: MixPlan, step_index: int, rate_per_minute: float, window_seconds: float, count: int
) -> list[StepRequest]:
    """The whole step: ordinary and abusive traffic merged in send order."""
    merged = ordinary_requests(plan, step_index, rate_per_minute, window_seconds, count)
    merged += abusive_requests(plan, window_seconds)
    return sorted(merged, key=lambda request: request.offset)
