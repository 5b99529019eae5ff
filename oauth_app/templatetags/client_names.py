"""`{{ application|client_display_name }}`: a client's name as the consent page may show it.

Names come from whoever registered the client (RFC 7591, CIMD documents, older rows), so they are
neutralised again here, at display, whatever was stored (oauth_app.text.display_name).
"""

from django import template

from oauth_app.text import display_name

register = template.Library()


@register.filter
def client_display_name(application) -> str:
    return display_name(application.name or "") or application.client_id
