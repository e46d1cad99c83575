"""django-structlog's request middleware, with the request id bound until the response is closed.

Django writes its "Bad Request: /path" and "Internal Server Error" lines after every middleware has returned, and
django-structlog clears the request's context as its middleware returns: those lines would carry no request id.
Here the context is put back as the middleware returns and cleared when Django closes the response
(`request_finished`), and cleared before each request starts, so no line of one request carries another's id.
"""

import structlog
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse
from django_structlog.middlewares import RequestMiddleware


def forget_the_request(**kwargs) -> None:
    structlog.contextvars.clear_contextvars()


class RequestLogMiddleware(RequestMiddleware):
    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        request_finished.connect(forget_the_request, dispatch_uid="config.request_log.forget_the_request")

    def prepare(self, request: HttpRequest) -> None:
        structlog.contextvars.clear_contextvars()
        super().prepare(request)

    def handle_response(self, request: HttpRequest, response: HttpResponse) -> None:
        context = structlog.contextvars.get_contextvars()
        super().handle_response(request, response)
        structlog.contextvars.bind_contextvars(**context)
