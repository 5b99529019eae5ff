"""What the tracing hook costs when OTEL_ENABLED is off: Call.run wrapped by mcp_app.tracing.traced
against the same function unwrapped, a million calls each, best of five. `python -m bench.tracing_hook`."""

import timeit

from mcp_app import tracing


class Call:
    def run(self):
        return None

    traced_run = tracing.traced(run)


def main(number: int = 1_000_000) -> None:
    call = Call()
    absent = min(timeit.repeat(call.run, number=number, repeat=5)) / number
    off = min(timeit.repeat(call.traced_run, number=number, repeat=5)) / number
    print(f"hook absent {absent * 1e9:.0f} ns, hook off {off * 1e9:.0f} ns: +{(off - absent) * 1e9:.0f} ns per call")


if __name__ == "__main__":
    main()
