# shared-skills: one image, three roles (migrate, authserver, mcpserver) chosen by command.
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/app/.venv
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
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin skills \
 && mkdir -p /data && chown skills /data
COPY --from=build /app/.venv /app/.venv
COPY --from=build /src/alembic.ini /app/alembic.ini
ENV PATH=/app/.venv/bin:$PATH SKILLS_DATA_DIR=/data PYTHONUNBUFFERED=1
WORKDIR /app
USER skills
EXPOSE 8000 9000
CMD ["mcpserver", "serve"]
