"""Assemble the drive: WsgiDAV with the Liasse provider, behind the gate, mounted at /dav."""

from __future__ import annotations

import logging

from wsgidav.wsgidav_app import WsgiDAVApp

from acl.db import Database
from acl.documents.blobs import open_store
from acl.documents.limits import Limits
from acl.rights.passwords import PasswordHasher
from config.settings import Settings
from davserver.changes import SyncCollection
from davserver.fastpath import FastPath
from davserver.gate import DriveGate
from davserver.locks import DatabaseLockStorage
from davserver.propfind import ListingCache
from davserver.provider import LiasseProvider
from davserver.unavailable import unavailable_is_503

MOUNT_PATH = "/dav"  # must equal the dispatcher prefix: WsgiDAV builds hrefs from it


def build_drive(settings: Settings, db: Database, hasher: PasswordHasher) -> DriveGate:
    drive = settings.drive
    limits = Limits.from_settings(drive)
    listings = ListingCache(drive.listing_cache_mib * 2**20) if drive.listing_cache_mib \
        else None
    provider = LiasseProvider(db, open_store(settings, serving=True), limits, listings=listings)
    config = {
        "provider_mapping": {"/": provider},
        "mount_path": MOUNT_PATH,
        # Authentication happens in DriveGate, before WsgiDAV: no HTTPAuthenticator here.
        "middleware_stack": [
            "wsgidav.error_printer.ErrorPrinter",
            unavailable_is_503(db.unavailable),  # inside ErrorPrinter, which makes a 500
            "wsgidav.dir_browser.WsgiDavDirBrowser",
            "wsgidav.request_resolver.RequestResolver",
        ],
        "http_authenticator": {"accept_basic": True, "accept_digest": False,
                               "default_to_digest": False},
        # Locks are rows (acl.documents.locks): every channel and every process sees them.
        "lock_storage": DatabaseLockStorage(db, drive.lock_max_seconds),
        "property_manager": None,  # dead properties live in the node_property table
        "block_size": drive.block_size_kib * 1024,
        "add_header_MS_Author_Via": True,
        "suppress_version_info": True,
        "hotfixes": {"re_encode_path_info": True, "emulate_win32_lastmod": False},
        "dir_browser": {"enable": True, "davmount": True, "davmount_links": False,
                        "ms_sharepoint_support": True, "libre_office_support": True,
                        "ignore": ["._*", ".DS_Store", "Thumbs.db", "desktop.ini", "~$*"],
                        "response_trailer": "Liasse", "show_user": True},
        "verbose": 1,
        "logging": {"enable": False},
    }
    wsgidav_log = logging.getLogger("wsgidav")
    wsgidav_log.setLevel(logging.WARNING)
    wsgidav_log.propagate = True  # WsgiDAV hides its errors (a 500's traceback) otherwise
    return DriveGate(WsgiDAVApp(config), db, hasher,
                     auth_cache_seconds=drive.auth_cache_seconds,
                     limits=limits, trusted_proxies=settings.server.trusted_proxies,
                     hot=provider.hot,
                     fast=FastPath(provider, config["block_size"]),
                     changes=SyncCollection(db, MOUNT_PATH))
