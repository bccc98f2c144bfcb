"""Run the fake provider on its own: ``python -m tests.fakes.serve [--port 8099]``.

Prints ``listening on <base url>`` once ready; point OPENAI_BASE_URL there to try
``redraw draw`` without a key or a network. The benchmarks start it this way so
its image encoding runs in another process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.spec import SpecValidator


async def serve(port: int, texture: bool, validate: bool) -> None:
    fake = FakeOpenAI(validator=SpecValidator() if validate else None, texture=texture)
    await fake.start(port)
    print(f"listening on {fake.base_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for name in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(name, stop.set)
    await stop.wait()
    await fake.close()
    if fake.spec_violations:
        print("spec violations:", *fake.spec_violations, sep="\n  ", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--texture", action="store_true", help="noisy images, as large as real pictures")
    parser.add_argument("--no-validate", action="store_true", help="skip the OpenAPI checks (benchmarks)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.texture, not args.no_validate))


if __name__ == "__main__":
    main()
