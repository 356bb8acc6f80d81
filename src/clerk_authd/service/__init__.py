"""The clerk_authd service: decision endpoints for proxies and services, on the Sanic SDK's pieces.

``app.create_app(settings)`` builds it; ``clerk-authd serve`` runs it. Nothing is imported here, so the
Sanic SDK (``clerk_authd.sanic``) can use ``service.answers`` without pulling in the whole service.
"""
