"""Every uvicorn name the seam relies on beyond uvicorn's documented `Config` and `Server.run`.

Methods overridden or called, attributes read or written, as (class, name); checked by
tests/serving/uvicorn_seam/test_uvicorn_contract.py against the installed uvicorn. Kept apart
from the protocol so that each module stays one job.
"""

from __future__ import annotations

from typing import Final

UVICORN_CONTRACT: Final = (
    ("HttpToolsProtocol", "connection_made"),
    ("HttpToolsProtocol", "connection_lost"),
    ("HttpToolsProtocol", "data_received"),
    ("HttpToolsProtocol", "on_message_begin"),
    ("HttpToolsProtocol", "on_headers_complete"),
    ("HttpToolsProtocol", "on_body"),
    ("HttpToolsProtocol", "on_message_complete"),
    ("HttpToolsProtocol", "on_response_complete"),
    ("HttpToolsProtocol", "pause_writing"),
    ("HttpToolsProtocol", "resume_writing"),
    ("HttpToolsProtocol", "_unset_keepalive_if_required"),
    ("HttpToolsProtocol", "_start_asgi_task"),
    ("HttpToolsProtocol", "send_400_response"),
    ("HttpToolsProtocol", "shutdown"),
    ("HttpToolsProtocol", "parser"),
    ("HttpToolsProtocol", "cycle"),
    ("HttpToolsProtocol", "pipeline"),
    ("HttpToolsProtocol", "flow"),
    ("FlowControl", "write_paused"),
    ("HttpToolsProtocol", "transport"),
    ("HttpToolsProtocol", "loop"),
    ("HttpToolsProtocol", "logger"),
    ("HttpToolsProtocol", "client"),
    ("HttpToolsProtocol", "server_state"),
    ("HttpToolsProtocol", "timeout_keep_alive"),
    ("HttpToolsProtocol", "timeout_keep_alive_task"),
    ("RequestResponseCycle", "keep_alive"),
    ("RequestResponseCycle", "response_started"),
    ("RequestResponseCycle", "response_complete"),
    ("RequestResponseCycle", "disconnected"),
    ("RequestResponseCycle", "message_event"),
    ("RequestResponseCycle", "transport"),
    ("RequestResponseCycle", "chunked_encoding"),
    ("RequestResponseCycle", "expected_content_length"),
    ("RequestResponseCycle", "scope"),
    ("RequestResponseCycle", "body"),
    ("RequestResponseCycle", "more_body"),
    ("RequestResponseCycle", "waiting_for_100_continue"),
    ("RequestResponseCycle", "on_response"),
    ("Config", "ssl"),
    ("Server", "handle_exit"),
    ("Server", "on_tick"),
    ("Server", "startup"),
    ("Server", "shutdown"),
    ("Server", "server_state"),
    ("Server", "servers"),
    ("Server", "lifespan"),
    ("Server", "started"),
    ("Server", "should_exit"),
    ("Server", "force_exit"),
    ("ServerState", "connections"),
    ("ServerState", "tasks"),
    ("ServerState", "total_requests"),
    ("ServerState", "default_headers"),
    ("module httptools_impl", "STATUS_LINE"),
)
