"""Server template use cases: publish, find, list, change, delete, and render for a launch."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from glimpse.context import RequestContext
from glimpse.clock import utcnow
from glimpse.db.members import MemberRepository
from glimpse.db.templates import TemplateRepository
from glimpse.domain import template_documents, template_language, template_launch, template_parameters
from glimpse.domain.events import TemplateEvent
from glimpse.domain.images import Image, ImageStatus, Visibility
from glimpse.domain.patch import PatchOperation
from glimpse.domain.templates import (
    CONTENT_ATTRIBUTES,
    SEMVER,
    Template,
    TemplateQuery,
    audience_problem,
    is_visible_to,
    metadata_problems,
    version_key,
)
from glimpse.errors import (
    Forbidden,
    ImageNotFound,
    InvalidQuery,
    ParametersInvalid,
    TemplateImageUnavailable,
    TemplateImmutable,
    TemplateInvalid,
    TemplateNotFound,
    TemplateProtected,
)
from glimpse.extensions.manager import Extensions
from glimpse.policy import Policy
from glimpse.services.access import ImageAccess, normalize_image_id
from glimpse.services.events import actor

#: What cannot be stored about a template: ``(where, line, reason)``.
Problems = list[tuple[str, int | None, str]]
#: How often a change is re-read and re-applied after losing a race.
_MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class TemplatePage:
    templates: list[Template]
    next_marker: str | None


@dataclass(frozen=True)
class Rendering:
    """A rendered template: Nova's ``server`` body, the cloud-config text, or a Heat template."""

    server: dict[str, Any]
    cloud_config: str
    hints: dict[str, Any]
    heat: dict[str, Any] | None = None


_MISQUOTED = ("a value is output without '|shell' or '|line' in a {} part, where a YAML-quoted value is not "
              "safe")


def _newness(template: Template) -> tuple[bool, tuple[Any, ...]]:
    return "-" not in template.version, version_key(template.version)


class TemplateService:
    def __init__(self, templates: TemplateRepository, members: MemberRepository, images: ImageAccess,
                 policy: Policy, extensions: Extensions) -> None:
        self._templates = templates
        self._members = members
        self._images = images
        self._policy = policy
        self._extensions = extensions

    # -- visibility
    def target(self, ctx: RequestContext, template: Template, *, member: bool | None = None) -> dict[str, Any]:
        """What policy rules see of a template (the images' target shape)."""
        if member is None:
            member = self.is_member(ctx, template)
        return {"id": template.id, "name": template.name, "project_id": template.owner, "owner": template.owner,
                "visibility": template.visibility.value, "protected": template.protected,
                "member_id": ctx.project_id if member else None}

    def is_member(self, ctx: RequestContext, template: Template) -> bool:
        return (template.visibility is Visibility.SHARED and ctx.project_id is not None
                and template.owner != ctx.project_id
                and self._templates.member_status(template.id, ctx.project_id) is not None)

    def find(self, ctx: RequestContext, template_id: str) -> Template:
        """The template if it exists and the caller may see it; else :class:`TemplateNotFound`."""
        canonical = normalize_image_id(template_id)
        template = self._templates.get(canonical) if canonical else None
        if template is None:
            raise TemplateNotFound(template_id)
        member = self.is_member(ctx, template)
        if not is_visible_to(template, ctx.project_id, is_admin=ctx.is_admin, is_member=member) or \
                not self._policy.allowed("get_template", ctx, self.target(ctx, template, member=member)):
            raise TemplateNotFound(template_id)
        return template

    # -- reads
    def get(self, ctx: RequestContext, template_id: str) -> Template:
        return self.find(ctx, template_id)

    def list(self, ctx: RequestContext, query: TemplateQuery) -> TemplatePage:
        """A page of the templates the caller can see: the latest version of each, unless the
        query asks for ``all_versions`` or one ``version``."""
        self._policy.enforce("get_templates", ctx, {"project_id": ctx.project_id},
                             "You are not permitted to list templates.")
        found = self._templates.candidates(ctx.project_id, is_admin=ctx.is_admin, visibility=query.visibility,
                                           member_status=query.member_status, columns=query.columns)
        found = [t for t in found if set(query.tags) <= set(t.tags)
                 and self._policy.allowed("get_template", ctx, self.target(ctx, t, member=t.owner != ctx.project_id))]
        if query.version is not None:
            found = [t for t in found if t.version == query.version]
        elif not query.all_versions:
            latest: dict[tuple[str | None, str], Template] = {}
            for template in found:  # a release wins over pre-releases, then the highest version
                group = (template.owner, template.name)
                if group not in latest or _newness(template) > _newness(latest[group]):
                    latest[group] = template
            found = list(latest.values())
        key, direction = query.sort

        def order(t: Template) -> tuple[Any, ...]:
            value: Any = version_key(t.version) if key == "version" else getattr(t, key)
            return (value, t.created_at, t.id)

        found.sort(key=order, reverse=direction == "desc")
        if query.marker is not None:
            ids = [t.id for t in found]
            if query.marker not in ids:
                raise InvalidQuery(f"The marker {query.marker} is not a template in this listing.")
            found = found[ids.index(query.marker) + 1:]
        page = found[:query.limit]
        more = len(found) > query.limit and query.limit > 0
        return TemplatePage(page, page[-1].id if more else None)

    def parameters_schema(self, ctx: RequestContext, template_id: str) -> dict[str, Any]:
        """A JSON Schema of the template's parameters."""
        template = self.find(ctx, template_id)
        return template_parameters.json_schema(template.parameters,
                                               title=f"Parameters of {template.name} {template.version}")

    # -- writes
    def create(self, ctx: RequestContext, fields: Any) -> Template:
        """Publish a template version.

        Raises :class:`SchemaViolation`, :class:`TemplateInvalid` (each problem with its line),
        :class:`Forbidden`, :class:`TemplateImageUnavailable` and :class:`DuplicateTemplate`.
        """
        fields = template_documents.validate(fields)
        for name in ("name", "version", "image_id", "user_data"):
            if name not in fields:
                raise TemplateInvalid([(name, None, "is required")])
        owner = fields.get("owner", ctx.project_id)
        if owner != ctx.project_id and not ctx.is_admin:
            raise Forbidden(f"You are not permitted to create templates owned by '{owner}'.")
        self._policy.enforce("add_template", ctx, {"project_id": ctx.project_id, "owner": owner},
                             "You are not permitted to create templates in this project.")
        now = utcnow()
        template = self._checked(ctx, Template(
            id=str(uuid.uuid4()), name=fields["name"], version=fields["version"], owner=owner,
            visibility=Visibility(fields.get("visibility", Visibility.PRIVATE)), image_id=fields["image_id"],
            user_data=fields["user_data"], created_at=now, updated_at=now,
            parameters=fields.get("parameters") or {}, description=fields.get("description", ""),
            metadata=fields.get("metadata") or {}, min_ram=fields.get("min_ram", 0),
            min_disk=fields.get("min_disk", 0), flavor_hint=fields.get("flavor_hint"),
            networks_hint=tuple(fields.get("networks_hint") or ()), deprecated=fields.get("deprecated", False),
            protected=fields.get("protected", False), tags=tuple(sorted(set(fields.get("tags") or ()))),
        ), None)
        return self._templates.add(template, outbox=lambda stored: self._extensions.template_outbox(
            [TemplateEvent("template.create", stored, actor(ctx))]))

    def update(self, ctx: RequestContext, template_id: str, operations: Sequence[PatchOperation]
               ) -> tuple[Template, bool]:
        """Apply a JSON Patch: listing attributes change in place; a content change (which must
        come with a higher ``/version``) publishes a new version. Returns the template and
        whether it is a new version. Raises :class:`TemplateImmutable` for a content change
        without a new version, plus everything :meth:`create` raises.
        """
        for _ in range(_MAX_ATTEMPTS):
            current = self.find(ctx, template_id)
            self._policy.enforce("modify_template", ctx, self.target(ctx, current),
                                 f"You are not permitted to modify template {current.id}.")
            before = current.document()
            after = template_documents.validate(template_documents.apply_operations(before, operations))
            if after.get("name") != current.name or after.get("owner") != current.owner:
                raise Forbidden("A template's name and owner cannot change; publish a new template instead.")
            content_changed = any(after.get(k) != before[k] for k in CONTENT_ATTRIBUTES)
            if after.get("version") != current.version:
                return self._new_version(ctx, current, after), True
            if content_changed:
                raise TemplateImmutable(
                    f"Version {current.version} of template '{current.name}' is published and cannot change; "
                    "replace /version with a higher version to publish the change as a new version.")
            changed = current.replaced(
                visibility=Visibility(after["visibility"]), protected=after["protected"],
                deprecated=after["deprecated"], tags=tuple(sorted(set(after["tags"]))), updated_at=utcnow())
            if changed == current.replaced(updated_at=changed.updated_at):
                return current, False
            changed = self._checked(ctx, changed, current)
            stored = self._templates.update(current, changed, outbox=lambda s: self._extensions.template_outbox(
                [TemplateEvent("template.update", s, actor(ctx))]))
            if stored is not None:
                return stored, False
        raise TemplateImmutable(f"Template {template_id} is being changed concurrently; try again.")

    def _new_version(self, ctx: RequestContext, current: Template, after: dict[str, Any]) -> Template:
        version = after.get("version")
        if not isinstance(version, str) or SEMVER.match(version) is None:
            raise TemplateInvalid([("version", None, "must be a semantic version such as 1.2.0")])
        if version_key(version) <= version_key(current.version):
            raise TemplateImmutable(f"A new version must be higher than {current.version}; got {version}.")
        fields = {k: v for k, v in after.items() if k != "owner"}
        fields.setdefault("deprecated", False)
        fields["deprecated"] = False
        return self.create(ctx, {**fields, "owner": current.owner} if ctx.is_admin else fields)

    def delete(self, ctx: RequestContext, template_id: str) -> None:
        """Delete one version; :class:`TemplateProtected` while it is protected."""
        template = self.find(ctx, template_id)
        self._policy.enforce("delete_template", ctx, self.target(ctx, template),
                             f"You are not permitted to delete template {template.id}.")
        if template.protected:
            raise TemplateProtected(f"Template {template.id} is protected and cannot be deleted.")
        if not self._templates.delete(template, outbox=lambda gone: self._extensions.template_outbox(
                [TemplateEvent("template.delete", gone, actor(ctx))])):
            raise TemplateNotFound(template_id)

    def _checked(self, ctx: RequestContext, template: Template, before: Template | None) -> Template:
        """``template`` if it may be stored: version, parameters, user_data, metadata, visibility, image."""
        problems: Problems = []
        if SEMVER.match(template.version) is None:
            problems.append(("version", None, "must be a semantic version such as 1.2.0"))
        problems += [(f"parameters/{p.parameter}", None, p.reason)
                     for p in template_parameters.check_definitions(template.parameters)]
        problems += [("metadata", None, reason) for reason in metadata_problems(template.metadata)]
        if not problems:
            problems += self._user_data_problems(template)
        if problems:
            raise TemplateInvalid(problems)
        if before is None or template.visibility != before.visibility:
            self._check_visibility(ctx, template)
            self._check_image(ctx, template)
        return template

    def _user_data_problems(self, template: Template) -> Problems:
        try:
            template_language.compile_template(template.user_data, template.parameters)
        except template_language.TemplateRejected as exc:
            return [("user_data", exc.line, exc.reason)]
        samples = template_parameters.sample_values(template.parameters)
        try:
            sample = template_language.render(template.user_data, samples)
        except template_language.RenderFailed as exc:
            if not template_parameters.conforms(template.parameters, samples):
                return []  # a pattern the made-up values miss: the values will be checked when rendering
            return [("user_data", None, f"rendering with sample values failed: {exc.reason}")]
        if not sample.startswith("#cloud-config") and not sample.startswith("Content-Type: multipart/"):
            return [("user_data", 1, "must be a cloud-init document starting with '#cloud-config' "
                                     "(or a MIME multipart document)")]
        if sample.startswith("#cloud-config"):
            try:
                document = yaml.safe_load(sample)
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                return [("user_data", mark.line + 1 if mark else None, f"not valid YAML: {exc}")]
            if not isinstance(document, dict):
                return [("user_data", None, "a cloud-config document must be a YAML mapping")]
            return []
        try:
            template_language.document_structure(sample)
        except (yaml.YAMLError, ValueError) as exc:
            return [("user_data", None, f"not a valid MIME multipart document: {exc}")]
        return [("user_data", None, _MISQUOTED.format(kind)) for kind in template_language.misquoted_parts(
            template_language.render(template.user_data, samples, neutral=True))]

    def _check_visibility(self, ctx: RequestContext, template: Template) -> None:
        target = {**self.target(ctx, template, member=False), "owner": template.owner}
        if template.visibility is Visibility.PUBLIC:
            self._policy.enforce("publicize_template", ctx, target, "Only administrators can publish public templates.")
        if template.visibility is Visibility.COMMUNITY:
            self._policy.enforce("communitize_template", ctx, target,
                                 "You are not permitted to share templates with the community.")

    def _check_image(self, ctx: RequestContext, template: Template) -> None:
        try:
            image = self._images.find(ctx, template.image_id)
        except ImageNotFound:
            raise TemplateInvalid([("image_id", None, f"no image {template.image_id} that you can see")]) from None
        self._check_active(image)
        problem = audience_problem(template.visibility, image.visibility)
        if problem:
            raise TemplateImageUnavailable(f"Image {image.id}: {problem}.")

    @staticmethod
    def _check_active(image: Image) -> None:
        if image.status is not ImageStatus.ACTIVE:
            raise TemplateImageUnavailable(f"Image {image.id} is {image.status.value}; a template needs an active image.")

    # -- rendering
    def render(self, ctx: RequestContext, template_id: str, given: Any, *, heat: bool = False) -> Rendering:
        """Check every value and render the template for a launch by the caller.

        Raises :class:`ParametersInvalid` naming each bad or missing parameter (never its value),
        :class:`TemplateImageUnavailable` when the caller cannot launch the image, and
        :class:`TemplateNotFound`. Nothing is stored or logged: secrets appear only in the result.
        """
        template = self.find(ctx, template_id)
        self._policy.enforce("render_template", ctx, self.target(ctx, template),
                             f"You are not permitted to launch template {template.id}.")
        values, problems = template_parameters.fill(template.parameters, given)
        if problems:
            raise ParametersInvalid([(p.parameter, p.reason) for p in problems])
        try:
            image = self._images.find(ctx, template.image_id)
        except ImageNotFound:
            raise TemplateImageUnavailable(
                f"Image {template.image_id} of this template is not visible to your project; ask the template's "
                "owner to share the image with you (and accept it).") from None
        self._check_active(image)
        cloud_config = self._render_checked(template, values)
        hints = {"flavor": template.flavor_hint, "networks": list(template.networks_hint)}
        server = template_launch.server_body(template, cloud_config)
        document = template_launch.heat_template(template, values, cloud_config) if heat else None
        return Rendering(server=server, cloud_config=cloud_config, hints=hints, heat=document)

    def _render_checked(self, template: Template, values: dict[str, Any]) -> str:
        try:
            rendered = template_language.render(template.user_data, values)
            neutral = template_language.render(template.user_data, values, neutral=True)
        except template_language.RenderFailed as exc:
            if exc.kind == "line":  # name the values that have line breaks, never show them
                names = [n for n, v in values.items() if isinstance(v, str) and not v.isprintable()]
                raise ParametersInvalid([(n, exc.reason) for n in names] or [("user_data", exc.reason)]) from None
            raise ParametersInvalid([("user_data", exc.reason)]) from None
        misquoted = template_language.misquoted_parts(neutral)
        if misquoted:
            raise ParametersInvalid([("user_data", _MISQUOTED.format(kind)) for kind in misquoted])
        try:
            same = template_language.document_structure(rendered) == template_language.document_structure(neutral)
        except (yaml.YAMLError, ValueError):
            same = False
        if not same:
            raise ParametersInvalid([("user_data", "the values given change the structure of the cloud-config "
                                                   "document (a value used with 'line' or 'shell' in the "
                                                   "wrong place); refused")])
        return rendered
