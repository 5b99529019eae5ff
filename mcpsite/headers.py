"""Security headers Django's own middleware does not set."""

FRAME_ANCESTORS_NONE = "frame-ancestors 'none'"


class FrameAncestorsMiddleware:
    """`Content-Security-Policy: frame-ancestors 'none'` on HTML pages (login, consent, admin), the
    modern twin of `X-Frame-Options: DENY`: no other site may frame them to trick a click (clickjacking).
    A page that sets its own policy keeps it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html") and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = FRAME_ANCESTORS_NONE
        return response
