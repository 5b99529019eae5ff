import requests


def test_gunicorn_serves_health_with_database_and_cache(base_url):
    response = requests.get(f"{base_url}/health", timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["checks"] == {"database": "ok", "cache": "ok"}
    assert response.headers["X-Request-ID"]
