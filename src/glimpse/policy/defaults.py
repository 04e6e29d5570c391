"""Default rules: Glance's secure role-based defaults, under Glance's rule names.

``%(project_id)s`` in a target is the image owner; ``%(member_id)s`` is the
caller's project when it is a member of the image; ``%(owner)s`` is the owner
a new image would get.
"""

from __future__ import annotations

ADMIN = "rule:context_is_admin"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
_VISIBLE = ("project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s "
            "or 'public':%(visibility)s or 'shared':%(visibility)s")
ADMIN_OR_PROJECT_MEMBER = f"{ADMIN} or ({PROJECT_MEMBER})"
ADMIN_OR_PROJECT_READER = f"{ADMIN} or ({PROJECT_READER})"
#: A metadef namespace target's ``project_id`` is its owner and ``visibility`` its visibility.
ADMIN_OR_READER_GET_NAMESPACE = f"{ADMIN} or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))"
METADEF_ADMIN = "rule:metadef_admin"

DEFAULT_RULES: dict[str, str] = {
    "context_is_admin": "role:admin",
    "service_api": "role:service or role:admin",
    "default": ADMIN,
    # images
    "add_image": f"{ADMIN} or ({PROJECT_MEMBER} and project_id:%(owner)s)",
    "get_image": f"{ADMIN} or (role:reader and ({_VISIBLE}))",
    "get_images": ADMIN_OR_PROJECT_READER,
    "modify_image": ADMIN_OR_PROJECT_MEMBER,
    "delete_image": ADMIN_OR_PROJECT_MEMBER,
    "publicize_image": ADMIN,
    "communitize_image": ADMIN_OR_PROJECT_MEMBER,
    "upload_image": ADMIN_OR_PROJECT_MEMBER,
    "download_image": f"{ADMIN} or (role:member and ({_VISIBLE}))",
    "deactivate": ADMIN_OR_PROJECT_MEMBER,
    "reactivate": ADMIN_OR_PROJECT_MEMBER,
    "get_image_location": ADMIN_OR_PROJECT_READER,
    "delete_image_location": ADMIN,
    # the locations API (2.17): services (Nova, Cinder) register data already in a store
    "add_image_location": "role:service",
    "fetch_image_location": "role:service",
    # server templates (sharing uses the member rules below, with the template as target)
    "add_template": f"{ADMIN} or ({PROJECT_MEMBER} and project_id:%(owner)s)",
    "get_template": f"{ADMIN} or (role:reader and ({_VISIBLE}))",
    "get_templates": ADMIN_OR_PROJECT_READER,
    "modify_template": ADMIN_OR_PROJECT_MEMBER,
    "delete_template": ADMIN_OR_PROJECT_MEMBER,
    "publicize_template": ADMIN,
    "communitize_template": ADMIN_OR_PROJECT_MEMBER,
    "render_template": f"{ADMIN} or (role:member and ({_VISIBLE}))",
    # sharing
    "add_member": ADMIN_OR_PROJECT_MEMBER,
    "delete_member": ADMIN_OR_PROJECT_MEMBER,
    "get_member": f"{ADMIN} or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))",
    "get_members": f"{ADMIN} or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))",
    "modify_member": f"{ADMIN} or (role:member and project_id:%(member_id)s)",
    # the image cache of the node answering (the cache extension)
    "cache_list": ADMIN,
    "cache_image": ADMIN,
    "cache_delete": ADMIN,
    # discovery
    "stores_info_detail": f"{ADMIN} or role:service",
    "tasks_api_access": ADMIN,
    "get_usage": f"{ADMIN} or role:reader",
    # metadata definitions catalog (reads: admin, owner's readers, or anyone for public namespaces)
    "metadef_default": "",
    "metadef_admin": ADMIN,
    "get_metadef_namespace": ADMIN_OR_READER_GET_NAMESPACE,
    "get_metadef_namespaces": ADMIN_OR_PROJECT_READER,
    "add_metadef_namespace": METADEF_ADMIN,
    "modify_metadef_namespace": METADEF_ADMIN,
    "delete_metadef_namespace": METADEF_ADMIN,
    "get_metadef_object": ADMIN_OR_READER_GET_NAMESPACE,
    "get_metadef_objects": ADMIN_OR_READER_GET_NAMESPACE,
    "add_metadef_object": METADEF_ADMIN,
    "modify_metadef_object": METADEF_ADMIN,
    "delete_metadef_object": METADEF_ADMIN,
    "get_metadef_property": ADMIN_OR_READER_GET_NAMESPACE,
    "get_metadef_properties": ADMIN_OR_READER_GET_NAMESPACE,
    "add_metadef_property": METADEF_ADMIN,
    "modify_metadef_property": METADEF_ADMIN,
    "remove_metadef_property": METADEF_ADMIN,
    "get_metadef_tag": ADMIN_OR_READER_GET_NAMESPACE,
    "get_metadef_tags": ADMIN_OR_READER_GET_NAMESPACE,
    "add_metadef_tag": METADEF_ADMIN,
    "add_metadef_tags": METADEF_ADMIN,
    "modify_metadef_tag": METADEF_ADMIN,
    "delete_metadef_tag": METADEF_ADMIN,
    "delete_metadef_tags": METADEF_ADMIN,
    "list_metadef_resource_types": ADMIN_OR_READER_GET_NAMESPACE,
    "get_metadef_resource_type": ADMIN_OR_READER_GET_NAMESPACE,
    "add_metadef_resource_type_association": METADEF_ADMIN,
    "remove_metadef_resource_type_association": METADEF_ADMIN,
    # image property subresource (Glimpse): reading follows get_image, writing modify_image
    "get_image_properties": "rule:get_image",
    "modify_image_property": "rule:modify_image",
}
