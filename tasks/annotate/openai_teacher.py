"""A teacher behind any OpenAI-compatible chat-completions server (vLLM, SGLang, hosted Qwen).

One request per chunk: the static system prompt, the chunk last, temperature 0, one answer
token (or a few more for a rationale), `logprobs` with `top_logprobs`, and where the server
supports it the answer constrained to the label letters (vLLM >= 0.12 reads
`structured_outputs.choice`; older `guided_choice` is silently ignored there, which is why the
answer is always checked). Requests run `concurrency` at a time; 429, 5xx, timeouts and
malformed bodies are retried with exponential backoff and jitter, honouring a readable
`Retry-After` (one that is not a number of seconds or a date is ignored).

A reply is untrusted input. Its body must arrive whole within `timeout_s` of the request: the
clock is read as each piece arrives, and a silence is cut off by httpx's per-read timeout of the
same length, so a body trickled a byte at a time holds a worker at most about twice `timeout_s`
(httpx has no overall deadline: status line and headers trickled byte by byte are bounded only
per read). It must be at most `max_reply_bytes` (read as it streams, never buffered past the
cap; compression is declined, so the bytes counted are the bytes parsed), and match the
chat-completions schema below, every log-probability a finite number at most 0. A reply that
fails the schema, or whose answer is not a label, is asked once more, then becomes that chunk's
TeacherFailure naming what was wrong; so does anything else that goes wrong with one chunk,
which never fails the others. The API key is sent in a header and appears nowhere else: not in
answers, logs or failures.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from upscway.settings import TeacherSettings
from upscway.tasks.annotate.distribution import LOGPROB_SLACK, label_distribution
from upscway.tasks.annotate.teacher import Answer, OnAnswer, TeacherFailure
from upscway.taxonomy import SoftLabel, TaskDefinition

LOGGER = logging.getLogger(__name__)


class _Retry(Exception):
    def __init__(self, reason: str, after_s: float | None = None):
        super().__init__(reason)
        self.after_s = after_s


class _Refused(Exception):
    """A whole reply that cannot be used (wrong shape, not a label): asked once more, then a failure."""


class _Strict(BaseModel):
    # No coercion ("1" is not a number, 7 is not a text), no NaN or infinity; unknown fields ignored.
    model_config = ConfigDict(strict=True, allow_inf_nan=False, frozen=True)


class _TopLogprob(_Strict):
    token: str
    logprob: float = Field(le=LOGPROB_SLACK)


class _TokenLogprobs(_TopLogprob):
    top_logprobs: list[_TopLogprob] | None = None


class _Logprobs(_Strict):
    content: list[_TokenLogprobs] | None = None


class _Message(_Strict):
    content: str | None = None


class _Choice(_Strict):
    message: _Message
    logprobs: _Logprobs | None = None


_TokenCount = Annotated[int, Field(ge=0, lt=2**31)]  # stored as INTEGER


class _Usage(_Strict):
    prompt_tokens: _TokenCount | None = None
    completion_tokens: _TokenCount | None = None


class _Reply(_Strict):
    """What is read of a chat completion; a reply that does not fit is refused, not guessed at."""

    choices: list[_Choice] = Field(min_length=1)
    usage: _Usage | None = None


def _parse(body: bytes) -> _Reply:
    """The reply validated; _Retry for a body that is not JSON (a cut-off reply), _Refused for
    JSON of the wrong shape, naming the first fields that are wrong."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise _Retry("malformed response body") from None
    try:
        return _Reply.model_validate(payload)
    except ValidationError as exc:
        wrong = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'reply'}: {e['msg']}" for e in exc.errors()[:3])
        raise _Refused(f"reply refused: {wrong}") from None


def _retry_after(value: str | None) -> float | None:
    """Seconds a `Retry-After` header asks for (a number or an HTTP date), or None when absent or
    unreadable: then the backoff alone decides."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


class OpenAITeacher:
    def __init__(self, task: TaskDefinition, settings: TeacherSettings, api_key: str | None = None):
        if not settings.base_url:
            raise ValueError("the openai teacher needs teacher.base_url (e.g. http://127.0.0.1:8000/v1)")
        self.task = task
        self.settings = settings
        self.annotator_id = f"openai:{settings.model}"
        self._secret = api_key or ""
        headers = {"Accept-Encoding": "identity", **({"Authorization": f"Bearer {api_key}"} if api_key else {})}
        self.client = httpx.Client(
            base_url=settings.base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(settings.timeout_s),
            limits=httpx.Limits(max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency),
        )
        self.requests_sent = 0
        self._count_lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def _body(self, text: str) -> dict:
        s = self.settings
        body = {
            "model": s.model,
            "messages": self.task.messages(text, rationale=s.rationale),
            "temperature": 0,
            "max_tokens": s.rationale_max_tokens if s.rationale else 1,
            "logprobs": True,
            "top_logprobs": s.top_logprobs,
        }
        if s.constrain_choices and not s.rationale:
            body["structured_outputs"] = {"choice": self.task.verbalizers}
        return body

    def _once(self, text: str) -> SoftLabel:
        """One request; raises _Retry for what is worth retrying, _Refused for a reply worth one
        more try, ValueError for a TeacherFailure."""
        started = time.perf_counter()
        with self._count_lock:
            self.requests_sent += 1
        reply = _parse(self._post(text))
        choice = reply.choices[0]
        content = choice.message.content or ""
        answer = content.strip()[:1]
        if answer not in self.task.verbalizers:
            raise _Refused(f"answer is not a label: {content[:40]}")
        probs, off = self._distribution(choice, answer)
        usage = reply.usage or _Usage()
        tokens_in, tokens_out = usage.prompt_tokens or 0, usage.completion_tokens or 0
        rationale = content.strip()[1:].strip() or None if self.settings.rationale else None
        return SoftLabel(
            probs=probs,
            rationale=rationale,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost=tokens_in / 1000 * self.settings.price_per_1k_input
            + tokens_out / 1000 * self.settings.price_per_1k_output,
            latency_s=time.perf_counter() - started,
            off_label_mass=off,
        )

    def _post(self, text: str) -> bytes:
        """The reply's body, read as it streams within the deadline and the size cap."""
        deadline = time.monotonic() + self.settings.timeout_s
        try:
            with self.client.stream("POST", "chat/completions", json=self._body(text)) as response:
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Retry(f"HTTP {response.status_code}", _retry_after(response.headers.get("retry-after")))
                body = self._read(response, deadline)
        except httpx.TimeoutException:
            raise _Retry(f"timed out after {self.settings.timeout_s:g}s") from None
        except httpx.TransportError as exc:
            raise _Retry(f"network error: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise ValueError(f"HTTP {response.status_code}: {body[:200].decode('utf-8', 'replace')}")
        return body

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        """The body, or ValueError past `max_reply_bytes` (declared or counted) or compressed,
        _Retry when it is not whole by `deadline`."""
        cap = self.settings.max_reply_bytes
        too_large = f"reply larger than teacher.max_reply_bytes ({cap} bytes)"
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise ValueError(f"reply compressed ({encoding}) though identity was asked for")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise ValueError(too_large)
        body = bytearray()
        for part in response.iter_raw():
            body += part
            if len(body) > cap:
                raise ValueError(too_large)
            if time.monotonic() > deadline:
                raise _Retry(f"reply not complete within {self.settings.timeout_s:g}s")
        return bytes(body)

    def _distribution(self, choice: _Choice, answer: str) -> tuple[list[float], float]:
        """(probabilities over the labels, off-label mass) from the first token's log-probabilities;
        without any (a server that gives none) the answer alone, as a one-hot label."""
        first = choice.logprobs.content[0] if choice.logprobs and choice.logprobs.content else None
        distribution = None
        if first is not None:
            listed = [(t.token, t.logprob) for t in first.top_logprobs or []] or [(first.token, first.logprob)]
            distribution = label_distribution(listed, self.task.verbalizers)
        if distribution is None:
            return [1.0 if v == answer else 0.0 for v in self.task.verbalizers], 0.0
        return distribution

    def _ask(self, text: str) -> Answer:
        """The chunk's answer, or its TeacherFailure: nothing raised here reaches the batch."""
        attempt, refused = 0, 0
        while True:
            try:
                return self._once(text)
            except _Refused as exc:
                refused += 1
                if refused > 1:
                    return TeacherFailure(self._redact(str(exc)))
            except _Retry as exc:
                attempt += 1
                if attempt > self.settings.max_retries:
                    return TeacherFailure(self._redact(f"{exc} (gave up after {attempt} attempts)"))
                delay = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** (attempt - 1))
                delay = delay * (0.5 + random.random() / 2)
                if exc.after_s is not None:
                    delay = max(delay, min(exc.after_s, self.settings.backoff_max_s))
                time.sleep(delay)
            except ValueError as exc:
                return TeacherFailure(self._redact(str(exc)))
            except Exception as exc:  # a bug or a reply nobody foresaw: this chunk's failure only
                return TeacherFailure(self._redact(f"{type(exc).__name__}: {exc}"))

    def annotate(self, texts: Sequence[str], on_answer: OnAnswer | None = None) -> list[Answer]:
        answers: list[Answer | None] = [None] * len(texts)

        def run(i: int) -> None:
            answers[i] = self._ask(texts[i])
            if on_answer:
                on_answer(i, answers[i])

        with ThreadPoolExecutor(max_workers=min(self.settings.concurrency, max(1, len(texts)))) as pool:
            list(pool.map(run, range(len(texts))))
        return answers  # type: ignore[return-value]
