# Cove on the embedded defaults (or on Redis and S3 through COVE_* settings).
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 cove
WORKDIR /opt/cove
COPY pyproject.toml README.md ./
COPY requirements requirements
COPY api api
COPY schema schema
COPY resolvers resolvers
COPY persistence persistence
COPY crypto crypto
COPY integrations integrations
# Exact versions and hashes from the committed lock, then Cove itself without resolving again.
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements/runtime.lock \
    && pip install --no-cache-dir --no-deps --no-build-isolation . && mkdir -p /data && chown cove /data
USER cove
EXPOSE 8000
CMD ["cove", "serve", "--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data"]
