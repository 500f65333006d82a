from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Register a scanner device for a venue and print its device token (or --revoke ID)."

    def add_arguments(self, parser):
        parser.add_argument("--venue", type=int)
        parser.add_argument("--label", default="")
        parser.add_argument("--days", type=int, default=366)
        parser.add_argument("--revoke", type=int, metavar="DEVICE_ID")

    def handle(self, *args, **options):
        from fangkong.ingest.device import issue_device, revoke_device
        from fangkong.venues.models import Venue

        if options["revoke"]:
            revoke_device(options["revoke"])
            self.stdout.write(f"scanner {options['revoke']} revoked")
            return
        venue = Venue.objects.filter(pk=options["venue"]).first() if options["venue"] else None
        if venue is None:
            raise CommandError("--venue ID of a registered venue is required")
        device, token = issue_device(
            venue, options["label"], lifetime=timedelta(days=options["days"])
        )
        self.stdout.write(f"scanner {device.pk} for venue {venue.pk}: {token}")
