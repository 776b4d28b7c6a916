"""The revocation epoch: one counter bumped by every change that can revoke a token.

Workers cache token state in memory and trust an entry only while the epoch they read
before loading it is still current, so a revocation committed by any worker or instance
invalidates every cache on the next request.
"""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

EPOCH_ROW_ID = 1


class TokenStateEpoch(Base):
    __tablename__ = "token_state_epoch"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
