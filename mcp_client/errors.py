"""The one error of the client: a step did not go as the specifications say."""


class FlowError(Exception):
    """A step of the flow did not go as the specifications say; the message says what was seen."""
