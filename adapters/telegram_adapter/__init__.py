"""The Telegram adapter (python-telegram-bot 22). Not named ``telegram``: that would
shadow the library."""

import os

# PTB 22 is moving time periods (RetryAfter.retry_after, …) from int seconds to
# timedelta and warns until one opts in. Nothing here reads them; opting in now
# means PTB 23 changes nothing.
os.environ.setdefault("PTB_TIMEDELTA", "1")
