"""gunicorn's settings for the service (read from the folder gunicorn starts in, as
scripts/serve, scripts/cluster and scripts/load start it): what each worker process starts
once it has loaded `service.wsgi:app`."""

import sys

# Longer than any Retry-After the API advises (2 s, while a final PDF is being made), so a
# client that waits as told and asks again still finds its connection open.
keepalive = 5


def post_worker_init(worker):
    # Request threads wait for CPU-bound ones (filling a Word document for a preview,
    # assembling a final PDF) at every database or socket call; a shorter switch interval
    # than Python's 5 ms keeps a party's page from queueing behind them (scripts/load, with
    # previews).
    sys.setswitchinterval(0.0005)
    from service import wsgi

    wsgi.start(worker.wsgi)
