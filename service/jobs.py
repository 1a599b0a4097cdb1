"""Background work through Huey. With SQLite its queue is a SQLite file beside the
database and needs no server; with PostgreSQL the queue lives in the same database
(LISTEN/NOTIFY, SKIP LOCKED), so consumers on many machines share one queue.

Each app gets its own Huey bound to its configuration. The embedded default runs the
consumer as threads inside the service process (`start_consumer`); on many machines
`flask --app service worker` runs it on its own and web hosts run none. Every minute a
periodic sweep re-enqueues final PDFs and accession records that a crash may have lost between
a confirmation's commit and the enqueue, makes the registers of parties that are due, sends the
reminders that are due, removes what the retention rules say is due (retention.py), resumes the
links of accession lists a restart interrupted, and picks up webhook deliveries that are due
(their state lives in the database, not in the queue); every consumer schedules it, and a claim
in the queue's storage lets one per minute run.
"""

import logging
import time

from huey import PostgresHuey, SqliteHuey, crontab
from huey.consumer import Consumer
from sqlalchemy.engine import make_url

from . import accession, accession_records, audit, final, mail, party_register, retention, webhooks

log = logging.getLogger(__name__)


class _EmbeddedConsumer(Consumer):
    """A consumer living inside the web process: the server owns the signal handlers."""

    def _set_signal_handlers(self):
        pass


def make_huey(config):
    """PostgreSQL storage when the database is PostgreSQL, else a SQLite file."""
    url = make_url(config["DATABASE_URL"])
    if url.get_backend_name() == "postgresql":
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresHuey("avtal", dsn=dsn, results=False)
    return SqliteHuey("avtal", filename=config["JOBS_PATH"], results=False)


class Jobs:
    def __init__(self, app):
        self.app = app
        self.huey = make_huey(app.config)
        self.consumer = None
        # Retried by the sweep, at most final.MAX_ATTEMPTS times for each state of an agreement.
        self.assemble_task = self.huey.task(name="assemble_final")(self._assemble)
        self.accession_task = self.huey.task(retries=3, retry_delay=30, name="accession_links")(self._send_accession)
        # Missing records and due registers are also found by the sweep, so a lost job is made up for.
        self.record_task = self.huey.task(retries=3, retry_delay=30, name="accession_record")(self._make_record)
        self.register_task = self.huey.task(name="party_register")(self._make_register)
        self.huey.periodic_task(crontab(minute="*"), name="sweep")(self._periodic_sweep)
        # webhooks go ahead of queued final PDFs: a delivery takes milliseconds, LibreOffice seconds
        self.fan_out_task = self.huey.task(name="webhook_fan_out", priority=10)(self._fan_out)
        self.deliver_task = self.huey.task(name="webhook_deliver", priority=10)(self._deliver)
        webhooks.watch_for_events(app.extensions["db"].Session, self.fan_out_task)

    def _assemble(self, agreement_id):
        app = self.app
        db = app.extensions["db"]
        with app.app_context():
            try:
                document = final.assemble_final(*self._documents(), agreement_id)
            except Exception as exc:  # whatever failed, the attempt counts
                log.exception("final PDF of agreement %s failed", agreement_id)
                if final.record_failure(db, agreement_id, exc) == final.MAX_ATTEMPTS:
                    mail.send_final_failed_notice(app, agreement_id)
                return
            if document is not None:
                mail.send_final_links(app, document.id)
                mail.send_final_to_officials(app, document.id)

    def _send_accession(self, accession_id):
        with self.app.app_context():
            accession.join_and_send(self.app, accession_id)

    def enqueue_accession(self, accession_id):
        self.accession_task(accession_id)

    def _make_record(self, confirmation_id):
        app = self.app
        with app.app_context():
            record = accession_records.make_record(*self._documents(), confirmation_id)
            if record is not None:
                mail.send_accession_record(app, record.id)

    def enqueue_record(self, confirmation_id):
        self.record_task(confirmation_id)

    def _make_register(self, agreement_id, actor_name="system"):
        with self.app.app_context():
            party_register.make(*self._documents(), agreement_id, audit.Actor(actor_name))

    def enqueue_register(self, agreement_id, actor_name="system"):
        self.register_task(agreement_id, actor_name)

    def _documents(self):
        """What making a sealed document takes: the database, the files, LibreOffice, the seal."""
        ext = self.app.extensions
        return ext["db"], ext["files"], ext["office"], ext["seal"]

    def enqueue_final(self, agreement_id):
        """Queue the final PDF, unless it is already waiting in the queue."""
        if agreement_id not in self._queued_finals():
            self.assemble_task(agreement_id)

    def _queued_finals(self) -> set[int]:
        return {task.args[0] for task in self.huey.pending() if task.name == "assemble_final"}

    def _periodic_sweep(self):
        if self._claim_this_minute():
            self.sweep()

    def sweep(self):
        app = self.app
        with app.extensions["db"].session() as session:
            missing = final.agreements_missing_final(session)
        for agreement_id in missing:
            self.enqueue_final(agreement_id)
        mail.send_reminders(app)
        retention.run(app)
        mail.send_deadline_notices(app)
        mail.send_daily_summaries(app)
        with app.extensions["db"].session() as session:
            sending = accession.unfinished(session)
        for accession_id in sending:  # a restart lost their job; the claims make a rerun safe
            self.enqueue_accession(accession_id)
        with app.extensions["db"].session() as session:
            unrecorded = accession_records.missing_records(session)
            registers = party_register.due(session)
        for confirmation_id in unrecorded:  # a crash between a confirmation and its record
            self.enqueue_record(confirmation_id)
        for agreement_id in registers:
            self.enqueue_register(agreement_id)
        self._fan_out()
        with app.extensions["db"].session() as session:
            due = webhooks.due_deliveries(session)
        for delivery_id in due:
            self.deliver_task(delivery_id)

    def _fan_out(self):
        """Turn new audit events into deliveries and start each one."""
        db = self.app.extensions["db"]
        with db.session() as session:
            created = webhooks.fan_out(session, self.app.config["PUBLIC_URL"])
            more = webhooks.has_more_to_fan_out(session)
        for delivery_id in created:
            self.deliver_task(delivery_id)
        if more:
            self.fan_out_task()

    def webhook_policy(self) -> webhooks.Policy:
        config = self.app.config
        return webhooks.Policy(
            attempts=config["WEBHOOK_ATTEMPTS"],
            first_retry=config["WEBHOOK_FIRST_RETRY"],
            timeout=config["WEBHOOK_TIMEOUT"],
        )

    def _deliver(self, delivery_id):
        outcome = webhooks.deliver(self.app.extensions["db"], delivery_id, self.webhook_policy())
        if outcome.retry_in is not None:
            self.deliver_task.schedule(args=(delivery_id,), delay=outcome.retry_in)

    def _claim_this_minute(self) -> bool:
        """True for the first sweep of this minute across every consumer sharing the queue."""
        minute = int(time.time() // 60)
        storage = self.huey.storage
        storage.pop_data(f"sweep:{minute - 2}")  # the claims are only needed briefly
        return storage.put_if_empty(f"sweep:{minute}", b"1")

    def run_worker(self, workers):
        """Run the consumer in the foreground until SIGTERM or SIGINT (`flask worker`)."""
        consumer = Consumer(self.huey, workers=workers, worker_type="thread", periodic=True)
        self.sweep()  # pick up what a crash left behind without waiting a minute
        consumer.run()

    def start_consumer(self, workers=1):
        """Run queued and periodic jobs in threads of this process; returns at once."""
        if self.consumer is None:
            self.consumer = _EmbeddedConsumer(
                self.huey,
                workers=workers,
                periodic=True,
                check_worker_health=False,
                max_delay=self.app.config["JOBS_POLL_MAX_SECONDS"],  # an idle queue is still looked at this often
            )
            self.consumer.start()
            self.sweep()  # pick up what a crash left behind without waiting a minute

    def stop_consumer(self):
        if self.consumer is not None:
            self.consumer.stop(graceful=True)
            self.consumer = None

    def pending(self) -> int:
        return self.huey.pending_count()

    def close(self):
        self.stop_consumer()
        self.huey.storage.close()
