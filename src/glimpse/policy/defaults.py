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
    # sharing
    "add_member": ADMIN_OR_PROJECT_MEMBER,
    "delete_member": ADMIN_OR_PROJECT_MEMBER,
    "get_member": f"{ADMIN} or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))",
    "get_members": f"{ADMIN} or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))",
    "modify_member": f"{ADMIN} or (role:member and project_id:%(member_id)s)",
    # discovery
    "stores_info_detail": f"{ADMIN} or role:service",
    "get_usage": f"{ADMIN} or role:reader",
}
