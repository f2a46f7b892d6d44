"""Recommendation and goal rows: course-to-course similarity computed nightly, and learners' weekly goals."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import Float, ForeignKeyConstraint, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from lms.db.base import Base, TenantScoped


class CourseSimilarity(TenantScoped, Base):
    """ "Learners who took `course_id` also took `similar_course_id`": item-to-item co-enrolment of this
    tenant's learners, the top few per course, replaced by the nightly run."""

    __tablename__ = "course_similarities"
    __tenant_table_args__ = (
        Index("ux_course_similarities", "tenant_id", "course_id", "similar_course_id", unique=True),
    )

    course_id: Mapped[UUID] = mapped_column(GUID())
    similar_course_id: Mapped[UUID] = mapped_column(GUID())
    together: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class LearningGoal(TenantScoped, Base):
    """A learner's weekly goal in minutes of learning."""

    __tablename__ = "learning_goals"
    __tenant_table_args__ = (
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        Index("ux_learning_goals_user", "tenant_id", "user_id", unique=True),
    )

    user_id: Mapped[UUID] = mapped_column(GUID())
    weekly_minutes: Mapped[int] = mapped_column(Integer)
