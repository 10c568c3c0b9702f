"""A teacher behind any OpenAI-compatible chat-completions server (vLLM, SGLang, hosted Qwen).

One request per chunk: the static system prompt, the chunk last, temperature 0, one answer
token (or a few more for a rationale), `logprobs` with `top_logprobs`, and where the server
supports it the answer constrained to the label letters (vLLM >= 0.12 reads
`structured_outputs.choice`; older `guided_choice` is silently ignored there, which is why the
answer is always checked). Requests run `concurrency` at a time; 429, 5xx, timeouts and
malformed bodies are retried with exponential backoff and jitter, honouring `Retry-After`.
The API key is sent in a header and appears nowhere else: not in answers, logs or failures.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx

from upscway.settings import TeacherSettings
from upscway.tasks.annotate.distribution import label_distribution
from upscway.tasks.annotate.taxonomy import SoftLabel, TaskDefinition
from upscway.tasks.annotate.teacher import Answer, OnAnswer, TeacherFailure

LOGGER = logging.getLogger(__name__)


class _Retry(Exception):
    def __init__(self, reason: str, after_s: float | None = None):
        super().__init__(reason)
        self.after_s = after_s


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class OpenAITeacher:
    def __init__(self, task: TaskDefinition, settings: TeacherSettings, api_key: str | None = None):
        if not settings.base_url:
            raise ValueError("the openai teacher needs teacher.base_url (e.g. http://127.0.0.1:8000/v1)")
        self.task = task
        self.settings = settings
        self.annotator_id = f"openai:{settings.model}"
        self._secret = api_key or ""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
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
        """One request; raises _Retry for what is worth retrying, TeacherFailure-worthy ValueError otherwise."""
        started = time.perf_counter()
        with self._count_lock:
            self.requests_sent += 1
        try:
            response = self.client.post("chat/completions", json=self._body(text))
        except httpx.TimeoutException:
            raise _Retry(f"timed out after {self.settings.timeout_s:g}s") from None
        except httpx.TransportError as exc:
            raise _Retry(f"network error: {type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retry(f"HTTP {response.status_code}", _retry_after(response.headers.get("retry-after")))
        if response.status_code >= 400:
            raise ValueError(f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            payload = response.json()
            choice = payload["choices"][0]
            content = (choice.get("message") or {}).get("content") or ""
            logprobs = ((choice.get("logprobs") or {}).get("content") or [None])[0]
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise _Retry("malformed response body") from None
        answer = content.strip()[:1]
        if answer not in self.task.verbalizers:
            raise _NotALabel(content[:40])
        distribution = None
        if logprobs:
            top = [(t["token"], float(t["logprob"])) for t in logprobs.get("top_logprobs") or []]
            distribution = label_distribution(top or [(logprobs["token"], float(logprobs["logprob"]))], self.task.verbalizers)
        if distribution is None:
            # No usable logprobs (a server without them): the answer alone, as a one-hot label.
            probs, off = [1.0 if v == answer else 0.0 for v in self.task.verbalizers], 0.0
        else:
            probs, off = distribution
        usage = payload.get("usage") or {}
        tokens_in, tokens_out = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        rationale = content.strip()[1:].strip() or None if self.settings.rationale else None
        return SoftLabel(
            probs=probs,
            rationale=rationale,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost=tokens_in / 1000 * self.settings.price_per_1k_input + tokens_out / 1000 * self.settings.price_per_1k_output,
            latency_s=time.perf_counter() - started,
            off_label_mass=off,
        )

    def _ask(self, text: str) -> Answer:
        attempt, not_label = 0, 0
        while True:
            try:
                return self._once(text)
            except _NotALabel as exc:
                not_label += 1
                if not_label > 1:
                    return TeacherFailure(self._redact(f"answer is not a label: {exc}"))
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

    def annotate(self, texts: Sequence[str], on_answer: OnAnswer | None = None) -> list[Answer]:
        answers: list[Answer | None] = [None] * len(texts)

        def run(i: int) -> None:
            answers[i] = self._ask(texts[i])
            if on_answer:
                on_answer(i, answers[i])

        with ThreadPoolExecutor(max_workers=min(self.settings.concurrency, max(1, len(texts)))) as pool:
            list(pool.map(run, range(len(texts))))
        return answers  # type: ignore[return-value]


class _NotALabel(Exception):
    pass
