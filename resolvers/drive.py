"""The drive's operations in one place, for the schema: folders, files, versions, shares, links.

Each lives in a module of its own, which the drive's modules import directly (importing this
one from them would be a cycle):

- `drive_access`: views of items, versions and shares, and who reaches them;
- `drive_listings`: a folder's items, the trash, what is shared with me or a channel, usage;
- `drive_items`: create, rename, move, trash, restore and delete; restore a version;
- `drive_shares`: shares with people and channels, public share links;
- `drive_uploads` and `drive_downloads`: file contents in and out (`transfers`: their error);
- `persistence/drive.py`: the rows, sealed.
"""

from __future__ import annotations

from resolvers.drive_access import (
    MAX_SHARES_PER_ITEM,
    ItemView,
    ShareLinkView,
    ShareView,
    VersionView,
    blob_key,
    get_item,
    get_item_of_kind,
    get_version,
    item_access,
    name_ref,
    person,
    root_folder,
    share_links,
    shares,
    version_ref,
)
from resolvers.drive_items import (
    create_folder,
    delete_item,
    move_item,
    rename_item,
    restore_item,
    restore_version,
    trash_item,
)
from resolvers.drive_listings import (
    DriveUsage,
    children,
    searchable_files,
    shared_with_channel,
    shared_with_me,
    trash,
    usage,
)
from resolvers.drive_shares import (
    ShareLinkVersion,
    create_share_link,
    revoke_share_link,
    share_item,
    unshare_item,
)
from resolvers.drive_uploads import create_upload

__all__ = [
    "MAX_SHARES_PER_ITEM",
    "DriveUsage",
    "ItemView",
    "ShareLinkVersion",
    "ShareLinkView",
    "ShareView",
    "VersionView",
    "blob_key",
    "children",
    "create_folder",
    "create_share_link",
    "create_upload",
    "delete_item",
    "get_item",
    "get_item_of_kind",
    "get_version",
    "item_access",
    "move_item",
    "name_ref",
    "person",
    "rename_item",
    "restore_item",
    "restore_version",
    "revoke_share_link",
    "root_folder",
    "searchable_files",
    "share_item",
    "share_links",
    "shared_with_channel",
    "shared_with_me",
    "shares",
    "trash",
    "trash_item",
    "unshare_item",
    "usage",
    "version_ref",
]
