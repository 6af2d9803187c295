"""Spam training on 0.16 (placeholder, filled below)."""


def run_spam_task(sb, maintenance_type) -> None:
    return None
