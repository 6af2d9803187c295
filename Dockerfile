# Stalwart admin portal: a multi-stage image that runs as a non-root user.
FROM python:3.13-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN python -m venv /venv
COPY requirements.txt .
RUN /venv/bin/pip install -r requirements.txt
COPY manage.py ./
COPY portal ./portal
COPY sandbox ./sandbox
COPY templates ./templates
COPY locale ./locale
COPY static ./static
# collectstatic needs settings to load; this key exists only during the build.
RUN SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost /venv/bin/python manage.py collectstatic --noinput -v 0

FROM python:3.13-slim-bookworm
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN useradd --system --uid 10001 --home /app portal
WORKDIR /app
COPY --from=build /venv /venv
COPY --from=build --chown=portal:portal /app /app
RUN mkdir -p /app/var && chown portal:portal /app/var
USER portal
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
CMD ["sh", "-c", "python manage.py migrate --noinput && exec uvicorn portal.asgi:application --host 0.0.0.0 --port 8000 --proxy-headers"]
