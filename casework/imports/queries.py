"""Finding uploads (each is visible to the person who uploaded it, nobody else) and the
programme a file is imported into."""

from __future__ import annotations

from sqlalchemy import select

from casework.extensions import db
from casework.imports.models import ImportUpload
from casework.programmes.models import Programme
from casework.security import policies
from casework.security.models import User


def get_own_upload(user: User, upload_id: int) -> ImportUpload | None:
    upload = db.session.get(ImportUpload, upload_id)
    if upload is None or upload.uploaded_by_id != user.id:
        return None
    if not policies.can_import(user, upload.programme):
        return None
    return upload


def recent_uploads(user: User, programme: Programme, limit: int = 10) -> list[ImportUpload]:
    return list(
        db.session.scalars(
            select(ImportUpload)
            .where(
                ImportUpload.programme_id == programme.id, ImportUpload.uploaded_by_id == user.id
            )
            .order_by(ImportUpload.uploaded_at.desc(), ImportUpload.id.desc())
            .limit(limit)
        )
    )
