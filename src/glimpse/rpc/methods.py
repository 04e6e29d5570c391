"""The service-layer calls the RPC server answers, by method name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from glimpse.context import RequestContext
from glimpse.domain.patch import Dialect, parse_patch
from glimpse.domain.queries import parse_image_query
from glimpse.errors import InvalidRequest
from glimpse.services import Services
from glimpse.settings import query_limits

Method = Callable[[Services, RequestContext, dict[str, Any]], Any]


def _arg(args: dict[str, Any], name: str, kind: type = str) -> Any:
    if not isinstance(args.get(name), kind):
        raise InvalidRequest(f"The RPC argument '{name}' must be a {kind.__name__}.")
    return args[name]


def _list_images(services: Services, ctx: RequestContext, args: dict[str, Any]) -> Any:
    filters = args.get("filters") or {}
    if not isinstance(filters, dict):
        raise InvalidRequest("The RPC argument 'filters' must be an object of query parameters.")
    pairs = [(str(k), str(v)) for k, values in filters.items()
             for v in (values if isinstance(values, list) else [values])]
    query = parse_image_query(pairs, **query_limits(services.settings))
    return services.images.list(ctx, query)


def _update_image(services: Services, ctx: RequestContext, args: dict[str, Any]) -> Any:
    operations = parse_patch(args.get("patch"), Dialect.V21)
    return services.images.update(ctx, _arg(args, "image_id"), operations, Dialect.V21)


METHODS: dict[str, Method] = {
    "images.create": lambda s, ctx, a: s.images.create(ctx, _arg(a, "fields", dict)),
    "images.get": lambda s, ctx, a: s.images.get(ctx, _arg(a, "image_id")),
    "images.list": _list_images,
    "images.update": _update_image,
    "images.delete": lambda s, ctx, a: s.images.delete(ctx, _arg(a, "image_id")),
    "images.deactivate": lambda s, ctx, a: s.images.deactivate(ctx, _arg(a, "image_id")),
    "images.reactivate": lambda s, ctx, a: s.images.reactivate(ctx, _arg(a, "image_id")),
    "images.add_tag": lambda s, ctx, a: s.images.add_tag(ctx, _arg(a, "image_id"), _arg(a, "tag")),
    "images.remove_tag": lambda s, ctx, a: s.images.remove_tag(ctx, _arg(a, "image_id"), _arg(a, "tag")),
    "members.add": lambda s, ctx, a: s.members.add(ctx, _arg(a, "image_id"), _arg(a, "member_id")),
    "members.list": lambda s, ctx, a: s.members.list(ctx, _arg(a, "image_id")),
    "members.get": lambda s, ctx, a: s.members.get(ctx, _arg(a, "image_id"), _arg(a, "member_id")),
    "members.update": lambda s, ctx, a: s.members.update(ctx, _arg(a, "image_id"), _arg(a, "member_id"),
                                                          a.get("status")),
    "members.delete": lambda s, ctx, a: s.members.delete(ctx, _arg(a, "image_id"), _arg(a, "member_id")),
}
