"""The service ring: the decision endpoints for proxies and services, their operations, logs and metrics.

``app.create_app(settings)`` builds the Sanic app; ``clerk-authd serve`` runs it. Each route builds the request
view, asks the worker's ``ClerkRuntime`` for a verdict and answers it with ``sanic.answers.AnswerPolicy``.
"""
