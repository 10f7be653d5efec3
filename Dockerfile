# shared-skills: one image, three roles (migrate, authserver, mcpserver) chosen by command.
# The build stage resolves uv.lock into a virtual environment; the runtime stage is the slim
# base plus that environment, running as an unprivileged user.
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/app/.venv UV_PYTHON_DOWNLOADS=never
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY authserver authserver
COPY mcpserver mcpserver
COPY shared shared
COPY migrations migrations
COPY alembic.ini ./
RUN uv sync --locked --no-dev --no-editable

FROM python:3.11-slim
LABEL org.opencontainers.image.title="shared-skills" \
      org.opencontainers.image.description="Team library of prompts and snippets over MCP, with its own OAuth 2.1 authorization server" \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --system --gid 10001 skills \
 && useradd --system --no-log-init --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin skills \
 && mkdir -p /data && chown 10001:10001 /data
COPY --from=build /app/.venv /app/.venv
COPY --from=build /src/alembic.ini /app/alembic.ini
ENV PATH=/app/.venv/bin:$PATH SKILLS_DATA_DIR=/data PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    SKILLS_AUTH_HOST=0.0.0.0 SKILLS_MCP_HOST=0.0.0.0
WORKDIR /app
# Numeric, so orchestrators can verify the user is not root (runAsNonRoot).
USER 10001:10001
EXPOSE 8000 9000
# Probes /healthz of whichever server this container runs (from PID 1's command line);
# a container running anything but `serve` (the migration, a CLI command) counts as healthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["python", "-c", "\
import os, urllib.request\n\
argv = open('/proc/1/cmdline', 'rb').read().split(b'\\0')\n\
if b'serve' in argv:\n\
    auth = any(arg.endswith(b'authserver') for arg in argv)\n\
    port = os.environ.get('SKILLS_AUTH_PORT', '9000') if auth else os.environ.get('SKILLS_MCP_PORT', '8000')\n\
    urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)\n\
"]
CMD ["mcpserver", "serve"]
