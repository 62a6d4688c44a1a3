FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml ./
COPY . .
RUN pip install --upgrade pip && pip install -e . \
    && useradd --system --home /app penguinmon \
    && mkdir -p /app/var && chown penguinmon /app/var
USER penguinmon
# collectstatic needs settings but no database: point it at a dummy URL it never opens.
RUN DATABASE_URL=postgres://x@127.0.0.1:1/x REDIS_URL=redis://127.0.0.1:1/0 SECRET_KEY=build \
    STATIC_ROOT=/app/var/staticfiles python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "penguinmon.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
