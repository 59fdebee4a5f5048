"""A warning before a reload or a closed tab loses the session's pictures (or a run): the
browser's own "Leave site?" question, asked only while there is something to lose."""

from __future__ import annotations

# Installed once per page, in the page's own window (through the component frame, which is
# same-origin): the handler is made with the page's Function, so it outlives the frame.
SCRIPT = """<script>
const page = window.parent;
if (page && !page.__brushworkGuard) {
  page.__brushworkGuard = true;
  page.addEventListener("beforeunload",
    new page.Function("e", "e.preventDefault(); e.returnValue = ''; return '';"));
}
</script>"""


def warn_before_leaving(st) -> None:
    """Ask before the page is left or reloaded (the session's pictures live in this tab)."""
    st.iframe(SCRIPT, height=1)
