FROM python:3.11-slim
WORKDIR /srv/roundtable
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN pip install --no-cache-dir -e .
USER nobody
EXPOSE 8000 9191
CMD ["roundtable", "api", "--host", "0.0.0.0", "--port", "8000"]
