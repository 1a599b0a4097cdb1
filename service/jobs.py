"""Background work through Huey. Its SQLite storage keeps queued jobs across restarts
and needs no server; RedisHuey would let consumers on many machines share the work.

Each app gets its own Huey bound to its configuration. The embedded default runs the
consumer as threads inside the service process (`start_consumer`); every minute a
periodic sweep re-enqueues final PDFs that a crash may have lost between the last
confirmation's commit and the enqueue, and sends the reminders that are due.
"""

import logging

from huey import SqliteHuey, crontab
from huey.consumer import Consumer

from . import final, mail

log = logging.getLogger(__name__)


class _EmbeddedConsumer(Consumer):
    """A consumer living inside the web process: the server owns the signal handlers."""

    def _set_signal_handlers(self):
        pass


class Jobs:
    def __init__(self, app):
        self.app = app
        self.huey = SqliteHuey("avtal", filename=app.config["JOBS_PATH"], results=False)
        self.consumer = None
        self.assemble_task = self.huey.task(retries=3, retry_delay=10, name="assemble_final")(self._assemble)
        self.huey.periodic_task(crontab(minute="*"), name="sweep")(self.sweep)

    def _assemble(self, agreement_id):
        app = self.app
        with app.app_context():
            final.assemble_final(app.extensions["db"], app.extensions["files"], app.extensions["office"], agreement_id)

    def enqueue_final(self, agreement_id):
        self.assemble_task(agreement_id)

    def sweep(self):
        app = self.app
        with app.extensions["db"].session() as session:
            missing = final.agreements_missing_final(session)
        for agreement_id in missing:
            self.enqueue_final(agreement_id)
        mail.send_reminders(app)

    def start_consumer(self, workers=1):
        """Run queued and periodic jobs in threads of this process; returns at once."""
        if self.consumer is None:
            self.consumer = _EmbeddedConsumer(self.huey, workers=workers, periodic=True, check_worker_health=False)
            self.consumer.start()
            self.sweep()  # pick up what a crash left behind without waiting a minute

    def stop_consumer(self):
        if self.consumer is not None:
            self.consumer.stop(graceful=True)
            self.consumer = None

    def pending(self) -> int:
        return self.huey.pending_count()
