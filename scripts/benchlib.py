"""What the benchmark scripts share: timing calls in milliseconds, and a fresh app to time."""

import os
import statistics
import sys
import time

from service import create_app, users
from service import migrate as migrations
from service.schema import luhn_ok


def timed(fn):
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def medians(probes, runs, digits=1) -> dict[str, float]:
    """The median milliseconds of each probe (name -> call). Each run times every probe once,
    so a noisy moment on a shared machine falls on all of them alike; each run goes to stderr."""
    samples = {name: [] for name in probes}
    for run in range(runs):
        for name, probe in probes.items():
            samples[name].append(timed(probe))
        print(f"run {run + 1}/{runs}", {k: round(v[-1], digits) for k, v in samples.items()}, file=sys.stderr)
    return {name: round(statistics.median(times), digits) for name, times in samples.items()}


def migrated_app(instance, config=None, office=None):
    """The app on a new instance folder with its database migrated, as a fresh installation has it."""
    os.environ["AVTAL_INSTANCE"] = str(instance)
    app = create_app(config, office=office)
    migrations.upgrade(app.extensions["db"])
    return app


def drafting_official(session, email="bench@example.se"):
    """The official who drafts and sends the bench's agreements in the domain (made on first use)."""
    return users.user_by_email(session, email) or users.create_user(
        session, email, "official", users.generate_password()
    )


def official(db, email="bench@example.se"):
    """A new official: (user, password, API token)."""
    password = users.generate_password()
    with db.session() as session:
        user = users.create_user(session, email, "official", password)
        token = users.issue_api_token(session, user)
    return user, password, token


def org_number(first_nine: str) -> str:
    """A valid organisationsnummer, NNNNNN-NNNN, from nine digits and the check digit that makes it pass."""
    check = next(d for d in "0123456789" if luhn_ok(first_nine + d))
    return f"{first_nine[:6]}-{first_nine[6:]}{check}"
