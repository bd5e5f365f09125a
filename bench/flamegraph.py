"""A flame graph (SVG) from collapsed stacks ("frame;frame;... count" per line, py-spy's raw format),
so one py-spy per process gives both the picture and the numbers."""

import html
from dataclasses import dataclass, field
from pathlib import Path

WIDTH = 1600
ROW = 17
MIN_WIDTH = 0.5   # pixels; narrower frames are left out of the picture


@dataclass
class Node:
    name: str
    count: int = 0
    children: dict[str, "Node"] = field(default_factory=dict)


def tree(stacks: list[tuple[list[str], int]]) -> Node:
    root = Node("all")
    for frames, count in stacks:
        root.count += count
        node = root
        for frame in frames:
            node = node.children.setdefault(frame, Node(frame))
            node.count += count
    return root


def render(stacks: list[tuple[list[str], int]], title: str, out: Path) -> None:
    root = tree(stacks)
    depth = _depth(root)
    height = (depth + 2) * ROW + 30
    scale = WIDTH / root.count if root.count else 0.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             f'font-family="monospace" font-size="11">',
             f'<text x="4" y="16" font-size="14">{html.escape(title)} ({root.count} samples)</text>']

    def draw(node: Node, x: float, level: int) -> None:
        w = node.count * scale
        if w < MIN_WIDTH:
            return
        y = height - (level + 1) * ROW
        share = 100 * node.count / root.count
        hue = 20 + (hash(node.name) % 40)
        label = node.name if w > 7 * len(node.name) else node.name[: max(0, int(w / 7) - 2)] + ".."
        parts.append(f'<g><title>{html.escape(node.name)} ({node.count} samples, {share:.1f}%)</title>'
                     f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 1}" fill="hsl({hue},85%,60%)"/>'
                     + (f'<text x="{x + 2:.1f}" y="{y + ROW - 5}">{html.escape(label)}</text>' if w > 20 else "")
                     + "</g>")
        child_x = x
        for child in sorted(node.children.values(), key=lambda n: n.name):
            draw(child, child_x, level + 1)
            child_x += child.count * scale

    draw(root, 0.0, 0)
    parts.append("</svg>")
    out.write_text("\n".join(parts))


def _depth(node: Node) -> int:
    return 1 + max((_depth(c) for c in node.children.values()), default=0)
