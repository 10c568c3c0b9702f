"""A loopback OpenAI-compatible server (`POST /v1/chat/completions` with logprobs) whose
behaviour a test scripts: normal answers, 429 with Retry-After, 500, answers slower than the
client's timeout, malformed JSON, answers that are not a label, and hostile replies (numbers
that are not finite, the wrong shape, a reply trickled slowly or too large). It counts what it
receives."""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LETTERS = ["A", "B", "C", "D", "E"]
_CHUNK = re.compile(r"<chunk>\n(.*)\n</chunk>", re.S)


def hashed_label(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest(), 16) % len(LETTERS)


def completion(letter: str, p: float = 0.7, content: str | None = None, tokens_in: int = 120) -> dict:
    """A chat completion answering `letter` with probability `p`, as vLLM shapes it."""
    rest = [other for other in LETTERS if other != letter]
    top = [{"token": letter, "logprob": math.log(p)}, {"token": " " + letter, "logprob": math.log(0.05)}]
    top += [{"token": other, "logprob": math.log((1 - p - 0.07) / len(rest))} for other in rest]
    top.append({"token": "The", "logprob": math.log(0.02)})
    return {
        "id": "cmpl-test",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content if content is not None else letter},
                "logprobs": {"content": [{"token": letter, "logprob": math.log(p), "top_logprobs": top}]},
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": tokens_in, "completion_tokens": 1, "total_tokens": tokens_in + 1},
    }


def _set(path: tuple, value) -> Callable[[dict], None]:
    def mutate(reply: dict) -> None:
        node = reply
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _every_logprob(value: float) -> Callable[[dict], None]:
    def mutate(reply: dict) -> None:
        first = reply["choices"][0]["logprobs"]["content"][0]
        first["logprob"] = value
        for entry in first["top_logprobs"]:
            entry["logprob"] = value

    return mutate


_FIRST = ("choices", 0, "logprobs", "content", 0)
# Well-formed JSON that no honest server sends: each edits a normal completion.
HOSTILE_REPLIES: dict[str, Callable[[dict], None]] = {
    "nan-logprobs": _every_logprob(math.nan),
    "one-nan-logprob": _set((*_FIRST, "top_logprobs", 2, "logprob"), math.nan),
    "infinite-logprob": _set((*_FIRST, "top_logprobs", 1, "logprob"), math.inf),
    "logprob-1000": _set((*_FIRST, "top_logprobs", 0, "logprob"), 1000.0),
    "top-logprobs-strings": _set((*_FIRST, "top_logprobs"), ["A", "B"]),
    "no-token": lambda reply: reply["choices"][0]["logprobs"]["content"][0].pop("token"),
    "content-int": _set(("choices", 0, "message", "content"), 7),
    "usage-list": _set(("usage",), []),
    "usage-huge": _set(("usage", "prompt_tokens"), 10**30),
}


def hostile(name: str, letter: str) -> bytes:
    """A completion answering `letter`, spoilt the way `name` in HOSTILE_REPLIES says."""
    reply = completion(letter)
    HOSTILE_REPLIES[name](reply)
    return json.dumps(reply).encode()  # json writes NaN and Infinity, as a careless server would


def trickled(payload: bytes, seconds: float, pieces: int = 20):
    """`payload` in `pieces` parts spread over `seconds`: every read returns quickly, the whole slowly."""
    size = -(-len(payload) // pieces)
    for start in range(0, len(payload), size):
        yield payload[start : start + size]
        time.sleep(seconds / pieces)


def padded(payload: bytes, total_bytes: int, piece: int = 1 << 16):
    """Valid JSON of about `total_bytes`: `payload` with a long padding member, made piece by piece."""
    yield b'{"padding": "'
    for _ in range(max(0, total_bytes - len(payload)) // piece):
        yield b"x" * piece
    yield b'", ' + payload[1:]


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address) -> None:
        pass


class OpenAIServer:
    """`script` is a list of behaviours used, in order, for the first requests; then `default`.

    A behaviour is one of: "ok", "429", "500", "slow", "malformed", "not-label", "trickle"
    (the reply spread over `trickle_s`), "huge" (a reply of `huge_bytes`, sent without a
    length), a name in HOSTILE_REPLIES, or a callable taking the chunk text and returning
    (status, headers, body): bytes, or an iterable of bytes sent as it comes, without a length.
    """

    def __init__(self, latency_s: float = 0.0, label_for: Callable[[str], int] = hashed_label):
        self.latency_s = latency_s
        self.label_for = label_for
        self.script: list = []
        self.default = "ok"
        self.slow_s = 3.0
        self.trickle_s = 5.0
        self.huge_bytes = 64 << 20
        self.retry_after = "1"
        self.per_text: Counter[str] = Counter()
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = (
                True  # headers and body go out as two writes; without this a 40 ms delayed-ACK stall follows
            )

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                user = body.get("messages", [{}])[-1].get("content", "")
                match = _CHUNK.search(user)
                text = match.group(1) if match else user
                with server._lock:
                    server.per_text[text] += 1
                    server.bodies.append(body)
                    server.headers.append(dict(self.headers))
                    behaviour = server.script.pop(0) if server.script else server.default
                status, headers, payload = server._respond(behaviour, text)
                streamed = not isinstance(payload, bytes)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    if streamed:  # no length: the body ends when the connection closes
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    else:
                        self.send_header("Content-Length", str(len(payload)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    for piece in payload if streamed else [payload]:
                        self.wfile.write(piece)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = _Quiet(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _respond(self, behaviour, text: str) -> tuple[int, dict, Iterable[bytes]]:
        if callable(behaviour):
            return behaviour(text)
        if self.latency_s:
            time.sleep(self.latency_s)
        if behaviour == "429":
            return 429, {"Retry-After": self.retry_after}, b'{"error": "rate limited"}'
        if behaviour == "500":
            return 500, {}, b'{"error": "internal"}'
        if behaviour == "malformed":
            return 200, {}, b'{"choices": [ {"message": '
        if behaviour == "slow":
            time.sleep(self.slow_s)
        letter = LETTERS[self.label_for(text)]
        if behaviour in HOSTILE_REPLIES:
            return 200, {}, hostile(behaviour, letter)
        if behaviour == "trickle":
            return 200, {}, trickled(json.dumps(completion(letter)).encode(), self.trickle_s)
        if behaviour == "huge":
            return 200, {}, padded(json.dumps(completion(letter)).encode(), self.huge_bytes)
        if behaviour == "not-label":
            return 200, {}, json.dumps(completion(letter, content="Sure! The answer is")).encode()
        return 200, {}, json.dumps(completion(letter)).encode()

    @property
    def requests(self) -> int:
        with self._lock:
            return sum(self.per_text.values())

    def __enter__(self) -> OpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main() -> None:
    """Serve on 127.0.0.1 until killed: `python -m tests.support.openai_server --latency 0.1`.

    GET /stats answers {"requests": N}, so a benchmark in another process can count requests.
    """
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    server = OpenAIServer(latency_s=args.latency)
    handler = server.httpd.RequestHandlerClass

    def do_GET(self) -> None:
        payload = json.dumps({"requests": server.requests}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    handler.do_GET = do_GET
    with open(args.port_file, "w") as out:
        out.write(str(server.httpd.server_address[1]))
    server.httpd.serve_forever()


if __name__ == "__main__":
    main()
