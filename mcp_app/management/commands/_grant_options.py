"""The arguments grant_tool and revoke_tool share."""

from mcp_app.models import ItemKind


def add_grant_arguments(parser) -> None:
    parser.add_argument("name", help="Tool or prompt name, resource URI or URI template.")
    parser.add_argument("--kind", choices=ItemKind.values, default=ItemKind.TOOL, help="What NAME is (default: tool).")
    grantee = parser.add_mutually_exclusive_group(required=True)
    grantee.add_argument("--group", help="A group name.")
    grantee.add_argument("--user", help="A username.")
    grantee.add_argument("--client", help="A client_id: its client-credentials tokens (no user).")
