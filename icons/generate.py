#!/usr/bin/env python3
"""Draws Flightdeck's app icons: a white paper plane on a dark blue rounded square.

Standard library only (PNG written with zlib), so it runs on a bare machine:
    python3 icons/generate.py
Tauri needs RGBA PNGs; it writes 32x32, 128x128, 128x128@2x (256) and icon.png (512), plus
icon.ico (PNG-in-ICO), which tauri-build requires for the Windows executable's resources.
"""

import pathlib
import struct
import zlib

BACKGROUND = (31, 58, 110)
WING = (255, 255, 255)
FOLD = (196, 211, 238)
SAMPLES = 3  # supersampling per axis, for anti-aliased edges

# Shapes in unit coordinates (0..1, y down).
MARGIN = 0.04
RADIUS = 0.22
TIP, LEFT, CREASE, TAIL = (0.80, 0.22), (0.17, 0.50), (0.45, 0.57), (0.55, 0.84)
WING_SHAPE = (TIP, LEFT, CREASE)
FOLD_SHAPE = (TIP, CREASE, TAIL)

SIZES = {"32x32.png": 32, "128x128.png": 128, "128x128@2x.png": 256, "icon.png": 512}


def in_rounded_square(x, y):
    lo, hi = MARGIN + RADIUS, 1 - MARGIN - RADIUS
    if not (MARGIN <= x <= 1 - MARGIN and MARGIN <= y <= 1 - MARGIN):
        return False
    dx = max(lo - x, 0, x - hi)
    dy = max(lo - y, 0, y - hi)
    return dx * dx + dy * dy <= RADIUS * RADIUS


def in_triangle(x, y, triangle):
    (ax, ay), (bx, by), (cx, cy) = triangle
    d1 = (x - bx) * (ay - by) - (ax - bx) * (y - by)
    d2 = (x - cx) * (by - cy) - (bx - cx) * (y - cy)
    d3 = (x - ax) * (cy - ay) - (cx - ax) * (y - ay)
    has_negative = d1 < 0 or d2 < 0 or d3 < 0
    has_positive = d1 > 0 or d2 > 0 or d3 > 0
    return not (has_negative and has_positive)


def sample(x, y):
    """The straight RGBA colour at one point."""
    if not in_rounded_square(x, y):
        return (0, 0, 0, 0)
    if in_triangle(x, y, WING_SHAPE):
        return WING + (255,)
    if in_triangle(x, y, FOLD_SHAPE):
        return FOLD + (255,)
    return BACKGROUND + (255,)


def render(size):
    rows = []
    n = SAMPLES * SAMPLES
    for py in range(size):
        row = bytearray([0])  # PNG filter type 0 (none) for each scanline
        for px in range(size):
            r = g = b = a = 0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = (px + (sx + 0.5) / SAMPLES) / size
                    y = (py + (sy + 0.5) / SAMPLES) / size
                    cr, cg, cb, ca = sample(x, y)
                    # Premultiply while averaging so transparent samples add no colour.
                    r, g, b, a = r + cr * ca, g + cg * ca, b + cb * ca, a + ca
            if a:
                row += bytes((round(r / a), round(g / a), round(b / a), round(a / n)))
            else:
                row += bytes(4)
        rows.append(bytes(row))
    return b"".join(rows)


def png(size, pixels):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels, 9))
        + chunk(b"IEND", b"")
    )


def ico(pngs):
    """An ICO holding PNG images (valid since Windows Vista); `pngs` maps size to PNG bytes."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = len(header) + 16 * len(pngs)
    entries, images = b"", b""
    for size, data in pngs.items():
        side = size % 256  # 0 means 256 in an ICO directory entry
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset)
        images += data
        offset += len(data)
    return header + entries + images


def main():
    out = pathlib.Path(__file__).resolve().parent
    pngs = {}
    for name, size in SIZES.items():
        pngs[size] = png(size, render(size))
        (out / name).write_bytes(pngs[size])
        print(f"wrote {out / name}")
    ico_sizes = (32, 128, 256)
    (out / "icon.ico").write_bytes(ico({size: pngs[size] for size in ico_sizes}))
    print(f"wrote {out / 'icon.ico'}")


if __name__ == "__main__":
    main()
