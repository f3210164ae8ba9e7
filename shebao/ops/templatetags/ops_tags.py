from django import template

register = template.Library()


@register.filter
def duration_text(value) -> str:
    """A timedelta as 1 天 2 小时 3 分 4 秒 (the largest parts only)."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "天"), (hours, "小时"), (minutes, "分"), (secs, "秒")]
    shown = [f"{n} {u}" for n, u in parts if n][:2]
    return " ".join(shown) or "0 秒"
