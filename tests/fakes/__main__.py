"""Run both fake providers and print the settings that point Roundtable at them.

    python -m tests.fakes [--fail-rate 0.3] [--delay 0.2]

Then start Roundtable with the printed variables (e.g. `eval` them, then `roundtable
serve`), call `connectCalendar`, and open the URL: the fake consent page signs in as the
`login_hint` given in the URL, or as demo@example.com, and returns to Roundtable's callback.
"""

from __future__ import annotations

import argparse
import time

from tests.fakes import google, microsoft
from tests.fakes.base import serving


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes", description=__doc__)
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share of API calls failing")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--google-port", type=int, default=0, help="default: a free port")
    parser.add_argument("--microsoft-port", type=int, default=0, help="default: a free port")
    args = parser.parse_args()

    fake_google, fake_microsoft = google.FakeGoogle(), microsoft.FakeMicrosoft()
    for fake in (fake_google, fake_microsoft):
        fake.faults.fail_randomly(args.fail_rate, seed=int(time.time()))
        fake.faults.delay = args.delay
    with (
        serving(fake_google.app, args.google_port) as g,
        serving(fake_microsoft.app, args.microsoft_port) as m,
    ):
        settings = {
            "ROUNDTABLE_GOOGLE_CLIENT_ID": google.CLIENT_ID,
            "ROUNDTABLE_GOOGLE_CLIENT_SECRET": google.CLIENT_SECRET,
            "ROUNDTABLE_GOOGLE_API_URL": f"{g.url}/calendar/v3/",
            "ROUNDTABLE_GOOGLE_AUTH_URL": f"{g.url}/o/oauth2/v2/auth",
            "ROUNDTABLE_GOOGLE_TOKEN_URL": f"{g.url}/token",
            "ROUNDTABLE_MICROSOFT_CLIENT_ID": microsoft.CLIENT_ID,
            "ROUNDTABLE_MICROSOFT_CLIENT_SECRET": microsoft.CLIENT_SECRET,
            "ROUNDTABLE_MICROSOFT_API_URL": f"{m.url}/",
            "ROUNDTABLE_MICROSOFT_AUTH_URL": f"{m.url}/common/oauth2/v2.0/authorize",
            "ROUNDTABLE_MICROSOFT_TOKEN_URL": f"{m.url}/common/oauth2/v2.0/token",
        }
        for name, value in settings.items():
            print(f"export {name}={value}")
        print("# fake Google and Microsoft Graph are running; Ctrl-C stops them", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
