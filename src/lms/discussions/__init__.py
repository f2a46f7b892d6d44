"""Discussions: course threads and Q&A, replies, votes, follows, mentions and moderation."""
