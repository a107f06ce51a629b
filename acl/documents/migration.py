"""Moving an installation's bodies from one store to another (`liasse storage migrate`: the
local folder to an S3 bucket). Resumable: a body the target holds already, whole, is skipped;
each body copied is read back from the target and its sha256 checked before the next."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from acl.documents.blobs import BlobStore
from acl.errors import Refused


@dataclass
class Migration:
    total: int = 0
    copied: int = 0
    skipped: int = 0  # there already (an earlier run)
    bytes_copied: int = 0


def migrate(source: BlobStore, target: BlobStore,
            progress: Callable[[Migration, str], None] | None = None) -> Migration:
    """Copy every body of `source` missing from `target`; `Refused` when one does not read
    back intact (nothing is removed from `source`)."""
    hashes = sorted(source.all_hashes())
    done = Migration(total=len(hashes))
    for sha in hashes:
        size = source.size_of(sha)
        if size is not None and target.size_of(sha) == size:
            done.skipped += 1
        else:
            with source.open(sha) as body:
                stored, stored_size = target.put(body)
            if stored != sha or target.hash_of(sha) != sha:
                raise Refused(f"Le contenu {sha} ne se relit pas intact sur la destination "
                              f"(empreinte {stored}, {stored_size} octets) : migration "
                              "arrêtée, relancez-la après vérification.")
            done.copied += 1
            done.bytes_copied += stored_size
        if progress:
            progress(done, sha)
    return done
