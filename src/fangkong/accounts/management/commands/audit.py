from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from fangkong.accounts import audit


class Command(BaseCommand):
    help = "Audit log: `verify` walks the hash chain; `head` prints the newest entry to publish."

    def add_arguments(self, parser):
        parser.add_argument("what", choices=["verify", "head"])
        parser.add_argument("--expect-head", default="", help="SEQ:HASH published earlier")

    def handle(self, *args, **options):
        if options["what"] == "head":
            seq, digest = audit.head()
            self.stdout.write(f"{seq}:{digest}")
            return
        expect = None
        if options["expect_head"]:
            seq, _, digest = options["expect_head"].partition(":")
            expect = (int(seq), digest)
        report = audit.verify(expect)
        if not report.ok:
            for problem in report.problems:
                self.stderr.write(problem)
            raise CommandError(
                f"audit chain BROKEN: {len(report.problems)} problem(s) in {report.checked} entries"
            )
        self.stdout.write(
            f"audit chain OK: {report.checked} entries, head {report.head_seq}:{report.head_hash}"
        )
