from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError

from fangkong.accounts import actions


class Command(BaseCommand):
    help = "Create a staff account bound to a role and a jurisdiction (the first administrator)."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True)
        parser.add_argument("--jurisdiction", required=True, help="division code, e.g. 3502")
        parser.add_argument("--password", default=None, help="asked for when omitted")

    def handle(self, *args, **options):
        password = options["password"] or getpass.getpass("Password: ")
        data = {**options, "password": password}
        try:
            user = actions.do_create_account(None, actions.check_new_account(None, data))
        except actions.AccountInvalid as invalid:
            raise CommandError("; ".join(f"{k}: {v}" for k, v in invalid.errors.items())) from None
        self.stdout.write(f"created {user.username} ({user.role}, {user.jurisdiction_id})")
