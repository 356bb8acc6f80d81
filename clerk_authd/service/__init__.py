"""The clerk_authd service: decision endpoints for proxies and services, on the runtime the Sanic SDK shares.

``app.create_app(settings)`` builds it; ``clerk-authd serve`` runs it. Nothing is imported here, so the
runtime (``clerk_authd.clerk.runtime``) and the Sanic SDK can use ``service.answers`` without pulling in the whole
service.
"""
