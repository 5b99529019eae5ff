"""Organisation sign-in through an upstream OpenID Connect provider (docs/sso.md).

The IdP only authenticates the person; this server stays the authorization server of the MCP clients.
client: the relying party (Authlib). provisioning: the Django user, just in time. backchannel: the IdP's
logout. views + urls: the pages.
"""
