"""`runserver` that refuses an unsafe production configuration before it starts serving.

Django's own runserver runs the system checks inside the autoreloader, which reports the errors and
then waits for a file change: a process that never serves and never exits. Here the serious problems
(errors, which our configuration checks are in production) stop the command with exit status 1.
"""

from django.contrib.staticfiles.management.commands.runserver import Command as StaticfilesRunserverCommand
from django.core import checks


class Command(StaticfilesRunserverCommand):
    def handle(self, *args, **options):
        if not options["skip_checks"] and any(message.is_serious() for message in checks.run_checks()):
            self.check(display_num_errors=True)  # prints every problem, raises SystemCheckError
        super().handle(*args, **options)
