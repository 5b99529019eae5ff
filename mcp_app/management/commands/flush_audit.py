"""Move the audit records queued in Redis to PostgreSQL (each gunicorn worker also does it every second)."""

import time

from django.core.management.base import BaseCommand

from mcp_app.audit import flush, reclaim


class Command(BaseCommand):
    help = "Flush queued audit records to the database; --every runs it as a sidecar for other servers."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, help="Keep flushing every this many seconds.")
        parser.add_argument("--reclaim-now", action="store_true",
                            help="Take back every claimed batch at once, even if its flusher may be alive "
                                 "(safe: a record stored twice is kept once).")

    def handle(self, *args, every, reclaim_now, **options):
        if reclaim_now:
            self.stdout.write(f"Reclaimed {reclaim(force=True)} record(s).")
        while True:
            self.stdout.write(f"Flushed {flush()} audit record(s).")
            if not every:
                return
            time.sleep(every)
