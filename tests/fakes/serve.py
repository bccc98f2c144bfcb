"""Run the fake provider on its own: ``python -m tests.fakes.serve [--port 8099]``.

Prints ``listening on <base url>`` once ready; point OPENAI_BASE_URL there to try
``redraw draw`` without a key or a network. The benchmarks start it this way so
its image encoding runs in another process.

Request bodies are checked against OpenAI's OpenAPI file when it is there
(``../shared/spec`` beside the clone, or ``REDRAW_OPENAPI_SPEC``); a clone on its
own runs without the check and says so on stderr (stdout's first line stays
``listening on …`` for the benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.spec import SpecValidator, spec_path


def validator(validate: bool) -> SpecValidator | None:
    if not validate:
        return None
    path = spec_path()
    if not path.is_file():
        print(
            f"no OpenAPI file at {path}: request bodies are not checked "
            "(put it there, or set REDRAW_OPENAPI_SPEC, to check them)",
            file=sys.stderr,
            flush=True,
        )
        return None
    print(f"checking request bodies against {path}", file=sys.stderr, flush=True)
    return SpecValidator(path)


async def serve(port: int, texture: bool, validate: bool) -> None:
    fake = FakeOpenAI(validator=validator(validate), texture=texture)
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
