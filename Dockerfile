# clerk-authd: the service, configured entirely from the environment (README "Configuration"):
#   docker build -t clerk-authd .
#   docker run --rm -p 8787:8787 -e CLERK_PUBLISHABLE_KEY=pk_... -e CLERK_SECRET_KEY=sk_... clerk-authd
#   docker run --rm -p 8787:8787 clerk-authd serve --dev      # no Clerk account (development issuer)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CLERK_AUTHD_HOST=0.0.0.0 \
    CLERK_AUTHD_PORT=8787 \
    CLERK_AUTHD_WORKERS=2 \
    CLERK_AUTHD_DEV_STATE=/tmp/clerk-authd

RUN groupadd --system --gid 10001 clerk-authd \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin clerk-authd

WORKDIR /app
COPY pyproject.toml README.md ./
COPY clerk_authd ./clerk_authd
RUN pip install . && rm -rf /app/clerk_authd /app/build

USER 10001:10001
EXPOSE 8787
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CLERK_AUTHD_PORT', '8787'), timeout=2)"
ENTRYPOINT ["clerk-authd"]
CMD ["serve"]
