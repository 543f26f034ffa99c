# The pigallery app image: the web gallery/API under gunicorn by default; the same
# image runs `pigallery capture` (capture-sim) and `pigallery index create` (index).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIGALLERY_DATA_DIR=/var/lib/pigallery

WORKDIR /app
COPY . .
# The web extra brings Flask and gunicorn; the Pi-only and test extras stay out.
RUN pip install ".[web]" \
    && useradd --system --uid 10001 --home-dir /var/lib/pigallery pigallery \
    && mkdir -p /var/lib/pigallery \
    && chown pigallery /var/lib/pigallery

USER pigallery
EXPOSE 8000

# slim has no curl: ask /healthz with the standard library (non-2xx raises, exit 1).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# gthread workers: the live-update stream (/api/events) holds a thread per open gallery,
# asleep on its queue (one Redis subscription per worker feeds them all), so a sync worker
# would be tied up by one browser tab. 256 threads a worker: 200 open galleries plus the API
# even if most land in one worker; idle threads are started only when needed
# (scripts/bench_viewers.py: API p50 1.09x with 200 streams open, no timeouts). gunicorn.conf.py
# lets long URLs through to the app and makes gunicorn's own errors JSON like the app's.
CMD ["gunicorn", "--config", "gunicorn.conf.py", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--workers", "2", "--threads", "256", "--access-logfile", "-", "pigallery.wsgi:create_app()"]
