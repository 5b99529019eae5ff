# The MCP server on gunicorn. Build: docker build -t mcp-server .
# Run it with docker-compose.yml (PostgreSQL, Redis, nginx), or alone with an .env:
#   docker run -p 8080:8080 --env-file .env mcp-server
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=8080

WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .

# Static files (Swagger UI, admin) collected at build time; nginx serves them from the shared volume.
RUN python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --user-group --home-dir /app --no-create-home mcpserver \
    && mkdir -p /app/data \
    && chown -R mcpserver:mcpserver /app/data /app/staticfiles

USER mcpserver

EXPOSE 8080

HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8080')}/health\", timeout=4)"]

CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "mcpsite.wsgi:application"]
