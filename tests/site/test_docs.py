"""/docs: Swagger UI over the OpenAPI schema, every asset served from this site (no CDN)."""

import json
import re

import yaml
from django.conf import settings
from django.contrib.staticfiles import finders

ASSET = re.compile(r'(?:src|href)="([^"]+)"')


def test_docs_renders_swagger_ui_pointing_at_the_local_schema(client):
    response = client.get("/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "SwaggerUIBundle" in page
    assert '"/docs/schema"' in page


def test_docs_loads_no_asset_from_another_site(client):
    page = client.get("/docs").content.decode()
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page)
    assert not re.search(r"cdn|unpkg|jsdelivr|cdnjs", page, re.IGNORECASE)


def test_every_docs_asset_is_a_static_file_of_this_site(client):
    assets = ASSET.findall(client.get("/docs").content.decode())
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    assert any(asset.endswith("swagger-ui.css") for asset in assets)
    for asset in assets:
        assert asset.startswith(settings.STATIC_URL), asset
        assert finders.find(asset.removeprefix(settings.STATIC_URL)), f"{asset} is not a local static file"


def test_docs_schema_returns_the_openapi_document(client):
    response = client.get("/docs/schema")
    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.")
    assert document["info"] == {"title": settings.SPECTACULAR_SETTINGS["TITLE"], "version": settings.VERSION,
                                "description": settings.SPECTACULAR_SETTINGS["DESCRIPTION"]}
    assert isinstance(document["paths"], dict)


def test_docs_schema_is_also_served_as_json(client):
    response = client.get("/docs/schema?format=json")
    assert response.status_code == 200
    assert json.loads(response.content)["openapi"].startswith("3.")
