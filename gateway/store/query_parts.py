"""What a query's sealed parts are bound to, and how an answer is written before it is sealed:
shared by the automatic path (queries.py) and the manual queue (held.py)."""

from __future__ import annotations

import json
import secrets

from gateway.model import Field, UpstreamAnswer
from gateway.store.sealing import part_context


def new_query_id() -> str:
    return secrets.token_hex(10)  # 80 random bits, 20 hex digits as before; cheaper than uuid4


_request_context = part_context("query", "request")


_answer_context = part_context("query", "answer")


_notice_context = part_context("query", "notice")


_refusal_context = part_context("query", "refusal")


# what json.dumps(..., ensure_ascii=False) builds on every call, made once: the same text
_ANSWER_JSON = json.JSONEncoder(ensure_ascii=False).encode


def _encode_answer(answer: UpstreamAnswer) -> str:
    return _ANSWER_JSON(
        {"has_data": answer.has_data, "fields": [[f.name, f.value] for f in answer.fields]}
    )


def _decode_answer(raw: bytes) -> UpstreamAnswer:
    data = json.loads(raw)
    return UpstreamAnswer(bool(data["has_data"]), tuple(Field(n, v) for n, v in data["fields"]))
