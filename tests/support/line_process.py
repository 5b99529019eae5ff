"""A child process spoken to in lines: wait (with a deadline) for the line you expect, answer on stdin.

For clients that ask a person something mid-flow (`mcp_selftest` without credentials, the SDK's
redirect handler): the test reads what they print and types the answer.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time


class LineProcess:
    def __init__(self, args: list[str], **popen_kwargs):
        # stderr joins stdout unless the caller sends it elsewhere (a file): one pipe, always drained by the
        # reader, so the child can never block on it.
        popen_kwargs.setdefault("stderr", subprocess.STDOUT)
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                                        **popen_kwargs)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of output

    def expect(self, predicate, timeout: float = 30.0) -> str:
        """The first next line for which predicate(line) is true."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no expected line within {timeout} s; output so far:\n{self.output()}") from None
            if line is None:
                raise AssertionError(f"the process ended without the expected line:\n{self.output()}")
            self.seen.append(line)
            if predicate(line):
                return line

    def send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def finish(self, timeout: float = 30.0) -> int:
        """Waits for the exit and collects the rest of the output; kills the process if it hangs."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the process did not exit within {timeout} s:\n{self.output()}") from None
        while (line := self.lines.get(timeout=5)) is not None:
            self.seen.append(line)
        return self.process.returncode

    def output(self) -> str:
        return "\n".join(self.seen)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
