"""Image intake speed: a 12-megapixel phone JPEG through contest.media.images.process_image
(validate, strip metadata, renditions, hash) next to Pillow's bare decode-and-resize of
the same file, measured in the same run; then the renditions' sizes.

    python -m bench.images [--rounds 15]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

from PIL import Image, ImageDraw, ImageFilter

from contest.media.images import DISPLAY_SIZE, process_image, rendition_format, renditions_from_display


def phone_photo(orientation: int) -> bytes:
    """4000×3000 with detail everywhere (JPEG cost depends on content) and phone EXIF."""
    image = Image.radial_gradient("L").resize((4000, 3000)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for i in range(0, 4000, 37):
        draw.line((i, 0, 4000 - i, 3000), fill=(i % 251, (i * 7) % 253, 160), width=3)
    for i in range(0, 3000, 53):
        draw.ellipse((i, i // 2, i + 400, i // 2 + 300), outline=(30, (i * 3) % 255, 90), width=4)
    image = image.filter(ImageFilter.DETAIL)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "Model 12"
    exif[34853] = {1: "N", 2: (36.0, 40.0, 12.5), 3: "E", 4: (117.0, 7.0, 3.2)}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def bare(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    image.thumbnail((DISPLAY_SIZE, DISPLAY_SIZE))


def timed(fn, data: bytes, rounds: int) -> float:  # type: ignore[no-untyped-def]
    fn(data)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn(data)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(f"12-megapixel JPEG (4000×3000), {args.rounds} rounds, median ms")
    for orientation, label in ((1, "upright (orientation 1)"), (6, "rotated (orientation 6)")):
        data = phone_photo(orientation)
        base = timed(bare, data, args.rounds)
        full = timed(lambda d: process_image(d, min_width=1920, min_height=1080), data, args.rounds)
        print(f"  {label:26s} {len(data) / 1e6:5.1f} MB  bare decode+resize {base:7.1f} ms"
              f"  process_image {full:7.1f} ms  ratio {full / base:4.2f}")
    image = process_image(phone_photo(1))
    widths = timed(renditions_from_display, image.display, args.rounds)
    print(f"renditions (KB): JPEG thumbnail {len(image.thumb) / 1024:.1f}, JPEG display {len(image.display) / 1024:.1f}; "
          f"{rendition_format()[1]} " + ", ".join(f"{slot} px {len(data) / 1024:.1f}" for slot, data in image.renditions)
          + f"; making them from the display rendition {widths:.1f} ms")


if __name__ == "__main__":
    main()
