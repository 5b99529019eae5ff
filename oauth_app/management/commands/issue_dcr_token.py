"""Issue an initial access token for dynamic client registration (RFC 7591 section 3)."""

from django.core.management.base import BaseCommand, CommandError

from oauth_app.registration import dcr_token_issue, parse_duration


class Command(BaseCommand):
    help = "Issue an initial access token for /oauth/register. The token is printed once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="What the token is for, e.g. servicenow-prod.")
        parser.add_argument("--expires-in", help="Lifetime such as 30m, 12h, 7d or 2w (default: no expiry).")
        parser.add_argument("--max-uses", type=int, help="Number of registrations allowed (default: unlimited).")

    def handle(self, *args, name, expires_in, max_uses, **options):
        try:
            lifetime = parse_duration(expires_in) if expires_in else None
            token, raw = dcr_token_issue(name=name, expires_in=lifetime, max_uses=max_uses,
                                         actor="command:issue_dcr_token")
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M:%S} UTC" if token.expires_at else "never expires"
        uses = f"{max_uses} use(s)" if max_uses else "unlimited uses"
        self.stdout.write(f"Initial access token {token.pk} '{name}': {expiry}, {uses}.")
        self.stdout.write("Send it as 'Authorization: Bearer <token>' to /oauth/register. It is not shown again:")
        self.stdout.write(raw)
