"""`manage.py issue_token USERNAME`: print a new token and nothing else."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts import tokens
from accounts.models import User


class Command(BaseCommand):
    help = "Issue an API token for a user and print it (for operators' scripts)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--description", default="Issued by manage.py issue_token")
        parser.add_argument("--read-only", action="store_true")
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args, username, description, read_only, expires_in_days, **options):
        user = User.objects.filter(username__iexact=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        expires_at = None
        if expires_in_days is not None:
            if expires_in_days < 1:
                raise CommandError("--expires-in-days must be at least 1.")
            expires_at = timezone.now() + timedelta(days=expires_in_days)
        _, text = tokens.issue(
            user, description=description, read_only=read_only, expires_at=expires_at
        )
        self.stdout.write(text)
