"""Shared PDF helpers (ReportLab): the vendored CJK font (``fonts/wqy-zenhei.ttc``, embedded as a
subset, so a print looks the same on any machine) and paragraph styles in it. Used by the 老农保 结算单
(``rural_pension.statement``) and the 特殊业务 voucher (``finance.voucher``)."""

from __future__ import annotations

from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_FILE = Path(__file__).resolve().parent / "fonts" / "wqy-zenhei.ttc"
FONT = "WQYZenHei"


def register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(FONT_FILE), subfontIndex=0))


def style(size: float, *, align=None, leading: float | None = None, color=colors.black) -> ParagraphStyle:
    """A paragraph style in the CJK font."""
    para = ParagraphStyle(f"s{size}", fontName=FONT, fontSize=size, leading=leading or size * 1.35, textColor=color)
    if align is not None:
        para.alignment = align
    return para
