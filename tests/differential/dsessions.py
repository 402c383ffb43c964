"""Session factories of their own module (issue 18): the plugin reads each one's
``expire_on_commit`` where a scenario makes its session (``dsessions.keep(bind=...)``)."""

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import sessionmaker

keep = async_sessionmaker(expire_on_commit=False)
plain = async_sessionmaker()
sync_keep = sessionmaker(expire_on_commit=False)
sync_plain = sessionmaker()
