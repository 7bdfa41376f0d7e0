"""`qa mcp`: the documents as tools for an MCP client (Claude Desktop, an IDE, an agent).

Built on the official `mcp` SDK (`MCPServer`). Tools: `search`, `ask`, `list_documents` and
`list_collections`, each (but the last) taking an optional collection. Results are structured (the
same fields as `qa search --json`, `qa ask --json`, `qa index status --json`'s sources), so a client
gets citations with their exact character offsets, not only prose.

Transports: stdio (the client starts `qa mcp` itself), or streamable HTTP with `--http` at
http://HOST:PORT/mcp. HTTP binds loopback by default; when QA_API_KEY is set every request must carry
it as `Authorization: Bearer KEY`, and any other host is refused without a key unless the operator
opts out explicitly (`--insecure-no-auth`).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import Field

from .collections import Collections
from .errors import QAError
from .schemas import AnswerJSON, DocumentJSON, PassageJSON
from .settings import is_loopback

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from starlette.types import ASGIApp, Receive, Scope, Send


log = logging.getLogger(__name__)

MAX_K = 50
ANSWERS_AT_ONCE = 2  # as the web chat: more at once only slows each one down on a laptop CPU
HTTP_PATH = "/mcp"
INSTRUCTIONS = (
    "Answers questions about the user's documents and cites the exact passages it rests on. Use `ask` for "
    "a question (it declines, with answerable=false, when the documents do not say: do not answer from "
    "your own knowledge then), `search` for the passages matching a query, `list_documents` to see what "
    "is there. Every citation gives the document (source) and character offsets (start, end) of the "
    "quoted text."
)

T = TypeVar("T")


Collection = Annotated[
    str | None, Field(description="The collection to use (see list_collections); omit for the default one.")
]
Sources = Annotated[
    list[str] | None, Field(description="Only these documents (source names from list_documents).")
]


def build_server(collections: Collections) -> MCPServer:
    """The MCP server over `collections` (its tools run in worker threads, two answers at a time)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server: MCPServer = MCPServer("qa", instructions=INSTRUCTIONS, log_level="WARNING")
    answering = threading.BoundedSemaphore(ANSWERS_AT_ONCE)

    def run(what: str, work: Callable[[], T]) -> T:
        """A tool's work: a QAError is the tool's one-line error; anything else is logged, not shown."""
        try:
            with answering:
                return work()
        except QAError as exc:
            raise ToolError(str(exc)) from None
        except Exception:
            log.exception("the %s tool failed", what)
            raise ToolError(f"{what} failed on the server; see its log") from None

    @server.tool(annotations=_read_only())
    def search(
        query: Annotated[str, Field(description="What to look for.")],
        k: Annotated[int, Field(ge=1, le=MAX_K, description="How many passages.")] = 5,
        sources: Sources = None,
        collection: Collection = None,
    ) -> list[PassageJSON]:
        """The passages of the documents that best match a query (dense and keyword search fused)."""
        return run(
            "search",
            lambda: [
                PassageJSON.of(p) for p in collections.get(collection).search(query, k=k, sources=sources)
            ],
        )

    @server.tool(annotations=_read_only())
    def ask(
        question: Annotated[str, Field(description="A question about the documents.")],
        sources: Sources = None,
        collection: Collection = None,
    ) -> AnswerJSON:
        """Answer a question from the documents, citing the exact passages; declines (answerable=false)
        when the documents do not say."""
        return run("ask", lambda: AnswerJSON.of(collections.get(collection).ask(question, sources=sources)))

    @server.tool(annotations=_read_only())
    def list_documents(collection: Collection = None) -> list[DocumentJSON]:
        """The indexed documents: source name, chunks, size in bytes, when added."""
        return run(
            "list_documents",
            lambda: [DocumentJSON.of(d) for d in collections.get(collection).documents()],
        )

    @server.tool(annotations=_read_only())
    def list_collections() -> list[str]:
        """The names of the document collections; the first is the default one."""
        return run("list_collections", collections.names)

    return server


def _read_only() -> Any:
    from mcp_types import ToolAnnotations

    return ToolAnnotations(read_only_hint=True, open_world_hint=False)


class BearerAuth:
    """Refuses (401, JSON, nothing else) any HTTP request without `Authorization: Bearer <key>`."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.expected = f"Bearer {key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        if hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "error": {
                    "type": "unauthorized",
                    "message": "missing or wrong API key; send QA_API_KEY as a Bearer token",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def check_exposure(host: str, api_key: str | None, insecure_no_auth: bool) -> None:
    """A QAError for a host other machines can reach when there is no key and no explicit opt-out."""
    if api_key or is_loopback(host):
        return
    if not insecure_no_auth:
        raise QAError(
            f"refusing to serve MCP on {host} without an API key: set QA_API_KEY "
            "(or serve on 127.0.0.1, or pass --insecure-no-auth on a trusted network)"
        )


def http_app(server: MCPServer, host: str, api_key: str | None, insecure_no_auth: bool) -> ASGIApp:
    """The streamable HTTP app at HTTP_PATH, behind the key whenever one is set."""
    check_exposure(host, api_key, insecure_no_auth)
    app: ASGIApp = server.streamable_http_app(streamable_http_path=HTTP_PATH, host=host)
    return BearerAuth(app, api_key) if api_key else app


def serve_stdio(collections: Collections) -> None:
    """Serve over stdin/stdout until the client closes them."""
    build_server(collections).run("stdio")


def serve_http(collections: Collections, host: str, port: int, api_key: str | None, insecure: bool) -> None:
    """Serve streamable HTTP on host:port until stopped."""
    import socket

    import uvicorn

    app = http_app(build_server(collections), host, api_key, insecure)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:  # bound here, not by uvicorn, which would exit the process with a log line instead of an error
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise QAError(
            f"cannot serve MCP on {host}:{port}: the port is in use or the address is not available here; "
            "choose another with --port or --host"
        ) from exc
    if not api_key and not is_loopback(host):
        log.warning("serving MCP on %s with no API key: anyone who can reach it can read the documents", host)
    log.warning("MCP over streamable HTTP on http://%s:%d%s", host, port, HTTP_PATH)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
