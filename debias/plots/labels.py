"""Label placement: name points without covering other points, labels or the legend.

:func:`place_labels` is a greedy search in display coordinates: each label (in the
order given, most important first) tries offsets in 18 directions at growing
distances (up to 140 points) and takes the nearest candidate (a leader line
passing over other points counts as farther) that

- lies inside the axes,
- overlaps no label placed before it, and not the legend,
- covers no data point (a label next to the wrong point misleads),
- is crossed by no leader line placed before it, and whose own leader line (drawn
  when the label sits away from its point) crosses no placed label or leader line.

A label that fits nowhere is dropped (the caller orders labels by importance).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> fig, ax = plt.subplots()
>>> _ = ax.scatter([0, 1, 2], [0, 1, 2])
>>> [t.get_text() for t in place_labels(ax, [0, 2], [0, 2], ["first", "last"])]
['first', 'last']
"""

from __future__ import annotations

import numpy as np

from debias.plots.common import SMALL

__all__ = ["get_renderer", "place_labels"]

_ANGLES = np.deg2rad(np.arange(0, 360, 20) + 10)
_RADII = (6.0, 12.0, 20.0, 32.0, 48.0, 70.0, 100.0, 140.0)  # points
_PAD = 2.0  # pixels between two labels
_MARKER = 5.0  # pixels around a data point kept free


def get_renderer(fig):
    """The figure's renderer (after a draw), for text extents."""
    try:
        return fig.canvas.get_renderer()
    except AttributeError:  # non-Agg canvases
        return fig._get_renderer()


def _segment_hits(p0, p1, bb, pad: float = 1.0) -> bool:
    """Whether the segment p0-p1 passes through the box (sampled; boxes are text-sized)."""
    t = np.linspace(0.0, 1.0, 40)
    xs = p0[0] + t * (p1[0] - p0[0])
    ys = p0[1] + t * (p1[1] - p0[1])
    return bool(
        np.any((xs > bb[0] - pad) & (xs < bb[2] + pad) & (ys > bb[1] - pad) & (ys < bb[3] + pad))
    )


def _segments_cross(a, b) -> bool:
    """Whether two segments properly intersect."""

    def orient(p, q, r):
        return np.sign((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

    (p1, p2), (p3, p4) = a, b
    return (
        orient(p1, p2, p3) * orient(p1, p2, p4) < 0 and orient(p3, p4, p1) * orient(p3, p4, p2) < 0
    )


def _boxes_overlap(a, b, pad: float = _PAD) -> bool:
    return not (
        a[2] + pad <= b[0] or b[2] + pad <= a[0] or a[3] + pad <= b[1] or b[3] + pad <= a[1]
    )


def _fixed_obstacles(ax, renderer) -> list[tuple[float, float, float, float]]:
    """Boxes already drawn in the axes that labels must not cover: the legend, other texts."""
    out = []
    legend = ax.get_legend()
    if legend is not None and legend.get_visible():
        out.append(tuple(legend.get_window_extent(renderer).extents))
    for t in ax.texts:
        if t.get_visible() and t.get_text().strip():
            out.append(tuple(t.get_window_extent(renderer).extents))
    return out


def place_labels(ax, xs, ys, labels, fontsize=SMALL, avoid=None):
    """Annotate points (data coordinates) with labels that overlap nothing, with leader lines.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Drawn data, legend and limits are final (the placement works in pixels).
    xs, ys : sequence of float
        Points to name, most important first.
    labels : sequence of str
    fontsize : float
    avoid : array of shape (n, 2), optional
        Every data point no label may cover (default: the labelled points).

    Returns
    -------
    list of matplotlib.text.Annotation
        The labels placed (those that fit nowhere are left out).
    """
    fig = ax.figure
    fig.canvas.draw()
    renderer = get_renderer(fig)
    box = ax.get_window_extent(renderer)
    pts = ax.transData.transform(np.column_stack([xs, ys]) if avoid is None else avoid)
    px_per_pt = fig.dpi / 72.0
    fixed = _fixed_obstacles(ax, renderer)
    boxes: list[tuple[float, float, float, float]] = []
    leaders: list[tuple[tuple[float, float], tuple[float, float]]] = []
    placed = []
    for x, y, label in zip(xs, ys, labels, strict=True):
        probe = ax.text(0, 0, label, fontsize=fontsize, transform=None)
        ext = probe.get_window_extent(renderer)
        probe.remove()
        w, h = ext.width, ext.height
        px, py = ax.transData.transform((x, y))
        best = None
        for r in _RADII:
            for ang in _ANGLES:
                cand = _candidate(px, py, r, ang, w, h, px_per_pt)
                bb, seg = cand[3], cand[4]
                if bb[0] < box.x0 or bb[2] > box.x1 or bb[1] < box.y0 or bb[3] > box.y1:
                    continue
                if any(_boxes_overlap(bb, o) for o in boxes + fixed):
                    continue
                if any(_segment_hits(*lead, bb) for lead in leaders):
                    continue
                if seg is not None and (
                    any(_segment_hits(*seg, o) for o in boxes + fixed)
                    or any(_segments_cross(seg, lead) for lead in leaders)
                ):
                    continue
                if _covers_point(bb, pts):
                    continue
                # nearest wins; a leader line over other points costs like 24 points farther
                cost = r + (24.0 * _points_crossed(seg, pts) if seg is not None else 0.0)
                if best is None or cost < best[0]:
                    best = (cost, r, ang, cand)
        if best is None:
            continue
        _, r, ang, (ha, va, _anchor, bb, seg) = best
        placed.append(_annotate(ax, x, y, label, r, ang, ha, va, seg, fontsize))
        boxes.append(bb)
        if seg is not None:
            leaders.append(seg)
    return placed


def _candidate(px, py, r, ang, w, h, px_per_pt):
    """Alignment, anchor, box and leader segment of a label at distance r, angle ang."""
    c, s = np.cos(ang), np.sin(ang)
    ha = "left" if c > 0.3 else "right" if c < -0.3 else "center"
    va = "bottom" if s > 0.3 else "top" if s < -0.3 else "center"
    ax0 = px + r * c * px_per_pt
    ay0 = py + r * s * px_per_pt
    x0 = ax0 if ha == "left" else ax0 - w if ha == "right" else ax0 - w / 2
    y0 = ay0 if va == "bottom" else ay0 - h if va == "top" else ay0 - h / 2
    seg = ((px, py), (ax0, ay0)) if r > 8 else None
    return ha, va, (ax0, ay0), (x0, y0, x0 + w, y0 + h), seg


def _covers_point(bb, pts) -> bool:
    return bool(
        np.any(
            (pts[:, 0] > bb[0] - _MARKER)
            & (pts[:, 0] < bb[2] + _MARKER)
            & (pts[:, 1] > bb[1] - _MARKER)
            & (pts[:, 1] < bb[3] + _MARKER)
        )
    )


def _points_crossed(seg, pts) -> int:
    """How many points (other than the segment's own start) lie within a marker of the segment."""
    (x0, y0), (x1, y1) = seg
    d = np.array([x1 - x0, y1 - y0])
    length2 = float(d @ d) or 1.0
    rel = pts - np.array([x0, y0])
    t = np.clip(rel @ d / length2, 0.0, 1.0)
    dist = np.hypot(*(rel - t[:, None] * d).T)
    own = np.hypot(*rel.T) < 1.0
    return int(np.sum((dist < _MARKER) & ~own))


def _annotate(ax, x, y, label, r, ang, ha, va, seg, fontsize):
    arrow = None
    if seg is not None:
        arrow = {
            "arrowstyle": "-",
            "color": "#444444",
            "lw": 0.7,
            "shrinkA": 0,
            "shrinkB": 3,
            # the line ends at the text's anchor corner, as assumed when placing it
            "relpos": (
                {"left": 0.0, "right": 1.0, "center": 0.5}[ha],
                {"bottom": 0.0, "top": 1.0, "center": 0.5}[va],
            ),
        }
    return ax.annotate(
        label,
        (x, y),
        xytext=(r * np.cos(ang), r * np.sin(ang)),
        textcoords="offset points",
        ha=ha,
        va=va,
        fontsize=fontsize,
        arrowprops=arrow,
        zorder=5,
    )
