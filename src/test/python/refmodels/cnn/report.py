"""REPORT.md sections owned by the refmodels.cnn steps (kept by evaluate.write_report)."""
import os

REPORT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "resources",
                                       "models", "REPORT.md"))


def replace_section(name, lines):
    """Writes `lines` between `<!-- name: start -->` and `<!-- name: end -->` in REPORT.md,
    replacing what was there (or appending the section)."""
    start, end = f"<!-- {name}: start -->", f"<!-- {name}: end -->"
    text = open(REPORT, encoding="utf8").read()
    section = "\n".join([start] + lines + [end])
    if start in text:
        a, b = text.index(start), text.index(end) + len(end)
        text = text[:a] + section + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    open(REPORT, "w", encoding="utf8").write(text)
