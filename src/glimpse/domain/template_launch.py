"""What a rendered template launches: Nova's ``POST /servers`` body, or a Heat (HOT) template."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from glimpse.domain.templates import Template

HEAT_VERSION = "2018-08-31"
_HEAT_TYPES = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean",
               "array": "comma_delimited_list"}


def server_body(template: Template, cloud_config: str) -> dict[str, Any]:
    """The ``server`` object of Nova's create-server request (add a name, a flavor and networks;
    ``min_ram``/``min_disk`` tell which flavors fit)."""
    return {
        "imageRef": template.image_id,
        "user_data": base64.b64encode(cloud_config.encode()).decode("ascii"),
        "metadata": dict(template.metadata),
        "min_ram": template.min_ram,
        "min_disk": template.min_disk,
    }


def heat_template(template: Template, values: Mapping[str, Any], cloud_config: str) -> dict[str, Any]:
    """A HOT template starting one server from the template's image with the rendered user data.

    Each template parameter is a Heat parameter with its label, description,
    constraints and the value it was rendered with as default (secrets are
    ``hidden`` and get no default); a ``flavor`` parameter is added. The user
    data was rendered by Glimpse with those values, so the stack records what it
    was launched with.
    """
    parameters: dict[str, Any] = {
        "flavor": {"type": "string", "label": "Flavor", "description": "Flavor of the server",
                   **({"default": template.flavor_hint} if template.flavor_hint else {})},
    }
    for name, definition in template.parameters.items():
        parameters[f"param_{name}"] = _heat_parameter(definition, values.get(name))
    server: dict[str, Any] = {
        "image": template.image_id,
        "flavor": {"get_param": "flavor"},
        "user_data_format": "RAW",
        "user_data": cloud_config,
        "metadata": dict(template.metadata),
    }
    if template.networks_hint:
        server["networks"] = [{"network": n} for n in template.networks_hint]
    return {
        "heat_template_version": HEAT_VERSION,
        "description": template.description or f"{template.name} {template.version}",
        "parameters": parameters,
        "resources": {"server": {"type": "OS::Nova::Server", "properties": server}},
        "outputs": {"server_id": {"description": "The server's id", "value": {"get_resource": "server"}}},
    }


def _heat_parameter(definition: Mapping[str, Any], value: Any) -> dict[str, Any]:
    kind = str(definition.get("type", "string"))
    parameter: dict[str, Any] = {"type": _HEAT_TYPES.get(kind, "string")}
    if "title" in definition:
        parameter["label"] = definition["title"]
    if "description" in definition:
        parameter["description"] = definition["description"]
    if definition.get("secret"):
        parameter["hidden"] = True
    elif value is not None:
        parameter["default"] = ",".join(str(v) for v in value) if kind == "array" else value
    constraints: list[dict[str, Any]] = []
    if isinstance(definition.get("enum"), list):
        constraints.append({"allowed_values": list(definition["enum"])})
    if kind in ("integer", "number") and ("minimum" in definition or "maximum" in definition):
        constraints.append({"range": {k: definition[v] for k, v in (("min", "minimum"), ("max", "maximum"))
                                      if v in definition}})
    if kind == "string" and ("minLength" in definition or "maxLength" in definition):
        constraints.append({"length": {k: definition[v] for k, v in (("min", "minLength"), ("max", "maxLength"))
                                       if v in definition}})
    if kind == "string" and isinstance(definition.get("pattern"), str):
        constraints.append({"allowed_pattern": definition["pattern"]})
    if constraints:
        parameter["constraints"] = constraints
    return parameter
