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
# The default SQLite database (var/portal.sqlite3) lives in this volume, so sessions and the
# audit trail outlive the container: mount it (docker run -v portal-data:/app/var ...), or set
# DATABASE_URL to PostgreSQL. Created before the volume is declared, so a new named volume
# starts out owned by the portal user.
RUN mkdir -p /app/var && chown portal:portal /app/var
VOLUME ["/app/var"]
USER portal
# PORTAL_PORT moves the listener (and the health check with it). FORWARDED_ALLOW_IPS: the
# addresses of the proxies whose X-Forwarded-For / X-Forwarded-Proto uvicorn believes
# (the sign-in throttle keys on the client address); the default trusts none but loopback.
ENV PORTAL_PORT=8000 FORWARDED_ALLOW_IPS=127.0.0.1
EXPOSE 8000
# /healthz answers before Django's host check, so the probe needs no ALLOWED_HOSTS entry.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os,sys,urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORTAL_PORT', '8000'), timeout=4).status != 200)"
CMD ["sh", "-c", "python manage.py migrate --noinput && exec uvicorn portal.asgi:application --host 0.0.0.0 --port \"${PORTAL_PORT:-8000}\" --proxy-headers --forwarded-allow-ips \"${FORWARDED_ALLOW_IPS:-127.0.0.1}\""]
