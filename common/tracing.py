"""OpenTelemetry for the whole site (OTEL_ENABLED): a span per HTTP request through Django's instrumentation
(the OAuth endpoints included; a W3C `traceparent` header becomes the parent), exported over OTLP when
`opentelemetry-exporter-otlp-proto-http` is installed (OTEL_EXPORTER_OTLP_ENDPOINT and the other standard
OTEL_* variables apply). A tracer provider set before us (`opentelemetry-instrument`, tests) is kept.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def configure() -> None:
    """Called once at start-up when OTEL_ENABLED (mcpsite's AppConfig.ready, before the middleware loads)."""
    from opentelemetry import trace
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):  # nobody configured one yet
        trace.set_tracer_provider(default_provider())
    DjangoInstrumentor().instrument()


def default_provider():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()  # service name and resource from OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        logger.warning("OTEL_ENABLED is on but no span exporter is installed "
                       "(pip install opentelemetry-exporter-otlp-proto-http): spans are dropped")
        return provider
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider
