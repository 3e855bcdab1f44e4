"""GapProtocol's handling of commands run behind ``workspace/executeCommand`` (LSP 3.17
§workspace_executeCommand, §cancelRequest), in process: pygls runs an async command as a task
of its own behind the request's future, so the protocol must hand that future to the command
(to stop on ``$/cancelRequest``) and forget the task when it ends."""

from __future__ import annotations

import asyncio
import json

from lsprotocol import types

from gap_ls.server import create_server


class _Sink:
    """A transport writer keeping what the server sends."""

    def __init__(self) -> None:
        self.messages: list[dict] = []

    def write(self, data: bytes) -> None:
        body = data.split(b"\r\n\r\n", 1)[-1]
        self.messages.append(json.loads(body))

    def close(self) -> None:
        pass


def _server():
    srv = create_server()
    sink = _Sink()
    srv.protocol.set_writer(sink)
    return srv, sink


def _run(srv, msg_id: str, command: str) -> None:
    srv.protocol._handle_request(msg_id, types.WORKSPACE_EXECUTE_COMMAND, types.ExecuteCommandParams(command=command, arguments=[]))


async def _until(cond, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_cancel_request_reaches_the_running_command_and_nothing_is_left_behind():
    srv, sink = _server()
    seen: dict = {}

    @srv.command("test.waitForCancel")
    async def _wait(ls, *args):
        request = ls.protocol.command_request()
        seen["request"] = request
        for _ in range(400):
            if request is not None and request.cancelled():
                seen["stopped"] = True
                return "stopped"
            await asyncio.sleep(0.005)
        return "ran to the end"

    _run(srv, "r1", "test.waitForCancel")
    await _until(lambda: "request" in seen)
    assert seen["request"] is not None and not seen["request"].done()
    srv.protocol._handle_cancel_notification("r1")
    await _until(lambda: seen.get("stopped", False))
    await _until(lambda: not srv.protocol._command_requests)
    answer = next(m for m in sink.messages if m.get("id") == "r1")
    assert answer["error"]["code"] == types.LSPErrorCodes.RequestCancelled
    assert srv.protocol._request_futures == {}  # pygls alone keeps the command task's entry


async def test_finished_commands_leave_no_pending_entries_and_none_outside_a_command():
    srv, sink = _server()

    @srv.command("test.quick")
    async def _quick(ls, *args):
        await asyncio.sleep(0)
        return ls.protocol.command_request() is not None

    for i in range(5):
        _run(srv, f"q{i}", "test.quick")
    await _until(lambda: sum(1 for m in sink.messages if str(m.get("id", "")).startswith("q")) == 5)
    assert [m["result"] for m in sink.messages if str(m.get("id", "")).startswith("q")] == [True] * 5
    await _until(lambda: not srv.protocol._command_requests)
    assert srv.protocol._request_futures == {}
    assert srv.protocol.command_request() is None  # the test's own task runs no command
